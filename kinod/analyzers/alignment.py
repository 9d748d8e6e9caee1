"""Time ranges from text, snapped to shot cuts (FineVideo's rule: trust a range only at a cut).

Why its own module: an LLM's scene annotations ("1:05"-"end"), speech-derived topic
segments and scene bounds all land between frames that editors will cut on; snapping
each boundary to the nearest detected cut within ``snap_s`` (2 s) makes them line up
with the picture, and recording per boundary whether it snapped (and how far) keeps
the result honest. A boundary the clip cannot hold (past its end by more than
``reject_s``) rejects its range, with the reason, instead of quietly clamping it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")
_UNITS = re.compile(r"^(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m(?:in)?)?\s*(?:(\d+(?:\.\d+)?)\s*s(?:ec)?)?$")


class TimeParseError(ValueError):
    """A time text that is none of the accepted forms."""


def parse_time(text: Any, duration_s: float) -> float:
    """Seconds from lenient text: "1:05", "01:02:03.5", "65s", "65", "1m5s", "2 min", "start", "end"."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    if not isinstance(text, str):
        raise TimeParseError(f"not a time: {text!r}")
    t = text.strip().lower()
    if t in ("end", "the end", "eof", "last"):
        return float(duration_s)
    if t in ("start", "beginning", "begin", "0"):
        return 0.0
    m = _CLOCK.match(t)
    if m:
        h, mi, s = m.groups()
        return int(h or 0) * 3600 + int(mi) * 60 + float(s)
    try:
        return float(t)
    except ValueError:
        pass
    m = _UNITS.match(t)
    if m and any(m.groups()):
        h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        return h * 3600 + mi * 60 + s
    raise TimeParseError(f"not a time: {text!r} (use 1:05, 65s, 1m5s or end)")


@dataclass(frozen=True)
class Boundary:
    """One boundary after snapping: where it is, whether it moved to a cut, and how far (frames)."""

    frame: int
    snapped_to_cut: bool
    distance_frames: int


def snap(frame: int, cuts: Sequence[int], rate: float, snap_s: float) -> Boundary:
    """The nearest cut within ``snap_s`` seconds (clip start and end count as cuts), else the frame itself."""
    if not cuts:
        return Boundary(frame, False, 0)
    i = bisect.bisect_left(cuts, frame)
    near = [c for c in (cuts[i - 1] if i > 0 else None, cuts[i] if i < len(cuts) else None) if c is not None]
    best = min(near, key=lambda c: (abs(c - frame), c))
    if abs(best - frame) <= snap_s * rate + 1e-9:
        return Boundary(best, True, best - frame)
    return Boundary(frame, False, 0)


def snap_range(
    start: Any, end: Any, *, cuts: Sequence[int], rate: float, frames: int, snap_s: float, reject_s: float
) -> tuple[dict[str, Any] | None, str | None]:
    """A range from text or seconds, snapped: (fields for the item, None) or (None, why it was rejected).

    ``cuts`` are shot-start frames; the clip's first frame and its end are added. The fields
    are start_frame/end_frame and, per boundary, ``*_snapped_to_cut`` and ``*_snap_frames``.
    """
    duration = frames / rate if rate else 0.0
    try:
        s_sec, e_sec = parse_time(start, duration), parse_time(end, duration)
    except TimeParseError as e:
        return None, str(e)
    out: dict[str, Any] = {}
    points = sorted({0, frames, *(c for c in cuts if 0 < c < frames)})
    for side, sec in (("start", s_sec), ("end", e_sec)):
        raw = round(sec * rate)
        clamped = min(max(raw, 0), frames)
        if abs(clamped - raw) > reject_s * rate:
            return None, f"{side} {sec:.2f} s lies outside the clip (0-{duration:.2f} s) by more than {reject_s:g} s"
        b = snap(clamped, points, rate, snap_s)
        if abs(b.frame - raw) > reject_s * rate:
            return None, f"{side} would move more than {reject_s:g} s"
        out[f"{side}_frame"] = b.frame
        out[f"{side}_snapped_to_cut"] = b.snapped_to_cut
        out[f"{side}_snap_frames"] = b.distance_frames
    if out["end_frame"] <= out["start_frame"]:
        return None, f"empty range after snapping ({start!r} - {end!r})"
    return out, None
