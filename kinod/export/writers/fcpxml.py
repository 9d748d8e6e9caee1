"""FCPXML 1.10 (or 1.9) for Final Cut Pro and Resolve: a project whose clips carry markers.

Written by hand because the OTIO fcpx_xml adapter writes times that are not whole
frames at 23.976 and 29.97. Every time here is an exact multiple of the format's
``frameDuration``, spelled the way Final Cut Pro spells it: ``1001/30000s`` per frame
at 29.97, ``100/2500s`` at 25, whole seconds as ``3600s``. Time values are frame counts
times the frame duration, so a 29.97 DF clip starting at ``01:00:00;00`` (frame
107892) starts at ``107999892/30000s``, and ``tcFormat="DF"`` tells FCP to label it so.

Element order follows the FCPXML 1.10 DTD: ``fcpxml`` holds ``resources`` (one
``format`` per distinct frame size and rate, then ``asset`` with its ``media-rep``; an
audio-only asset has no ``format``, only its audio properties) and an ``event`` with one ``project``; the
project's ``sequence`` holds a ``spine`` of ``asset-clip`` and ``gap`` elements, and
markers sit inside their ``asset-clip`` with ``start`` in the asset's own time.

FCPXML has no marker colours: Final Cut shows standard markers blue, to-do markers red
and chapter markers orange. ``problem`` markers become to-do markers
(``completed="0"``), categories listed in ``fcpxml_chapter_categories`` become chapter
markers, the rest standard markers; the note keeps the category for everyone else.
Each range of a person (a ``face`` marker of a known person) is also a ``keyword`` range
named after them, which Final Cut gathers into one keyword collection per person.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from kinod.export.writers.base import ClipFacts, ReadMarker, TimelineFacts, Writer, person_name, timeline_facts
from kinod.export.writers.options import ExportOptions
from kinod.export.writers.xmlutil import file_url, parse, serialize, sub
from kinod.media.fsutil import atomic_write_bytes
from kinod.media.timecode import is_ntsc

#: ``name`` of the FCP video format for the common frame sizes (FCP falls back to a
#: custom format from frameDuration/width/height for the rest, so none is written then).
_FORMAT_SIZES = {(1920, 1080): "1080p", (1280, 720): "720p", (3840, 2160): "2160p"}
_FORMAT_RATES = {
    Fraction(24000, 1001): "2398",
    Fraction(24): "24",
    Fraction(25): "25",
    Fraction(30000, 1001): "2997",
    Fraction(30): "30",
    Fraction(50): "50",
    Fraction(60000, 1001): "5994",
    Fraction(60): "60",
}


def frame_duration(rate: Fraction) -> tuple[int, int]:
    """(numerator, denominator) of one frame as FCP writes it: 1001/30000, 100/2500, ..."""
    if is_ntsc(rate):
        return 1001, int(rate * 1001)
    if (rate * 100).denominator == 1:
        return 100, int(rate * 100)
    fd = 1 / rate
    return fd.numerator, fd.denominator


def fcp_time(frames: int, fd: tuple[int, int]) -> str:
    """``frames`` as an FCPXML time: ``0s``, ``3600s`` when whole, else ``N/Ds`` over the timebase."""
    value = Fraction(frames * fd[0], fd[1])
    if value.denominator == 1:
        return f"{value.numerator}s"
    return f"{frames * fd[0]}/{fd[1]}s"


def parse_time(text: str | None) -> Fraction:
    """An FCPXML time (``"1001/30000s"``, ``"6s"``, ``"0s"``) as seconds; ValueError if malformed."""
    if not text or not text.endswith("s"):
        raise ValueError(f"invalid FCPXML time {text!r}")
    body = text[:-1]
    num, _, den = body.partition("/")
    return Fraction(int(num), int(den) if den else 1)


def marker_kind(category: str, opts: ExportOptions) -> str:
    """``todo``, ``chapter`` or ``standard``: how the marker is written and what colour FCP shows."""
    if category == "problem":
        return "todo"
    if category in opts.fcpxml_chapter_categories:
        return "chapter"
    return "standard"


def _format(resources: ET.Element, fid: str, rate: Fraction, size: tuple[int, int]) -> None:
    fd = frame_duration(rate)
    width, height = size
    attrs = {"id": fid}
    name, token = _FORMAT_SIZES.get((width, height)), _FORMAT_RATES.get(rate)
    if name and token:
        attrs["name"] = f"FFVideoFormat{name}{token}"
    attrs.update(frameDuration=f"{fd[0]}/{fd[1]}s", width=str(width), height=str(height))
    sub(resources, "format", **attrs)


def video_format(clip: ClipFacts) -> tuple[int, int, Fraction] | None:
    """(width, height, rate) of a clip's picture; None for an audio-only clip, which has no video format."""
    if not clip.has_video:
        return None
    return (clip.width or 1920, clip.height or 1080, clip.rate)


