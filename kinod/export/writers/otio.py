"""Native OpenTimelineIO (``.otio``): the model itself, for Resolve 18.5+ and pipeline tools.

OTIO's own JSON adapter is exact, so it is used as is; Resolve reads the marker
colour from ``Marker.color`` and the note from ``metadata["Resolve_OTIO"]["Note"]``.

``export.otio_target_version`` names an older OTIO release; the file is then written
with OTIO's own downgrade functions (``versioning.fetch_map`` passed as
``target_schema_versions``), so an NLE bundling that release reads ``Clip.1`` instead of
failing on ``Clip.2``. OTIO keeps the downgrade rules, so we write none of our own.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from kinod.export.writers.base import ReadMarker, Writer
from kinod.export.writers.options import ExportOptions
from kinod.media.fsutil import atomic_write_text


def otio_text(timeline: otio.schema.Timeline, target_version: str = "") -> str:
    """OTIO JSON of ``timeline``, downgraded to ``target_version``'s schemas when one is named."""
    if not target_version:
        return otio.adapters.write_to_string(timeline, "otio_json")
    schemas = otio.versioning.fetch_map("OTIO_CORE", target_version)
    return otio.adapters.write_to_string(timeline, "otio_json", target_schema_versions=schemas)


class OtioWriter(Writer):
    format = "otio"
    suffix = ".otio"
    description = "OpenTimelineIO JSON (Resolve 18.5+, pipeline tools)"

    def write(self, timeline: otio.schema.Timeline, dest: Path, opts: ExportOptions) -> Path:
        atomic_write_text(dest, otio_text(timeline, opts.otio_target_version))
        return dest

    def read(self, path: Path, rate: Fraction | None = None) -> list[ReadMarker]:
        timeline = otio.adapters.read_from_file(str(path), "otio_json")
        out: list[ReadMarker] = []
        for clip in timeline.find_clips():
            clip_rate = clip.source_range.start_time.rate
            origin = round(clip.source_range.start_time.value)
            record = round(clip.range_in_parent().start_time.rescaled_to(clip_rate).value)
            if timeline.global_start_time is not None:
                record += round(timeline.global_start_time.rescaled_to(clip_rate).value)
            for m in clip.markers:
                frame = round(m.marked_range.start_time.rescaled_to(clip_rate).value) - origin
                out.append(
                    ReadMarker(
                        name=m.name,
                        frame=frame,
                        record_frame=record + frame,
                        duration=round(m.marked_range.duration.rescaled_to(clip_rate).value),
                        comment=m.comment,
                        color=str(m.color),
                        clip=clip.name,
                    )
                )
        return out
