"""People tracks: each range of a known person as a clip of its own, above the footage.

An editor looking for "every shot of the mayor" wants ranges they can see and cut, not
only markers: every ranged ``face`` marker of a known person (a name, or a registry id
until named) becomes a clip named after the person on a video track "People" above V1,
cut from the same media at the same frames. Two people on screen at once go on two
lanes ("People", "People 2"). Writers that read V1 only (EDL, FCPXML, Avid) are not
affected; OTIO carries the tracks as they are and FCP7 XML writes them as V2, V3...
"""

from __future__ import annotations

import copy
from typing import Any

import opentimelineio as otio


def person_of(marker: dict[str, Any]) -> str | None:
    """The person a sidecar marker shows, None for an unknown face or any other marker."""
    name = str(marker.get("name") or "")
    if marker.get("category") != "face" or not marker.get("duration_frames") or not name or name.startswith("face "):
        return None
    return name


#: (record frame, frames, person, footage clip, source frame) of one range.
PersonRange = tuple[int, int, str, otio.schema.Clip, int]


def people_ranges(clip: otio.schema.Clip, record_start: int) -> list[PersonRange]:
    """The ranges of each person marker on a clip placed at ``record_start``."""
    out = []
    clip_start = int(clip.source_range.start_time.value)
    for m in clip.markers:
        meta = m.metadata.get("kinod") or {}
        person = person_of({"category": meta.get("category"), "name": m.name,
                            "duration_frames": int(m.marked_range.duration.value)})  # fmt: skip
        if person:
            src = int(m.marked_range.start_time.value)
            out.append((record_start + src - clip_start, int(m.marked_range.duration.value), person, clip, src))
    return out


def add_people_tracks(timeline: otio.schema.Timeline, ranges: list[PersonRange], rate: float) -> None:
    """Put the ranges on as many "People" video tracks as overlaps need (record frames from the start)."""
    lanes: list[tuple[otio.schema.Track, list[int]]] = []
    for start, frames, person, footage, src_start in sorted(ranges, key=lambda r: (r[0], r[2])):
        lane = next((ln for ln in lanes if ln[1][0] <= start), None)
        if lane is None:
            name = "People" if not lanes else f"People {len(lanes) + 1}"
            lane = (otio.schema.Track(name=name, kind=otio.schema.TrackKind.Video), [0])
            lanes.append(lane)
        track, cursor = lane
        if start > cursor[0]:
            track.append(otio.schema.Gap(duration=otio.opentime.RationalTime(start - cursor[0], rate)))
        item = otio.schema.Clip(
            name=person,
            media_reference=copy.deepcopy(footage.media_reference),
            source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(src_start, rate), otio.opentime.RationalTime(frames, rate)
            ),
        )
        src = footage.metadata.get("kinod", {})
        item.metadata["kinod"] = {"person": person, "path": src.get("path"), "fingerprint": src.get("fingerprint")}
        track.append(item)
        cursor[0] = start + frames
    for track, _ in lanes:
        timeline.tracks.append(track)
