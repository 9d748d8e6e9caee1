"""FCP7 XML (xmeml v4/v5) for Premiere Pro: a sequence whose clip items carry clip markers.

Written by hand rather than with the OTIO fcp_xml adapter, which loses the
drop-frame label, marker comments and colours. Element names and their order follow
Premiere's own export (the ``premiere_example.xml`` fixture): ``sequence`` holds
uuid, duration, rate, name, media, timecode; a ``clipitem`` holds masterclipid, name,
enabled, duration, rate, start, end, in, out, alphatype, pixelaspectratio,
anamorphic, file, then its markers; a ``marker`` holds comment, name, in, out and
Premiere's ``pproColor``. ``<ntsc>TRUE</ntsc>`` with the nominal timebase gives
23.976/29.97/59.94, and the file and sequence ``timecode`` elements carry
``<displayformat>DF</displayformat>`` where the clip is drop-frame. Marker ``in``
counts frames from the first frame of the media; ``out`` is ``-1`` for a point marker.

Sound: a clip with audio gets one clip item per channel on mono audio tracks A1..An
(``sourcetrack`` names the channel, ``channelcount``/``samplerate`` of its ``file`` come
from the probe), all linked to its picture item, so Premiere imports picture and sound.
The markers sit on the clip's first item (its picture, or A1 for an audio-only take).
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from kinod.export.writers.base import (
    PPRO_COLOR_VALUES,
    PREMIERE_COLORS,
    ClipFacts,
    ReadMarker,
    TimelineFacts,
    Writer,
    person_name,
    timeline_facts,
)
from kinod.export.writers.options import ExportOptions
from kinod.export.writers.xmlutil import file_url, parse, serialize, sub
from kinod.media.fsutil import atomic_write_bytes
from kinod.media.timecode import frames_to_tc, is_ntsc, nominal_fps


def ppro_color(otio_color: str) -> int:
    """The ``pproColor`` value Premiere writes for the marker colour it would show."""
    return PPRO_COLOR_VALUES[PREMIERE_COLORS.get(otio_color, 1)]


def _rate(parent: ET.Element, rate: Fraction) -> None:
    r = sub(parent, "rate")
    sub(r, "timebase", nominal_fps(rate))
    sub(r, "ntsc", "TRUE" if is_ntsc(rate) else "FALSE")


def _timecode(parent: ET.Element, rate: Fraction, frames: int, drop: bool, reel: str | None) -> None:
    t = sub(parent, "timecode")
    _rate(t, rate)
    sub(t, "string", frames_to_tc(frames, rate, drop))
    sub(t, "frame", frames)
    sub(t, "displayformat", "DF" if drop else "NDF")
    if reel is not None:
        sub(sub(t, "reel"), "name", reel)


def _samplecharacteristics(parent: ET.Element, rate: Fraction, clip: ClipFacts | None) -> None:
    sc = sub(parent, "samplecharacteristics")
    _rate(sc, rate)
    sub(sc, "width", (clip.width if clip else None) or 1920)
    sub(sc, "height", (clip.height if clip else None) or 1080)
    sub(sc, "anamorphic", "FALSE")
    sub(sc, "pixelaspectratio", "square")
    sub(sc, "fielddominance", "none")


def _file(parent: ET.Element, clip: ClipFacts, index: int) -> None:
    f = sub(parent, "file", id=f"file-{index}")
    sub(f, "name", clip.name)
    sub(f, "pathurl", file_url(clip.path, localhost=True))
    _rate(f, clip.rate)
    sub(f, "duration", clip.frames)
    _timecode(f, clip.rate, clip.start_frames, clip.drop_frame, clip.reel or "")
    media = sub(f, "media")
    if clip.has_video:
        _samplecharacteristics(sub(media, "video"), clip.rate, clip)
    if clip.audio_channels:
        audio = sub(media, "audio")
        asc = sub(audio, "samplecharacteristics")
        sub(asc, "depth", 16)
        sub(asc, "samplerate", clip.audio_rate or 48000)
        sub(audio, "channelcount", clip.audio_channels)


def _clipitem(track: ET.Element, clip: ClipFacts, item_id: str, master: str) -> ET.Element:
    """The fields every clip item of a clip shares, picture or sound, up to ``out``."""
    ci = sub(track, "clipitem", id=item_id)
    sub(ci, "masterclipid", master)
    sub(ci, "name", clip.name)
    sub(ci, "enabled", "TRUE")
    sub(ci, "duration", clip.frames)
    _rate(ci, clip.rate)
    sub(ci, "start", clip.record_start)
    sub(ci, "end", clip.record_start + clip.frames)
    sub(ci, "in", 0)
    sub(ci, "out", clip.frames)
    slate = dict(clip.slate)
    if slate.get("scene") or slate.get("take"):  # Premiere and Resolve read these as Scene and Take
        info = sub(ci, "logginginfo")
        sub(info, "scene", slate.get("scene", ""))
        sub(info, "shottake", slate.get("take", ""))
    return ci


def _picture_fields(ci: ET.Element) -> None:
    sub(ci, "alphatype", "none")
    sub(ci, "pixelaspectratio", "square")
    sub(ci, "anamorphic", "FALSE")


def _markers(ci: ET.Element, clip: ClipFacts) -> None:
    for m in clip.markers:
        mk = sub(ci, "marker")
        sub(mk, "comment", m.note)
        sub(mk, "name", m.name)
        sub(mk, "in", m.frame)
        sub(mk, "out", m.frame + m.duration if m.duration else -1)
        sub(mk, "pproColor", ppro_color(m.color))


@dataclass
class _Placed:
    """Where one clip's items went: (clipitem id, media type, track index, clip index on that track)."""

    items: list[tuple[str, str, int, int]] = field(default_factory=list)


