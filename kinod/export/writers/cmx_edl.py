"""CMX3600 EDL of shots: one cut event per shot, for conform and relink.

Shots come from the timeline's ``shot`` markers (each is the first frame of a new
shot), so a clip without cuts is one event. Record timecodes use the timeline's
counting (``FCM: DROP FRAME`` writes ``;``); source timecodes use each clip's own
counting, because a relink by source TC must land on the label the camera wrote: on a
card that mixes DF and NDF clips an NDF clip's ``00:05:00:00`` stays ``00:05:00:00``. Every event carries
``* FROM CLIP NAME:`` and ``* SOURCE FILE:`` so Avid, Premiere and Resolve can relink by
name or path, and the other markers inside a shot as Avid-style ``* LOC:`` lines on
the record side (upper-case Avid colour, then the name; line breaks as `` ¶ ``).
"""

from __future__ import annotations

import itertools
import re
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from kinod.export.writers.base import AVID_COLORS, ReadMarker, Writer, single_line, timeline_facts
from kinod.export.writers.edl_common import EdlError, event_line, header, read_edl, reel_name, tc
from kinod.export.writers.options import ExportOptions
from kinod.media.fsutil import atomic_write_text
from kinod.media.timecode import supports_drop_frame, tc_to_frames

_LOC_RE = re.compile(r"^LOC:\s+(?P<tc>\d{2}[:;]\d{2}[:;]\d{2}[:;]\d{2,3})\s+(?P<color>\w+)(?:\s+(?P<name>.*))?$")


def loc_name(text: str) -> str:
    """A locator name as a ``* LOC:`` line carries it (single line)."""
    return single_line(text)


class CmxEdlWriter(Writer):
    format = "edl"
    suffix = ".edl"
    description = "CMX3600 EDL, one event per shot (conform, relink), with * LOC: markers"

    def write(self, timeline: otio.schema.Timeline, dest: Path, opts: ExportOptions) -> Path:
        facts = timeline_facts(timeline)
        rate, df = facts.rate, facts.drop_frame
        lines = header(facts.name, df)
        num = 0
        for clip in facts.clips:
            cuts = sorted({0, *(m.frame for m in clip.markers if m.category == "shot" and 0 < m.frame < clip.frames)})
            bounds = [*cuts, clip.frames]
            reel = reel_name(clip.reel, clip.name)
            track = "V" if clip.has_video else "A"
            for shot_start, shot_end in itertools.pairwise(bounds):
                num += 1
                rec = facts.start_frames + clip.record_start
                lines.append(
                    event_line(
                        num,
                        reel,
                        track,
                        clip.source_tc(shot_start),
                        clip.source_tc(shot_end),
                        tc(rec + shot_start, rate, df),
                        tc(rec + shot_end, rate, df),
                    )
                )
                lines.append(f"* FROM CLIP NAME:  {single_line(clip.name)}")
                for m in clip.markers:
                    if shot_start <= m.frame < shot_end and m.category != "shot":
                        color = AVID_COLORS.get(m.color, "red").upper()
                        lines.append(f"* LOC: {tc(rec + m.frame, rate, df)} {color:<7} {loc_name(m.name)}".rstrip())
                lines.append(f"* SOURCE FILE: {single_line(clip.path)}")
        atomic_write_text(dest, "\n".join(lines) + "\n")
        return dest

    def read(self, path: Path, rate: Fraction | None = None) -> list[ReadMarker]:
        """Each event as a marker named ``"shot"`` at its record in (duration = its length),
        then each of its ``* LOC:`` lines as a marker at its record timecode."""
        if rate is None:
            raise EdlError(f"{path}: an EDL does not record its frame rate; pass the rate to read it")
        edl = read_edl(path, rate)
        out: list[ReadMarker] = []
        for ev in edl.events:
            clip = next((c.split(":", 1)[1].strip() for c in ev.comments if c.startswith("FROM CLIP NAME:")), None)
            out.append(ReadMarker(name="shot", record_frame=ev.rec_in, duration=ev.rec_out - ev.rec_in, clip=clip))
            for comment in ev.comments:
                m = _LOC_RE.match(comment)
                if m:
                    frames = tc_to_frames(m.group("tc"), rate, edl.drop_frame and supports_drop_frame(rate))
                    out.append(
                        ReadMarker(name=m.group("name") or "", record_frame=frames, color=m.group("color"), clip=clip)
                    )
        return out
