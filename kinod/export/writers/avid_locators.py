"""Avid Media Composer locator text (Markers window > Import Markers), one marker a line.

Tab-separated, as Media Composer's own marker export writes it: user, timecode,
track, colour (one of Avid's eight, lower case), comment, duration in frames (1 for a
point). Timecodes are record timecodes of the timeline, which for a clip's file are
its source timecodes, so the file imports onto the master clip in a bin as well as onto
a sequence. Tabs and line breaks cannot be carried (they separate fields and
markers): a line break becomes `` ¶ `` and a tab a space. The comment is the marker's
name, then its note after `` - ``, because Avid locators have only one text field.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from kinod.export.writers.base import AVID_COLORS, ReadMarker, Writer, single_line, timeline_facts
from kinod.export.writers.options import ExportOptions
from kinod.media.fsutil import atomic_write_text
from kinod.media.timecode import is_drop_frame_label, supports_drop_frame, tc_to_frames


def avid_comment(name: str, note: str) -> str:
    """The one text field Avid has: ``name - note`` on a single line."""
    name, note = single_line(name), single_line(note)
    return f"{name} - {note}" if name and note else (name or note)


class AvidLocatorWriter(Writer):
    format = "avid"
    suffix = ".avid.txt"
    description = "Avid Media Composer locators (Import Markers), tab-separated"

    def write(self, timeline: otio.schema.Timeline, dest: Path, opts: ExportOptions) -> Path:
        facts = timeline_facts(timeline)
        user = single_line(opts.avid_user) or "kinod"
        lines = []
        for clip in facts.clips:
            track = opts.avid_track if clip.has_video else "A1"
            for m in clip.markers:
                label = facts.record_tc(clip.record_start + m.frame)
                color = AVID_COLORS.get(m.color, "red")
                lines.append(f"{user}\t{label}\t{track}\t{color}\t{avid_comment(m.name, m.note)}\t{max(m.duration, 1)}")
        atomic_write_text(dest, "".join(line + "\n" for line in lines))
        return dest

    def read(self, path: Path, rate: Fraction | None = None) -> list[ReadMarker]:
        if rate is None:
            raise ValueError(f"{path}: Avid locator files do not record their frame rate; pass the rate")
        out: list[ReadMarker] = []
        for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) < 5:
                raise ValueError(f"{path}:{lineno}: expected at least 5 tab-separated fields, got {len(fields)}")
            label = fields[1]
            frames = tc_to_frames(label, rate, is_drop_frame_label(label) and supports_drop_frame(rate))
            duration = int(fields[5]) if len(fields) > 5 and fields[5].strip().isdigit() else 1
            out.append(
                ReadMarker(name=fields[4], record_frame=frames, duration=duration, comment=fields[4], color=fields[3])
            )
        return out
