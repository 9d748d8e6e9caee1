"""Search hits → a selects timeline for the NLE, written by the existing export writers.

Each hit becomes one clip on V1: the original, trimmed to the hit's time range plus
handles on both sides (clamped to the clip), with its source timecode intact so the
NLE relinks and conforms it like any other kinod export. The clip's own markers inside
the trimmed range are kept, and one marker per hit names what was found. Clips whose
rate differs from the timeline's (the rate most hits share) cannot sit in one EDL or
sequence at their own frames, so they are left out and listed in the metadata.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

from kinod.contracts import catalog
from kinod.export.sidecar import SidecarError, read_sidecar
from kinod.export.timeline import clean_text, clip_timeline
from kinod.export.writers import get_writer
from kinod.export.writers.options import ExportOptions
from kinod.library.index.search import Hit, plain_snippet
from kinod.media.timecode import format_rate, parse_rate, seconds_to_frame, supports_drop_frame, tc_to_frames

#: Marker category of a hit, by the kind of entry it came from.
HIT_CATEGORY = {"words": "speech", "ocr": "text", "person": "person", "problem": "problem"}


class SelectsError(ValueError):
    """No hit could be placed on a timeline; the message says why."""


def _trimmed(hit: Hit, sidecar: dict[str, Any], handles_s: float) -> tuple[otio.schema.Clip, Fraction, bool]:
    tl = clip_timeline(sidecar)
    clip = copy.deepcopy(tl.tracks[0][0])
    meta = tl.metadata["kinod"]
    rate = parse_rate(meta["rate"])
    fr = float(rate)
    avail = clip.source_range
    first = round(avail.start_time.value)
    total = round(avail.duration.value)
    start = min(max(seconds_to_frame(Fraction(max(hit.start_s - handles_s, 0.0)).limit_denominator(10**6), rate), 0),
                total - 1)
    end = seconds_to_frame(Fraction(hit.end_s + handles_s).limit_denominator(10**6), rate) + 1
    end = max(start + 1, min(end, total))
    clip.source_range = otio.opentime.TimeRange(
        otio.opentime.RationalTime(first + start, fr), otio.opentime.RationalTime(end - start, fr)
    )
    kept = [m for m in clip.markers if first + start <= round(m.marked_range.start_time.value) < first + end]
    clip.markers[:] = []
    for m in kept:
        clip.markers.append(m)
    category = HIT_CATEGORY.get(hit.kind, "tag")
    hit_frame = seconds_to_frame(Fraction(hit.start_s).limit_denominator(10**6), rate)
    hit_end = max(hit_frame + 1, seconds_to_frame(Fraction(hit.end_s).limit_denominator(10**6), rate))
    note = clean_text(plain_snippet(hit.snippet))[:200]
    marker = otio.schema.Marker(
        name=clean_text(f"{hit.kind}: {note}")[:80],
        marked_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(first + min(hit_frame, end - 1), fr),
            otio.opentime.RationalTime(max(1, min(hit_end, end) - min(hit_frame, end - 1)), fr),
        ),
        color=catalog.category_colors().get(category, otio.schema.MarkerColor.PURPLE),
        comment=note,
    )
    marker.metadata["kinod"] = {"category": category, "analyzer": "search", "comment": note, "note": note,
                                "confidence": round(hit.score, 3), "frame": min(hit_frame, end - 1)}
    marker.metadata["Resolve_OTIO"] = {"Note": note, "Keywords": []}
    clip.markers.append(marker)
    return clip, rate, bool(meta.get("drop_frame"))


def selects_timeline(hits: Sequence[Hit], name: str = "selects", handles_s: float = 2.0) -> otio.schema.Timeline:
    """The hits, in the order given, as one timeline. Raises SelectsError when none can be placed."""
    placed: list[tuple[otio.schema.Clip, Fraction, bool]] = []
    excluded: list[dict[str, str]] = []
    cache: dict[str, dict[str, Any] | None] = {}
    for hit in hits:
        if hit.sidecar not in cache:
            try:
                cache[hit.sidecar] = read_sidecar(Path(hit.sidecar))
            except SidecarError as e:
                cache[hit.sidecar] = None
                excluded.append({"path": hit.path, "why": str(e)})
        sc = cache[hit.sidecar]
        if sc is None:
            continue
        try:
            placed.append(_trimmed(hit, sc, handles_s))
        except (ValueError, KeyError, IndexError) as e:
            excluded.append({"path": hit.path, "why": f"cannot be placed: {e}"})
    if not placed:
        raise SelectsError("no hit could be placed on a timeline" + (f": {excluded[0]['why']}" if excluded else ""))
    rate = Counter(r for _, r, _ in placed).most_common(1)[0][0]
    drop = Counter(d for _, r, d in placed if r == rate).most_common(1)[0][0] and supports_drop_frame(rate)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for clip, clip_rate, _ in placed:
        if clip_rate != rate:
            excluded.append({"path": clip.metadata["kinod"]["path"],
                             "why": f"rate {format_rate(clip_rate)} differs from the selects' {format_rate(rate)}"})
            continue
        track.append(clip)
    start = tc_to_frames("01:00:00;00" if drop else "01:00:00:00", rate)
    timeline = otio.schema.Timeline(name=name, global_start_time=otio.opentime.RationalTime(start, float(rate)))
    timeline.tracks.append(track)
    timeline.metadata["kinod"] = {"kind": "selects", "rate": format_rate(rate), "drop_frame": drop,
                                  "excluded": excluded}
    return timeline


def write_selects(
    hits: Sequence[Hit], dest: Path, fmt: str, options: ExportOptions | None = None, handles_s: float = 2.0
) -> Path:
    """Write the hits as ``fmt`` (any export format: otio, edl, resolve-edl, fcp7, fcpxml) to ``dest``."""
    timeline = selects_timeline(hits, Path(dest).stem, handles_s)
    return get_writer(fmt).write(timeline, Path(dest), options or ExportOptions())
