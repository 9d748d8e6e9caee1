"""Production sound: Broadcast WAV from recorders (Sound Devices, Zoom, Zaxcom, Aaton...).

A take is either one polyphonic file (all tracks interleaved) or several split-mono
files. Split files of one take are grouped by the iXML ``FILE_SET/FAMILY_UID`` when
the recorder wrote one, else by a common name with a track suffix (``T01_1.WAV``,
``220101_001_Tr1.WAV``, ``SC1-T3_2.WAV``) *and* the same ``bext`` time reference, so
two takes that merely look alike are never merged. The start timecode comes from the
time reference at the recorder's iXML timecode rate; without one, at the card's
video rate or ``cards.audio_tc_rate`` (:mod:`kinod.media.cards.tcrate`), and said so.
"""

from __future__ import annotations

import re

from kinod.media.cards.bwf import BwfError, BwfInfo, read_bwf
from kinod.media.cards.common import CardBuilder, CardFile, CardFiles, clip_file, rate_str
from kinod.media.cards.model import Camera, CardClip
from kinod.media.timecode import TimecodeSource

NAME = "audio"

_WAV = (".wav", ".bwf")
_TRACK_SUFFIX = re.compile(r"(.+?)[_-](?:Tr|T|CH|Ch)?(\d{1,2})", re.IGNORECASE)


def detect(files: CardFiles) -> bool:
    return any(f.suffix in _WAV for f in files.files.values())


def parse(files: CardFiles, out: CardBuilder) -> None:
    infos: list[tuple[CardFile, BwfInfo | None]] = []
    for f in sorted(files.unclaimed(), key=lambda f: f.rel):
        if f.suffix not in _WAV:
            continue
        try:
            infos.append((f, read_bwf(f.path)))
        except BwfError as e:
            infos.append((f, None))
            out.problem(f.rel, str(e))
    groups: dict[tuple[str, ...], list[tuple[int, CardFile, BwfInfo | None]]] = {}
    for f, info in infos:
        folder = f.rel.rsplit("/", 1)[0] if "/" in f.rel else ""
        key: tuple[str, ...]
        order = 0
        if info is not None and info.family_uid and (info.file_set_total or 0) > 1:
            key = ("family", folder, info.family_uid)
            order = info.file_set_index or 0
        elif info is not None and (m := _TRACK_SUFFIX.fullmatch(f.path.stem)) and info.time_reference is not None:
            key = ("split", folder, m.group(1).upper(), str(info.time_reference))
            order = int(m.group(2))
        else:
            key = ("single", f.rel)
        groups.setdefault(key, []).append((order, f, info))
    for key, members in sorted(groups.items(), key=lambda kv: kv[1][0][1].rel):
        if key[0] == "split" and len(members) == 1:
            key = ("single", members[0][1].rel)
        members.sort(key=lambda m: (m[0], m[1].rel))
        _add_take(out, key[0] != "single", members)


def _add_take(out: CardBuilder, split: bool, members: list[tuple[int, CardFile, BwfInfo | None]]) -> None:
    first_file, first = members[0][1], members[0][2]
    name = first_file.path.stem
    if split and (m := _TRACK_SUFFIX.fullmatch(name)):
        name = m.group(1)
    clip = CardClip(name=name, family=NAME)
    for i, (_, f, info) in enumerate(members, start=1):
        track = None
        if info is not None and info.tracks:
            track = info.tracks[0].name if split or len(info.tracks) == 1 else None
        clip.files.append(clip_file(f, "audio", channel=i if split else None, track_name=track or None))
        if info is not None:
            clip.problems.extend(info.problems)
    if first is not None:
        _apply(clip, first, split)
    out.add_clip(clip, [m[1] for m in members])


def _apply(clip: CardClip, info: BwfInfo, split: bool) -> None:
    clip.scene, clip.take, clip.tape, clip.note = info.scene, info.take, info.tape, info.note
    clip.reel = info.tape
    clip.camera = Camera(make=info.originator or None)
    if clip.camera.is_empty():
        clip.camera = Camera()
    md: dict[str, object] = {
        "bwf": True if info.has_bext else None,
        "ixml": True if info.has_ixml else None,
        "project": info.project,
        "circled": info.circled,
        "sample_rate": info.sample_rate or None,
        "bits": info.bits or None,
        "channels_per_file": info.channels or None,
        "time_reference": info.time_reference,
        "originator_reference": info.originator_reference or None,
        "origination": f"{info.origination_date} {info.origination_time}".strip() or None,
        "layout": "split-mono" if split else ("polyphonic" if info.channels > 1 else "mono"),
    }
    if not split and info.tracks:
        md["track_names"] = [t.name for t in sorted(info.tracks, key=lambda t: t.channel)]
    clip.metadata.update({k: v for k, v in md.items() if v is not None})
    tc = info.start_tc()
    if tc is not None:
        clip.start_tc, _, clip.drop_frame = tc
        clip.rate = rate_str(info.tc_rate)
        clip.tc_source = TimecodeSource.CONTAINER.value
    elif info.time_reference is not None:
        clip.metadata["timecode_note"] = (
            "bext time reference present but no iXML timecode rate; the start is labelled at the card's "
            "video rate, else cards.audio_tc_rate (the sidecar's probe.bwf.tc_rate_source says which)"
        )
