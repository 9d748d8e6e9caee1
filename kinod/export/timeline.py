"""Sidecar -> OpenTimelineIO: the one model every marker writer starts from.

A clip becomes a timeline with one track holding one clip that references the
original by absolute file URL. Times are on the source timecode axis (available
range starts at the clip's start TC as a frame count), which is what NLEs show and
what relinking expects. Each sidecar marker becomes an ``otio.schema.Marker`` whose
metadata under ``"kinod"`` keeps the category, analyzer, comment and confidence, so
format writers need nothing but the timeline.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

from kinod.fsutil import atomic_write_text

#: Default marker colour per category (OTIO's named colours; writers map them further).
CATEGORY_COLORS: dict[str, str] = {
    "shot": otio.schema.MarkerColor.BLUE,
    "black": otio.schema.MarkerColor.BLACK,
    "freeze": otio.schema.MarkerColor.ORANGE,
    "inactive": otio.schema.MarkerColor.YELLOW,
    "silence": otio.schema.MarkerColor.WHITE,
    "speech": otio.schema.MarkerColor.GREEN,
    "face": otio.schema.MarkerColor.PINK,
    "person": otio.schema.MarkerColor.MAGENTA,
    "text": otio.schema.MarkerColor.CYAN,
    "tag": otio.schema.MarkerColor.PURPLE,
    "problem": otio.schema.MarkerColor.RED,
}


def _rate(sidecar: dict[str, Any]) -> Fraction:
    return Fraction(sidecar["timeline"]["rate"])


def clip_timeline(sidecar: dict[str, Any], colors: dict[str, str] | None = None) -> otio.schema.Timeline:
    """One clip's timeline with all its markers. Raises ValueError for a sidecar without video time."""
    if not sidecar.get("timeline"):
        raise ValueError(f"{sidecar['source']['path']}: sidecar has no timeline (clip failed to probe)")
    colors = {**CATEGORY_COLORS, **(colors or {})}
    tl_info = sidecar["timeline"]
    rate = float(_rate(sidecar))
    start = int(tl_info["start_tc_frames"])
    frames = max(int(tl_info["frames"]), 1)
    source = sidecar["source"]
    name = source["name"]
    available = otio.opentime.TimeRange(
        otio.opentime.RationalTime(start, rate), otio.opentime.RationalTime(frames, rate)
    )
    ref = otio.schema.ExternalReference(
        target_url=otio.url_utils.url_from_filepath(source["path"]), available_range=available
    )
    ref.metadata["kinod"] = {"fingerprint": source.get("fingerprint"), "size": source.get("size")}
    clip = otio.schema.Clip(name=name, media_reference=ref, source_range=available)
    clip.metadata["kinod"] = {
        "rate": tl_info["rate"],
        "start_tc": tl_info["start_tc"],
        "drop_frame": tl_info["drop_frame"],
        "reel": (sidecar.get("probe") or {}).get("reel"),
        "sidecar_schema": f"{sidecar['schema']}/{sidecar['schema_version']}",
    }
    for m in sidecar.get("markers", []):
        marker = otio.schema.Marker(
            name=m["name"],
            marked_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(start + m["frame"], rate),
                otio.opentime.RationalTime(m.get("duration_frames", 0), rate),
            ),
            color=colors.get(m["category"], otio.schema.MarkerColor.RED),
        )
        marker.metadata["kinod"] = {
            "category": m["category"],
            "analyzer": m.get("analyzer"),
            "comment": m.get("comment", ""),
            "confidence": m.get("confidence"),
            "frame": m["frame"],
            "tc": m.get("tc"),
        }
        clip.markers.append(marker)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(clip)
    timeline = otio.schema.Timeline(name=name, global_start_time=otio.opentime.RationalTime(start, rate))
    timeline.tracks.append(track)
    timeline.metadata["kinod"] = {"source": source["path"], "drop_frame": tl_info["drop_frame"]}
    return timeline


def write_otio(timeline: otio.schema.Timeline, path: Path) -> Path:
    atomic_write_text(path, otio.adapters.write_to_string(timeline, "otio_json"))
    return path
