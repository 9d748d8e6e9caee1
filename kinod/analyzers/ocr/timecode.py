"""Burned-in timecode: a window of HH:MM:SS:FF in the picture, checked against the clip's own TC.

Why check it: a proxy or a dailies transfer with a burned-in window that disagrees with
the file's timecode sends an editor to the wrong frame in the online; a differing
window is a ``problem`` marker. Why keep it out of the text index: the numbers change on
every frame and match every timecode search; the item carries ``kind = "burned_in_tc"``,
which the OCR reader skips.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from kinod.analyzers.base import ClipInfo, Marker
from kinod.analyzers.ocr.engine import TextBox
from kinod.media.timecode import frames_per_day, frames_to_tc, tc_to_frames

KIND = "burned_in_tc"
#: Frames of disagreement tolerated (one sampled picture may sit between two labels).
TOLERANCE = 1


def timecode_item(t: TextBox, label: str, frame: int, clip: ClipInfo) -> dict[str, Any]:
    """The item for a timecode window read at ``frame``: its label, the clip's TC there, the offset."""
    rate = Fraction(clip.rate) if clip.rate else Fraction(25)
    expected = clip.start_tc_frames + frame
    item: dict[str, Any] = {
        "kind": KIND,
        "text": t.text,
        "tc": label,
        "confidence": round(t.confidence, 4),
        "box": list(t.box),
        "frame": frame,
        "start_frame": frame,
        "end_frame": frame + 1,
        "clip_tc": frames_to_tc(expected, rate, clip.drop_frame),
    }
    try:
        read = tc_to_frames(label, rate, clip.drop_frame)
    except ValueError:
        item["offset_frames"] = None
        return item
    day = frames_per_day(rate, clip.drop_frame)
    offset = (read - expected) % day
    item["offset_frames"] = offset - day if offset > day // 2 else offset
    return item


def tc_summary(items: list[dict[str, Any]]) -> dict[str, Any]:
    """How many windows were read and whether they agree with the clip's TC."""
    offsets = [it["offset_frames"] for it in items if it.get("offset_frames") is not None]
    off = sorted(offsets)[len(offsets) // 2] if offsets else None
    return {
        "reads": len(items),
        "first": items[0]["tc"],
        "offset_frames": off,
        "agrees": off is not None and abs(off) <= TOLERANCE,
    }


def tc_markers(items: list[dict[str, Any]]) -> list[Marker]:
    """A problem marker at the first window whose label differs from the clip's TC by more than a frame."""
    for it in items:
        off = it.get("offset_frames")
        if off is not None and abs(off) > TOLERANCE:
            return [
                Marker(
                    category="problem",
                    frame=int(it["frame"]),
                    name="Burned-in timecode differs from the clip's timecode",
                    comment=f"ocr: the picture shows {it['tc']}, the clip's TC here is {it['clip_tc']} "
                    f"({off:+d} frames)",
                )
            ]
    return []
