"""What every format writer shares: the writer contract, the facts a timeline holds, text rules.

Writers read an OTIO timeline (built by :mod:`kinod.export.timeline`) through
:func:`timeline_facts`, so the OTIO traversal, the frame arithmetic and the marker
metadata layout live in one place and each format module is only about its syntax.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import opentimelineio as otio

from kinod.export.timeline import clean_text
from kinod.export.writers.options import ExportOptions
from kinod.media.timecode import frames_to_tc, parse_rate, supports_drop_frame


@dataclass(frozen=True)
class MarkerFacts:
    """A marker as writers need it. ``frame`` counts from the clip's first frame."""

    frame: int
    duration: int
    name: str
    note: str
    color: str
    category: str
    analyzer: str | None = None
    confidence: float | None = None
    comment: str = ""


@dataclass(frozen=True)
class ClipFacts:
    """A clip on a timeline: source timecode, where it sits, what the file holds."""

    name: str
    path: str
    url: str
    rate: Fraction
    drop_frame: bool
    start_frames: int
    frames: int
    record_start: int
    reel: str | None
    has_video: bool
    width: int | None
    height: int | None
    audio_channels: int
    audio_rate: int
    fingerprint: str | None
    vfr: bool
    markers: tuple[MarkerFacts, ...]
    transcript: tuple[dict[str, Any], ...]
    #: Roll, scene and take read off the slate (FCP7's logginginfo carries scene and take).
    slate: tuple[tuple[str, str], ...] = ()

    def source_tc(self, frame: int) -> str:
        """Source timecode of a clip-relative frame."""
        return frames_to_tc(self.start_frames + frame, self.rate, self.drop_frame)


@dataclass(frozen=True)
class GapFacts:
    record_start: int
    frames: int
    name: str


@dataclass(frozen=True)
class TimelineFacts:
    """A whole timeline: ``record_start`` of items counts frames from ``start_frames``."""

    name: str
    kind: str
    rate: Fraction
    drop_frame: bool
    start_frames: int
    frames: int
    clips: tuple[ClipFacts, ...]
    gaps: tuple[GapFacts, ...] = ()
    excluded: tuple[dict[str, str], ...] = field(default_factory=tuple)

    def record_tc(self, frame: int) -> str:
        """Record timecode of a frame counted from the timeline's start."""
        return frames_to_tc(self.start_frames + frame, self.rate, self.drop_frame)


def _marker_facts(marker: otio.schema.Marker, clip_start: int, rate: float) -> MarkerFacts:
    meta = marker.metadata.get("kinod") or {}
    start = marker.marked_range.start_time.rescaled_to(rate)
    duration = marker.marked_range.duration.rescaled_to(rate)
    return MarkerFacts(
        frame=round(start.value) - clip_start,
        duration=round(duration.value),
        name=marker.name,
        note=str(meta.get("note") or marker.comment or ""),
        color=str(marker.color or "RED").upper(),
        category=str(meta.get("category") or ""),
        analyzer=meta.get("analyzer"),
        confidence=meta.get("confidence"),
        comment=str(meta.get("comment") or ""),
    )


def person_name(m: MarkerFacts) -> str | None:
    """The person a ranged ``face`` marker shows (a name, or a registry id), None for an unknown face."""
    if m.category != "face" or not m.duration or not m.name or m.name.startswith("face "):
        return None
    return m.name


def timeline_facts(timeline: otio.schema.Timeline) -> TimelineFacts:
    """Flatten the first video track of a kinod timeline into writer facts.

    Raises ValueError for a timeline without a kinod rate (not built by kinod).
    """
    tmeta = timeline.metadata.get("kinod") or {}
    if "rate" not in tmeta:
        raise ValueError(f"timeline {timeline.name!r} was not built by kinod (no rate in its metadata)")
    rate = parse_rate(tmeta["rate"])
    drop = bool(tmeta.get("drop_frame")) and supports_drop_frame(rate)
    frate = float(rate)
    start = round(timeline.global_start_time.rescaled_to(frate).value) if timeline.global_start_time else 0
    clips: list[ClipFacts] = []
    gaps: list[GapFacts] = []
    cursor = 0
    track = timeline.video_tracks()[0]
    for item in track:
        length = round(item.duration().rescaled_to(frate).value)
        if isinstance(item, otio.schema.Gap):
            gaps.append(GapFacts(cursor, length, item.name))
        elif isinstance(item, otio.schema.Clip):
            meta = item.metadata.get("kinod") or {}
            src = item.source_range
            clip_start = round(src.start_time.rescaled_to(frate).value)
            clips.append(
                ClipFacts(
                    name=item.name,
                    path=str(meta.get("path") or ""),
                    url=getattr(item.media_reference, "target_url", "") or "",
                    rate=rate,
                    drop_frame=bool(meta.get("drop_frame")) and supports_drop_frame(rate),
                    start_frames=clip_start,
                    frames=length,
                    record_start=cursor,
                    reel=meta.get("reel"),
                    has_video=bool(meta.get("has_video", True)),
                    width=meta.get("width"),
                    height=meta.get("height"),
                    audio_channels=int(meta.get("audio_channels") or 0),
                    audio_rate=int(meta.get("audio_rate") or 0),
                    fingerprint=meta.get("fingerprint"),
                    vfr=bool(meta.get("vfr")),
                    markers=tuple(
                        sorted(
                            (_marker_facts(m, clip_start, frate) for m in item.markers),
                            key=lambda m: (m.frame, m.category, m.name),
                        )
                    ),
                    transcript=tuple(meta.get("transcript") or ()),
                    slate=tuple(sorted((str(k), str(v)) for k, v in dict(meta.get("slate") or {}).items())),
                )
            )
        cursor += length
    return TimelineFacts(
        name=timeline.name,
        kind=str(tmeta.get("kind") or "clip"),
        rate=rate,
        drop_frame=drop,
        start_frames=start,
        frames=cursor,
        clips=tuple(clips),
        gaps=tuple(gaps),
        excluded=tuple(tmeta.get("excluded") or ()),
    )