def _asset(resources: ET.Element, aid: str, clip: ClipFacts, fid: str | None) -> None:
    """An asset pointing at its own video format; an audio-only asset carries audio properties only."""
    fd = frame_duration(clip.rate)
    attrs = {
        "id": aid,
        "name": clip.name,
        "start": fcp_time(clip.start_frames, fd),
        "duration": fcp_time(clip.frames, fd),
        "hasVideo": "1" if clip.has_video else "0",
    }
    if fid is not None:
        attrs["format"] = fid
    attrs["hasAudio"] = "1" if clip.audio_channels else "0"
    if clip.audio_channels:
        attrs.update(audioSources="1", audioChannels=str(clip.audio_channels), audioRate=str(clip.audio_rate or 48000))
    asset = sub(resources, "asset", **attrs)
    sub(asset, "media-rep", kind="original-media", src=file_url(clip.path, localhost=False))


def _asset_clip(spine: ET.Element, aid: str, clip: ClipFacts, facts: TimelineFacts, opts: ExportOptions) -> None:
    fd = frame_duration(clip.rate)
    attrs = {
        "ref": aid,
        "offset": fcp_time(facts.start_frames + clip.record_start, fd),
        "name": clip.name,
        "start": fcp_time(clip.start_frames, fd),
        "duration": fcp_time(clip.frames, fd),
        "tcFormat": "DF" if clip.drop_frame else "NDF",
    }
    if clip.audio_channels:
        attrs["audioRole"] = "dialogue"
    ac = sub(spine, "asset-clip", **attrs)
    for m in clip.markers:
        kind = marker_kind(m.category, opts)
        mattrs = {
            "start": fcp_time(clip.start_frames + m.frame, fd),
            "duration": fcp_time(max(m.duration, 1), fd),
            "value": m.name or m.category or "kinod",
        }
        if kind == "todo":
            mattrs["completed"] = "0"
        mattrs["note"] = m.note
        sub(ac, "chapter-marker" if kind == "chapter" else "marker", **mattrs)
    for m in clip.markers:
        person = person_name(m)
        if person:  # a keyword range per person: Final Cut lists each person as a keyword collection
            sub(ac, "keyword", start=fcp_time(clip.start_frames + m.frame, fd),
                duration=fcp_time(max(m.duration, 1), fd), value=person)  # fmt: skip


