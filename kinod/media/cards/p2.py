"""Panasonic P2: ``CONTENTS/VIDEO/<clip>.MXF`` + ``CONTENTS/AUDIO/<clip>NN.MXF`` + ``CONTENTS/CLIP/<clip>.XML``.

P2 writes MXF OP-Atom: the picture and every audio channel are separate files,
tied together only by the clip XML. Editors must see them as one clip with N audio
channels, so the video essence and its ``NN`` audio essences form one CardClip.
The clip XML (P2Main) carries the start timecode, the user clip name, the camera
and the shot mark. A recording that spanned several clips (a long take over 4 GB or
across cards) shares one ``GlobalShotID``; clips of one shot on the same card are
joined in ``OffsetInShot`` order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from kinod.media.cards.common import CardBuilder, CardFile, CardFiles, camera_rate, clip_file, normalise_tc, rate_str
from kinod.media.cards.model import Camera, CardClip, Mark
from kinod.media.cards.xmlsafe import UnsafeXMLError, child, find_path, iter_local, local, parse_xml, text
from kinod.media.timecode import TimecodeSource

NAME = "p2"

_CLIP_XML_RE = re.compile(r"(^|/)CONTENTS/CLIP/[^/]+\.XML$", re.IGNORECASE)
_VIDEO_RE = re.compile(r"(^|/)CONTENTS/VIDEO/[^/]+\.MXF$", re.IGNORECASE)
_CONTENTS_RE = re.compile(r"(^|/)CONTENTS/(AUDIO|VIDEO|CLIP|ICON|PROXY|VOICE)/", re.IGNORECASE)


@dataclass
class P2Meta:
    path: Path
    clip_name: str | None = None
    start_tc: str | None = None
    drop_frame: bool = False
    rate: Fraction | None = None
    duration_frames: int | None = None
    audio_channels: int = 0
    camera: Camera = field(default_factory=Camera)
    user_clip_name: str | None = None
    shot_mark: bool = False
    global_shot_id: str | None = None
    offset_in_shot: int = 0
    marks: list[Mark] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def parse_clip_xml(path: Path) -> P2Meta:
    """Read a P2 clip XML. Raises UnsafeXMLError for unreadable, hostile or non-P2 XML."""
    root = parse_xml(path)
    if local(root.tag) != "P2Main":
        raise UnsafeXMLError(f"{path}: not a P2 clip file (root element is {local(root.tag)!r})")
    content = child(root, "ClipContent")
    if content is None:
        raise UnsafeXMLError(f"{path}: P2 clip file has no ClipContent")
    meta = P2Meta(path, clip_name=text(content, "ClipName"))
    video = find_path(content, "EssenceList", "Video")
    label = text(video, "StartTimecode")
    meta.rate, interlaced = camera_rate(text(video, "FrameRate"))
    edit_unit = text(content, "EditUnit")
    if meta.rate is None and edit_unit and re.fullmatch(r"\d+/\d+", edit_unit):
        num, den = edit_unit.split("/")
        if int(num):
            meta.rate = Fraction(int(den), int(num))
    if label:
        norm = normalise_tc(label, meta.rate)
        if norm is not None:
            meta.start_tc, meta.drop_frame = norm
        else:
            meta.metadata["invalid_start_timecode"] = label
    duration = text(content, "Duration")
    if duration and duration.isdigit():
        meta.duration_frames = int(duration)
    meta.audio_channels = len([a for a in (find_path(content, "EssenceList") or []) if local(a.tag) == "Audio"])
    meta.metadata.update(
        {
            "codec": text(video, "Codec"),
            "frame_rate_label": text(video, "FrameRate"),
            "interlaced": interlaced,
            "aspect_ratio": text(video, "AspectRatio"),
            "global_clip_id": text(content, "GlobalClipID"),
        }
    )
    relation = child(content, "Relation")
    meta.global_shot_id = text(relation, "GlobalShotID")
    offset = text(relation, "OffsetInShot")
    meta.offset_in_shot = int(offset) if offset and offset.isdigit() else 0
    cm = child(content, "ClipMetadata")
    meta.user_clip_name = text(cm, "UserClipName")
    device = child(cm, "Device")
    meta.camera = Camera(text(device, "Manufacturer"), text(device, "ModelName"), text(device, "SerialNo."))
    meta.shot_mark = (text(cm, "ShotMark") or "").lower() == "true"
    if meta.shot_mark:
        meta.marks.append(Mark("Shot mark", None, "P2 ShotMark on the clip"))
    for memo in iter_local(cm, "Memo") if cm is not None else []:
        offset_text = text(memo, "Offset")
        body = text(memo, "Text") or ""
        frame = int(offset_text) if offset_text and offset_text.isdigit() else None
        if body or frame is not None:
            meta.marks.append(Mark("Text memo", frame, body))
    shoot = child(cm, "Shoot")
    if shoot is not None:
        meta.metadata["shoot_start"] = text(shoot, "StartDate")
        loc = child(shoot, "Location")
        if loc is not None:
            meta.metadata["location"] = {k: text(loc, k) for k in ("Latitude", "Longitude", "Altitude", "PlaceName")}
    created = find_path(cm, "Access", "CreationDate")
    if created is not None and created.text:
        meta.metadata["creation_date"] = created.text.strip()
    meta.metadata = {k: v for k, v in meta.metadata.items() if v not in (None, "")}
    return meta


def detect(files: CardFiles) -> bool:
    return any(_CLIP_XML_RE.search(rel) or _VIDEO_RE.search(rel) for rel in files.files)


def parse(files: CardFiles, out: CardBuilder) -> None:
    contents_dirs = sorted({_contents_dir(f.rel) for f in files.matching(_CONTENTS_RE)})
    for contents in contents_dirs:
        _parse_contents(files, out, contents)
    for f in list(files.unclaimed()):
        if f.name.upper() == "LASTCLIP.TXT":
            out.skip(f, "P2 card housekeeping")


def _contents_dir(rel: str) -> str:
    m = re.search(r"(^|.*/)CONTENTS/", rel, re.IGNORECASE)
    return m.group(0)[:-1] if m else "CONTENTS"


def _parse_contents(files: CardFiles, out: CardBuilder, contents: str) -> None:
    shots: dict[str, list[tuple[int, CardClip]]] = {}
    companions = _companions(files, contents)
    xmls = [f for f in files.matching(_CLIP_XML_RE) if f.rel.lower().startswith(contents.lower() + "/")]
    for xml in sorted(xmls, key=lambda f: f.rel):
        name = xml.path.stem
        clip = CardClip(name=name, family=NAME)
        members: list[CardFile] = [xml]
        clip.sidecars.append(xml.rel)
        try:
            meta = parse_clip_xml(xml.path)
        except UnsafeXMLError as e:
            meta = None
            clip.problems.append(str(e))
        video = files.find_ci(contents + "/VIDEO", name + ".MXF")
        if video is not None:
            clip.files.append(clip_file(video, "video"))
            members.append(video)
        audio = _audio_essences(files, contents, name)
        for ch, f in audio:
            clip.files.append(clip_file(f, "audio", channel=ch))
            members.append(f)
        if meta is not None:
            apply_meta(clip, meta)
            if meta.audio_channels and meta.audio_channels != len(audio):
                clip.problems.append(
                    f"{xml.rel}: the clip lists {meta.audio_channels} audio channels, {len(audio)} found on the card"
                )
        if video is None and not audio:
            clip.problems.append(f"{xml.rel}: no essence files (VIDEO/{name}.MXF, AUDIO/{name}NN.MXF) on the card")
        out.add_clip(clip, members)
        _skip_companions(files, out, companions, name)
        if meta is not None and meta.global_shot_id:
            shots.setdefault(meta.global_shot_id, []).append((meta.offset_in_shot, clip))
    # Video essences without a clip XML are still clips.
    for f in sorted(files.matching(_VIDEO_RE), key=lambda f: f.rel):
        if not f.rel.lower().startswith(contents.lower() + "/"):
            continue
        clip = CardClip(name=f.path.stem, family=NAME, files=[clip_file(f, "video")])
        members = [f]
        for ch, a in _audio_essences(files, contents, f.path.stem):
            clip.files.append(clip_file(a, "audio", channel=ch))
            members.append(a)
        clip.problems.append(f"{f.rel}: no clip XML in CLIP/; timecode and metadata from the essence only")
        out.add_clip(clip, members)
        _skip_companions(files, out, companions, f.path.stem)
    for f in list(files.unclaimed()):
        if f.rel.lower().startswith(contents.lower() + "/") and _CONTENTS_RE.search(f.rel):
            out.skip(f, "P2 essence or sidecar without a clip")
    _join_spanned(out, shots)


def _audio_essences(files: CardFiles, contents: str, name: str) -> list[tuple[int, CardFile]]:
    found = []
    for ch in range(0, 64):
        f = files.find_ci(contents + "/AUDIO", f"{name}{ch:02d}.MXF")
        if f is not None:
            found.append((ch + 1, f))
    return found


def apply_meta(clip: CardClip, meta: P2Meta) -> None:
    clip.camera = meta.camera
    clip.rate = rate_str(meta.rate)
    clip.duration_frames = meta.duration_frames
    clip.user_clip_name = meta.user_clip_name
    clip.marks.extend(meta.marks)
    clip.metadata.update(meta.metadata)
    if meta.global_shot_id:
        clip.metadata["global_shot_id"] = meta.global_shot_id
    if meta.start_tc:
        clip.start_tc, clip.drop_frame = meta.start_tc, meta.drop_frame
        clip.tc_source = TimecodeSource.CAMERA_XML.value
    elif "invalid_start_timecode" in meta.metadata:
        clip.problems.append(f"{meta.path}: StartTimecode {meta.metadata['invalid_start_timecode']!r} is not valid")


_COMPANIONS = {"ICON": "thumbnail", "PROXY": "camera proxy (P2 proxy)", "VOICE": "voice memo"}


def _companions(files: CardFiles, contents: str) -> list[CardFile]:
    prefix = contents.lower() + "/"
    return [
        f
        for f in files.unclaimed()
        if f.rel.lower().startswith(prefix) and len(f.parts) > 1 and f.parts[-2].upper() in _COMPANIONS
    ]


def _skip_companions(files: CardFiles, out: CardBuilder, candidates: list[CardFile], name: str) -> None:
    for f in candidates:
        if f.rel not in files.claimed and f.path.stem.upper().startswith(name.upper()):
            out.skip(f, _COMPANIONS[f.parts[-2].upper()], name)


def _join_spanned(out: CardBuilder, shots: dict[str, list[tuple[int, CardClip]]]) -> None:
    for shot_id, members in shots.items():
        if len(members) < 2:
            continue
        members.sort(key=lambda m: m[0])
        head = members[0][1]
        for _, clip in members[1:]:
            for f in clip.files:
                head.files.append(f if f.role != "video" else _as_part(f))
            head.sidecars.extend(clip.sidecars)
            head.problems.extend(clip.problems)
            if head.duration_frames is not None and clip.duration_frames is not None:
                head.duration_frames += clip.duration_frames
            out.card.clips.remove(clip)
        head.files = [_as_part(f) if f.role == "video" else f for f in head.files]
        head.metadata["spanned_clips"] = [m[1].name for m in members]
        head.metadata["global_shot_id"] = shot_id


def _as_part(f: Any) -> Any:
    f.role = "part"
    return f
