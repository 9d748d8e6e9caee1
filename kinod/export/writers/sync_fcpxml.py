"""Synced clips and multicam clips as FCPXML: ``<sync-clip>`` and ``<mc-clip>`` in one event.

Final Cut (and Resolve's FCPXML import) open these as ready-to-cut browser clips. A
sync-clip holds the camera clip in its spine and the recorder take connected below it
(lane -1); the camera's scratch sound keeps its own role (``dialogue.scratch``) and is
switched off through ``<sync-source>``, so it is there to compare but never in the mix.
The recorder's iXML track names become the subroles of its channels.

Picture times are whole frames. Recorder times are whole *samples*: FCPXML allows
audio-only clips sub-frame times over their own sample rate, and that is what keeps a
timecode sync exact to the sample instead of to the frame.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

from kinod.export.sync_model import MulticamGroup, PictureClip, SoundFile, SyncedClip
from kinod.export.writers.fcpxml import fcp_time, frame_duration
from kinod.export.writers.xmlutil import file_url, serialize, sub
from kinod.media.fsutil import atomic_write_bytes

SCRATCH_ROLE = "dialogue.scratch"


def _t(seconds: Fraction, per_second: int) -> str:
    """``seconds`` as an FCPXML time over ``per_second`` units (frames' timebase or samples)."""
    if seconds.denominator == 1:
        return f"{seconds.numerator}s"
    units = seconds * per_second
    return f"{round(units)}/{per_second}s"


def _ft(seconds: Fraction, rate: Fraction) -> str:
    fd = frame_duration(rate)
    return fcp_time(math.floor(seconds * rate + Fraction(1, 10**6)), fd)


def _role(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_ " else "-" for ch in name).strip()
    return f"dialogue.{cleaned}" if cleaned else "dialogue"


class _Resources:
    def __init__(self, root: ET.Element) -> None:
        self.el = sub(root, "resources")
        self.formats: dict[Fraction, str] = {}
        self.assets: dict[str, str] = {}
        self.n = 0

    def _id(self) -> str:
        self.n += 1
        return f"r{self.n}"

    def format(self, rate: Fraction) -> str:
        if rate not in self.formats:
            fd = frame_duration(rate)
            self.formats[rate] = fid = self._id()
            sub(self.el, "format", id=fid, frameDuration=f"{fd[0]}/{fd[1]}s", width="1920", height="1080")
        return self.formats[rate]

    def picture(self, p: PictureClip) -> str:
        if p.path not in self.assets:
            fid = self.format(p.rate)
            self.assets[p.path] = aid = self._id()
            attrs = {"id": aid, "name": p.name, "start": _ft(p.start_s, p.rate), "duration": _ft(p.duration_s, p.rate)}
            attrs.update(hasVideo="1", format=fid, hasAudio="1" if p.audio_channels else "0")
            if p.audio_channels:
                attrs.update(audioSources="1", audioChannels=str(p.audio_channels), audioRate=str(p.audio_rate))
            asset = sub(self.el, "asset", **attrs)
            sub(asset, "media-rep", kind="original-media", src=file_url(p.path, localhost=False))
        return self.assets[p.path]

    def sound(self, s: SoundFile) -> str:
        if s.path not in self.assets:
            self.assets[s.path] = aid = self._id()
            start = s.start_s or Fraction(0)
            attrs = {"id": aid, "name": s.name, "start": _t(start, s.sample_rate)}
            attrs.update(duration=_t(s.duration_s, s.sample_rate), hasVideo="0", hasAudio="1", audioSources="1")
            attrs.update(audioChannels=str(max(1, s.channels)), audioRate=str(s.sample_rate))
            asset = sub(self.el, "asset", **attrs)
            sub(asset, "media-rep", kind="original-media", src=file_url(s.path, localhost=False))
        return self.assets[s.path]


def _sound_clip(
    parent: ET.Element, res: _Resources, s: SoundFile, at: Fraction, rate: Fraction, floor: Fraction, **extra: str
) -> None:
    """``s`` connected so that its first sample plays at parent time ``at`` (seconds, any fraction).

    The clip's offset is the frame at or after ``at`` (and not before ``floor``, where its
    parent begins); the rest moves its start into the take instead, so the sound stays
    exact to the sample.
    """
    on_frame = max(floor, Fraction(math.ceil(at * rate - Fraction(1, 10**6))) / rate)
    skip = on_frame - at
    start = (s.start_s or Fraction(0)) + skip
    length = s.duration_s - skip
    if length <= 0:
        return
    attrs = {"ref": res.sound(s), **extra, "offset": _ft(on_frame, rate), "name": s.name}
    attrs.update(start=_t(start, s.sample_rate), duration=_t(length, s.sample_rate))
    attrs["audioRole"] = _role(s.track_names[0]) if len(s.track_names) == 1 else "dialogue"
    clip = sub(parent, "asset-clip", **attrs)
    if len(s.track_names) > 1:
        for ch, name in enumerate(s.track_names, start=1):
            sub(clip, "audio-channel-source", srcCh=str(ch), role=_role(name))


def _sync_clip(event: ET.Element, res: _Resources, clip: SyncedClip) -> None:
    p = clip.picture
    start, dur = _ft(p.start_s, p.rate), _ft(p.duration_s, p.rate)
    sc = sub(event, "sync-clip", name=f"{p.name} synced", offset="0s", start=start, duration=dur)
    sc.set("format", res.format(p.rate))
    sc.set("tcFormat", "DF" if p.drop_frame else "NDF")
    spine = sub(sc, "spine")
    attrs = {"ref": res.picture(p), "offset": start, "name": p.name, "start": start, "duration": dur}
    if p.audio_channels:
        attrs["audioRole"] = SCRATCH_ROLE
    sub(spine, "asset-clip", **attrs, tcFormat="DF" if p.drop_frame else "NDF")
    for m in clip.synced:
        _sound_clip(sc, res, m.sound, p.start_s + m.offset_s, p.rate, p.start_s, lane="-1")
    if p.audio_channels:
        source = sub(sc, "sync-source", sourceID="storyline")
        sub(source, "audio-role-source", role=SCRATCH_ROLE, active="0")


def _multicam(res: _Resources, event: ET.Element, group: MulticamGroup, number: int) -> None:
    rate = group.rate
    mid = res._id()
    media = sub(res.el, "media", id=mid, name=group.name)
    mc = sub(media, "multicam", format=res.format(rate), tcStart="0s", tcFormat="NDF")
    video_angle = audio_angle = ""
    for i, angle in enumerate(group.angles, start=1):
        angle_id = f"m{number}a{i}"
        video_angle = video_angle or angle_id
        el = sub(mc, "mc-angle", name=angle.picture.name, angleID=angle_id)
        if angle.at_s > 0:
            sub(el, "gap", name="Gap", offset="0s", duration=_ft(angle.at_s, rate))
        p = angle.picture
        attrs = {"ref": res.picture(p), "offset": _ft(angle.at_s, rate), "name": p.name}
        attrs.update(start=_ft(p.start_s, p.rate), duration=_ft(p.duration_s, p.rate))
        sub(el, "asset-clip", **attrs, audioRole=SCRATCH_ROLE)
    for k, (sound, at) in enumerate(group.sounds, start=1):
        angle_id = f"m{number}s{k}"
        audio_angle = audio_angle or angle_id
        el = sub(mc, "mc-angle", name=sound.name, angleID=angle_id)
        if at > 0:
            sub(el, "gap", name="Gap", offset="0s", duration=_ft(at, rate))
        _sound_clip(el, res, sound, at, rate, Fraction(0))
    mcc = sub(event, "mc-clip", ref=mid, offset="0s", name=group.name, duration=_ft(group.duration_s, rate))
    sub(mcc, "mc-source", angleID=video_angle, srcEnable="video")
    sub(mcc, "mc-source", angleID=audio_angle or video_angle, srcEnable="audio")


def build_sync_fcpxml(
    clips: list[SyncedClip], groups: list[MulticamGroup], name: str, version: str = "1.10"
) -> ET.Element:
    root = ET.Element("fcpxml", {"version": version})
    res = _Resources(root)
    event = ET.Element("event", name=name)
    for clip in clips:
        if clip.synced:
            _sync_clip(event, res, clip)
    for n, group in enumerate(groups, start=1):
        _multicam(res, event, group, n)
    root.append(event)
    return root


def write_sync_fcpxml(clips: list[SyncedClip], groups: list[MulticamGroup], dest: Path, name: str) -> Path:
    atomic_write_bytes(dest, serialize(build_sync_fcpxml(clips, groups, name), "fcpxml", indent="    "))
    return dest
