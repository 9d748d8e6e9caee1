"""DaVinci Resolve marker EDL (Timeline > Import > Timeline Markers from EDL).

The syntax is the one Resolve writes itself (Timelines > Export > Timeline Markers to
EDL): every marker is a one-frame cut event at its record timecode, followed by one
line ``<note> |C:ResolveColor<Colour> |M:<name> |D:<frames>``. Resolve takes the text
before the first ``|`` as the note, so:

* ``|`` inside a name or note would end a field: it is written as ``¦``;
* a line break would end the marker line: it is written as `` ¶ ``;
* a note that starts with a digit makes the line look like an event to Resolve's
  parser, and one starting with ``*`` is taken as an EDL comment; both get ``- ``
  in front, the workaround known to import cleanly.

Resolve keeps one marker per frame of a timeline, so markers on the same frame are
merged into one: names joined with `` + ``, notes with `` / ``, the colour of the
highest-priority category, the longest duration.

Record timecode: Resolve places an imported marker at the record TC of its event,
counted on the timeline it is imported into. ``export.resolve_record_start = "source"``
puts the first frame at the clip's (or card's) own start TC, which suits a timeline
whose start TC was set to the clip's; a timecode such as ``"01:00:00:00"`` (Resolve's
default timeline start) shifts every marker by the same offset so it lands on a
timeline starting there. Source columns always keep the clip's own TC.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from kinod.contracts import catalog
from kinod.export.writers.base import RESOLVE_COLORS, MarkerFacts, ReadMarker, Writer, single_line, timeline_facts
from kinod.export.writers.edl_common import EdlError, header, read_edl, tc
from kinod.export.writers.options import ExportOptions
from kinod.media.fsutil import atomic_write_text
from kinod.media.timecode import tc_to_frames

_MARKER_RE = re.compile(r"^(?P<note>.*?)\s?\|C:ResolveColor(?P<color>\w+)\s+\|M:(?P<name>.*?)\s+\|D:(?P<dur>\d+)\s*$")


def resolve_name(text: str) -> str:
    """A marker name as the Resolve EDL carries it (single line, no ``|``)."""
    return single_line(text).replace("|", "¦")


def resolve_note(text: str) -> str:
    """A note as the Resolve EDL carries it; see the module docstring for the ``- `` guard."""
    note = resolve_name(text)
    if note[:1].isdigit() or note.startswith("*"):
        note = "- " + note
    return note


def merge_same_frame(markers: list[tuple[int, MarkerFacts]]) -> list[tuple[int, MarkerFacts]]:
    """One marker per record frame, as Resolve keeps them (see the module docstring)."""
    by_frame: dict[int, list[MarkerFacts]] = {}
    for frame, m in markers:
        by_frame.setdefault(frame, []).append(m)
    out: list[tuple[int, MarkerFacts]] = []
    priority = {c: i for i, c in enumerate(catalog.category_names())}
    for frame in sorted(by_frame):
        group = sorted(by_frame[frame], key=lambda m: (priority.get(m.category, len(priority)), m.name))
        first = group[0]
        if len(group) > 1:
            first = MarkerFacts(
                frame=first.frame,
                duration=max(m.duration for m in group),
                name=" + ".join(m.name for m in group),
                note=" / ".join(m.note for m in group),
                color=first.color,
                category=first.category,
            )
        out.append((frame, first))
    return out


def record_origin(start_frames: int, rate: Fraction, drop_frame: bool, record_start: str) -> int:
    """Record frame of the timeline's first frame: its own start, or ``record_start`` as a TC.

    A timecode is read in the timeline's counting whatever its separator, since Resolve
    shows the timeline's start TC in the timeline's counting.
    """
    if record_start == "source":
        return start_frames
    try:
        return tc_to_frames(record_start, rate, drop_frame)
    except ValueError as e:
        raise ValueError(f"export.resolve_record_start: {e}") from None


class ResolveEdlWriter(Writer):
    format = "resolve-edl"
    suffix = ".resolve.edl"
    description = "DaVinci Resolve timeline-marker EDL (Import > Timeline Markers from EDL)"

    def write(self, timeline: otio.schema.Timeline, dest: Path, opts: ExportOptions) -> Path:
        facts = timeline_facts(timeline)
        placed = [(clip.record_start + m.frame, m) for clip in facts.clips for m in clip.markers]
        sources = {
            clip.record_start + m.frame: clip.source_tc(m.frame) + " " + clip.source_tc(m.frame + 1)
            for clip in facts.clips
            for m in clip.markers
        }
        origin = record_origin(facts.start_frames, facts.rate, facts.drop_frame, opts.resolve_record_start)
        lines = header(facts.name, facts.drop_frame)
        for num, (frame, m) in enumerate(merge_same_frame(placed), 1):
            start = origin + frame
            tc_in = tc(start, facts.rate, facts.drop_frame)
            tc_out = tc(start + 1, facts.rate, facts.drop_frame)
            lines.append(f"{num:03d}  001      V     C        {sources[frame]} {tc_in} {tc_out}  ")
            color = RESOLVE_COLORS.get(m.color, "Blue")
            name = resolve_name(m.name) or m.category or "kinod"
            lines.append(f"{resolve_note(m.note)} |C:ResolveColor{color} |M:{name} |D:{max(m.duration, 1)}")
            lines.append("")
        atomic_write_text(dest, "\n".join(lines) + "\n")
        return dest

    def read(self, path: Path, rate: Fraction | None = None) -> list[ReadMarker]:
        if rate is None:
            raise EdlError(f"{path}: an EDL does not record its frame rate; pass the rate to read it")
        edl = read_edl(path, rate)
        out: list[ReadMarker] = []
        for ev in edl.events:
            for line in ev.extra:
                m = _MARKER_RE.match(line)
                if not m:
                    raise EdlError(f"{path}: event {ev.num}: not a Resolve marker line: {line[:60]!r}")
                out.append(
                    ReadMarker(
                        name=m.group("name"),
                        record_frame=ev.rec_in,
                        duration=int(m.group("dur")),
                        comment=m.group("note").strip(),
                        color=m.group("color"),
                    )
                )
        return out