@dataclass(frozen=True)
class ReadMarker:
    """A marker read back from a written file, for round-trip checks.

    ``frame`` counts from the clip's first frame where the format ties markers to a
    clip; ``record_frame`` counts from the timeline's start where it places them on
    a timeline. ``color`` is the format's own colour token.
    """

    name: str
    frame: int | None = None
    record_frame: int | None = None
    duration: int = 0
    comment: str = ""
    color: str = ""
    clip: str | None = None


class Writer(ABC):
    """One output format. Registered under the ``kinod.exporters`` entry-point group."""

    #: The name used in ``--format`` and ``output.formats`` ("resolve-edl").
    format: ClassVar[str]
    #: Appended to the clip file name or the card name ("clip.mov" + ".resolve.edl").
    suffix: ClassVar[str]
    #: Whether a card timeline (many clips) makes sense in this format.
    card: ClassVar[bool] = True
    #: One line for ``kinod export --help``.
    description: ClassVar[str] = ""

    @abstractmethod
    def write(self, timeline: otio.schema.Timeline, dest: Path, opts: ExportOptions) -> Path:
        """Write ``timeline`` to ``dest`` atomically and return ``dest``."""

    @abstractmethod
    def read(self, path: Path, rate: Fraction | None = None) -> list[ReadMarker]:
        """Read the markers back from a file this writer wrote (used by the round-trip tests).

        ``rate`` is needed only by formats that do not record their frame rate (EDLs,
        Avid locators); the others ignore it.
        """


# ------------------------------------------------------------------- text rules

#: Shown where a line break cannot be carried (EDL lines, Avid locators, CSV-safe single lines).
LINE_BREAK_MARK = " ¶ "


def single_line(text: str) -> str:
    """For line-based formats: line breaks become a visible ¶ mark, tabs a space."""
    text = clean_text(text).replace("\t", " ")
    return LINE_BREAK_MARK.join(part.strip() for part in text.split("\n")).strip()


# ---------------------------------------------------------------- NLE palettes

#: DaVinci Resolve's 16 marker colours; OTIO colours map one-to-one into them.
RESOLVE_COLORS: dict[str, str] = {
    "PINK": "Pink",
    "RED": "Red",
    "ORANGE": "Sand",
    "YELLOW": "Yellow",
    "GREEN": "Green",
    "CYAN": "Cyan",
    "BLUE": "Blue",
    "PURPLE": "Purple",
    "MAGENTA": "Fuchsia",
    "BLACK": "Cocoa",
    "WHITE": "Cream",
}

#: Premiere Pro marker colour index (``Marker.setColorByIndex``) and the ``pproColor``
#: value its FCP7 XML export writes for it (little-endian ABGR as an unsigned int).
PREMIERE_COLORS: dict[str, int] = {
    "GREEN": 0,
    "RED": 1,
    "PINK": 2,
    "PURPLE": 2,
    "MAGENTA": 2,
    "ORANGE": 3,
    "YELLOW": 4,
    "WHITE": 5,
    "BLACK": 5,
    "BLUE": 6,
    "CYAN": 7,
}
PPRO_COLOR_VALUES: tuple[int, ...] = (
    4281828977,  # 0 green
    4281740498,  # 1 red
    4289825711,  # 2 purple (magenta)
    4280578025,  # 3 orange
    4281049552,  # 4 yellow
    4294967295,  # 5 white
    4294741314,  # 6 blue
    4292277273,  # 7 cyan
)

#: Avid Media Composer's eight locator colours (lower case, as its marker export writes them).
AVID_COLORS: dict[str, str] = {
    "PINK": "magenta",
    "RED": "red",
    "ORANGE": "yellow",
    "YELLOW": "yellow",
    "GREEN": "green",
    "CYAN": "cyan",
    "BLUE": "blue",
    "PURPLE": "magenta",
    "MAGENTA": "magenta",
    "BLACK": "black",
    "WHITE": "white",
}