def build_fcpxml(facts: TimelineFacts, opts: ExportOptions) -> ET.Element:
    root = ET.Element("fcpxml", {"version": opts.fcpxml_version})
    resources = sub(root, "resources")
    # One <format> per distinct picture (size and rate), the sequence's first; ids follow
    # the order formats are first met so the same card always gives the same file.
    first_video = next((video_format(c) for c in facts.clips if c.has_video), None)
    sequence_format = first_video or (1920, 1080, facts.rate)
    formats: dict[tuple[int, int, Fraction], str] = {}
    for key in [sequence_format, *(video_format(c) for c in facts.clips)]:
        if key is not None and key not in formats:
            formats[key] = f"r{len(formats) + 1}"
            _format(resources, formats[key], key[2], key[:2])
    ids = {}
    for n, clip in enumerate(facts.clips, len(formats) + 1):
        ids[clip.path, clip.name, clip.record_start] = aid = f"r{n}"
        key = video_format(clip)
        _asset(resources, aid, clip, formats[key] if key is not None else None)
    fd = frame_duration(facts.rate)
    event = sub(root, "event", name="kinod")
    project = sub(event, "project", name=facts.name)
    sequence = sub(
        project,
        "sequence",
        format=formats[sequence_format],
        duration=fcp_time(facts.frames, fd),
        tcStart=fcp_time(facts.start_frames, fd),
        tcFormat="DF" if facts.drop_frame else "NDF",
    )
    spine = sub(sequence, "spine")
    items: list[tuple[int, ClipFacts | None, int, str]] = [(c.record_start, c, c.frames, c.name) for c in facts.clips]
    items += [(g.record_start, None, g.frames, g.name) for g in facts.gaps]
    for record_start, clip, frames, name in sorted(items, key=lambda i: i[0]):
        if clip is None:
            sub(
                spine,
                "gap",
                name=name or "Gap",
                offset=fcp_time(facts.start_frames + record_start, fd),
                duration=fcp_time(frames, fd),
            )
        else:
            _asset_clip(spine, ids[clip.path, clip.name, clip.record_start], clip, facts, opts)
    return root


class FcpxmlWriter(Writer):
    format = "fcpxml"
    suffix = ".fcpxml"
    description = "FCPXML 1.10 (1.9 on request) for Final Cut Pro and Resolve"

    def write(self, timeline: otio.schema.Timeline, dest: Path, opts: ExportOptions) -> Path:
        atomic_write_bytes(dest, serialize(build_fcpxml(timeline_facts(timeline), opts), "fcpxml", indent="    "))
        return dest

    def read(self, path: Path, rate: Fraction | None = None) -> list[ReadMarker]:
        """Markers of every ``asset-clip``: ``frame`` from the asset's start, ``color`` the FCP kind."""
        root = parse(path)
        if root.tag != "fcpxml":
            raise ValueError(f"{path}: not an FCPXML file (root is <{root.tag}>)")
        formats = {f.get("id"): parse_time(f.get("frameDuration")) for f in root.iter("format")}
        assets = {a.get("id"): a for a in root.iter("asset")}
        # An audio-only asset has no format: its times count in the sequence's frames.
        sequence_format = next((seq.get("format") for seq in root.iter("sequence")), None)
        out: list[ReadMarker] = []
        for ac in root.iter("asset-clip"):
            asset = assets.get(ac.get("ref"))
            if asset is None:
                raise ValueError(f"{path}: asset-clip {ac.get('name')!r} refers to a missing asset")
            fid = ac.get("format") or asset.get("format") or sequence_format
            fd = formats[fid]
            origin = parse_time(asset.get("start") or "0s")
            clip_start = parse_time(ac.get("start") or asset.get("start") or "0s")
            offset = parse_time(ac.get("offset") or "0s")
            for mk in ac:
                if mk.tag not in ("marker", "chapter-marker"):
                    continue
                start = parse_time(mk.get("start"))
                kind = "chapter" if mk.tag == "chapter-marker" else "standard"
                if mk.get("completed") is not None:
                    kind = "done" if mk.get("completed") == "1" else "todo"
                duration = parse_time(mk.get("duration") or "0s")
                out.append(
                    ReadMarker(
                        name=mk.get("value") or "",
                        frame=_frames(start - origin, fd, path),
                        record_frame=_frames(offset + start - clip_start, fd, path),
                        duration=_frames(duration, fd, path),
                        comment=mk.get("note") or "",
                        color=kind,
                        clip=ac.get("name"),
                    )
                )
        return out


def _frames(seconds: Fraction, fd: Fraction, path: Path) -> int:
    frames = seconds / fd
    if frames.denominator != 1:
        raise ValueError(f"{path}: time {seconds}s is not a whole number of {fd}s frames")
    return int(frames)