def _link(ci: ET.Element, placed: _Placed) -> None:
    """Premiere's ``<link>`` list: every item of the clip, so picture and sound move together."""
    for item_id, mediatype, track_index, clip_index in placed.items:
        ln = sub(ci, "link")
        sub(ln, "linkclipref", item_id)
        sub(ln, "mediatype", mediatype)
        sub(ln, "trackindex", track_index)
        sub(ln, "clipindex", clip_index)
        if mediatype == "audio":
            sub(ln, "groupindex", 1)


def _audio_format(audio: ET.Element, facts: TimelineFacts) -> None:
    """Sequence audio settings as Premiere writes them: stereo output, the clips' sample rate."""
    rates = [c.audio_rate for c in facts.clips if c.audio_channels and c.audio_rate]
    sub(audio, "numOutputChannels", 2)
    sc = sub(sub(audio, "format"), "samplecharacteristics")
    sub(sc, "depth", 16)
    sub(sc, "samplerate", max(set(rates), key=rates.count) if rates else 48000)
    outputs = sub(audio, "outputs")
    for index in (1, 2):
        group = sub(outputs, "group")
        sub(group, "index", index)
        sub(group, "numchannels", 1)
        sub(group, "downmix", 0)
        sub(sub(group, "channel"), "index", index)


def build_xmeml(facts: TimelineFacts, version: int) -> ET.Element:
    root = ET.Element("xmeml", {"version": str(version)})
    seq = sub(root, "sequence", id="sequence-1")
    ident = "\n".join([facts.name, *(c.path for c in facts.clips)])
    sub(seq, "uuid", str(uuid.uuid5(uuid.NAMESPACE_URL, "kinod:" + ident)))
    sub(seq, "duration", facts.frames)
    _rate(seq, facts.rate)
    sub(seq, "name", facts.name)
    media = sub(seq, "media")
    video = sub(media, "video")
    _samplecharacteristics(sub(video, "format"), facts.rate, next((c for c in facts.clips if c.has_video), None))
    vtrack = sub(video, "track")
    # One mono audio track per source channel, as Premiere lays out a clip's sound: a
    # stereo clip fills A1 and A2, a four-channel recorder file A1 to A4.
    channels = max((c.audio_channels for c in facts.clips), default=0)
    audio = sub(media, "audio") if channels else None
    if audio is not None:
        _audio_format(audio, facts)
    atracks = [sub(audio, "track", premiereTrackType="Mono") for _ in range(channels)] if audio is not None else []
    counts = {("video", 1): 0, **{("audio", n): 0 for n in range(1, channels + 1)}}
    plan: list[tuple[ClipFacts, _Placed]] = []
    for index, clip in enumerate(facts.clips, 1):
        placed = _Placed()
        if clip.has_video:
            counts["video", 1] += 1
            placed.items.append((f"clipitem-{index}", "video", 1, counts["video", 1]))
        for ch in range(1, clip.audio_channels + 1):
            counts["audio", ch] += 1
            placed.items.append((f"clipitem-{index}-a{ch}", "audio", ch, counts["audio", ch]))
        if not placed.items:  # neither picture nor sound probed: keep it on V1 for its markers
            counts["video", 1] += 1
            placed.items.append((f"clipitem-{index}", "video", 1, counts["video", 1]))
        plan.append((clip, placed))
    for index, (clip, placed) in enumerate(plan, 1):
        for n, (item_id, mediatype, track_index, _) in enumerate(placed.items):
            track = vtrack if mediatype == "video" else atracks[track_index - 1]
            ci = _clipitem(track, clip, item_id, f"masterclip-{index}")
            if mediatype == "video":
                _picture_fields(ci)
            if n == 0:
                _file(ci, clip, index)
            else:  # the file is described once; later items refer to it by id, as Premiere writes
                sub(ci, "file", id=f"file-{index}")
            if mediatype == "audio":
                st = sub(ci, "sourcetrack")
                sub(st, "mediatype", "audio")
                sub(st, "trackindex", track_index)
            if len(placed.items) > 1:
                _link(ci, placed)
            if n == 0:
                _markers(ci, clip)
    people = _people_tracks(video, facts)
    for track in (vtrack, *people, *atracks):
        sub(track, "enabled", "TRUE")
        sub(track, "locked", "FALSE")
    for n, track in enumerate(atracks):
        sub(track, "outputchannelindex", 1 + n % 2)
    _timecode(seq, facts.rate, facts.start_frames, facts.drop_frame, None)
    return root


def _people_tracks(video: ET.Element, facts: TimelineFacts) -> list[ET.Element]:
    """V2, V3...: each range of a known person as a clip item named after them (see kinod.export.people_track)."""
    ranges = sorted(
        ((c.record_start + m.frame, m.duration, name, index, c, m.frame)
         for index, c in enumerate(facts.clips, 1) for m in c.markers if (name := person_name(m))),
        key=lambda r: (r[0], r[2]),
    )  # fmt: skip
    lanes: list[tuple[ET.Element, list[int]]] = []
    for n, (start, frames, name, index, clip, frame) in enumerate(ranges, 1):
        lane = next((ln for ln in lanes if ln[1][0] <= start), None)
        if lane is None:
            lane = (sub(video, "track"), [0])
            lanes.append(lane)
        ci = sub(lane[0], "clipitem", id=f"clipitem-person-{n}")
        sub(ci, "masterclipid", f"masterclip-{index}")
        sub(ci, "name", name)
        sub(ci, "enabled", "TRUE")
        sub(ci, "duration", clip.frames)
        _rate(ci, clip.rate)
        sub(ci, "start", start)
        sub(ci, "end", start + frames)
        sub(ci, "in", frame)
        sub(ci, "out", frame + frames)
        _picture_fields(ci)
        sub(ci, "file", id=f"file-{index}")
        lane[1][0] = start + frames
    return [t for t, _ in lanes]


class Fcp7XmlWriter(Writer):
    format = "fcp7"
    suffix = ".fcp7.xml"
    description = "FCP7 XML (xmeml) for Premiere Pro: clip markers with comments and colours"

    def write(self, timeline: otio.schema.Timeline, dest: Path, opts: ExportOptions) -> Path:
        root = build_xmeml(timeline_facts(timeline), opts.fcp7_version)
        atomic_write_bytes(dest, serialize(root, "xmeml"))
        return dest

    def read(self, path: Path, rate: Fraction | None = None) -> list[ReadMarker]:
        root = parse(path)
        if root.tag != "xmeml":
            raise ValueError(f"{path}: not an FCP7 XML file (root is <{root.tag}>)")
        out: list[ReadMarker] = []
        for seq in root.findall("sequence"):
            seq_start = int(seq.findtext("timecode/frame") or 0)
            for ci in seq.findall("./media/*/track/clipitem"):
                start = int(ci.findtext("start") or 0)
                clip_in = int(ci.findtext("in") or 0)
                for mk in ci.findall("marker"):
                    m_in = int(mk.findtext("in") or 0)
                    m_out = int(mk.findtext("out") or -1)
                    out.append(
                        ReadMarker(
                            name=mk.findtext("name") or "",
                            frame=m_in,
                            record_frame=seq_start + start + m_in - clip_in,
                            duration=m_out - m_in if m_out >= 0 else 0,
                            comment=mk.findtext("comment") or "",
                            color=mk.findtext("pproColor") or "",
                            clip=ci.findtext("name"),
                        )
                    )
            for mk in seq.findall("marker"):
                m_in = int(mk.findtext("in") or 0)
                out.append(
                    ReadMarker(
                        name=mk.findtext("name") or "",
                        record_frame=seq_start + m_in,
                        comment=mk.findtext("comment") or "",
                        color=mk.findtext("pproColor") or "",
                    )
                )
        return out
