"""Canon cards: XF (``CONTENTS/CLIPS001/<clip>/<clip>NN.MXF``), XF-AVC (``CONTENTS/CLIPS001/*.MXF``),
MP4 and Cinema RAW Light (``DCIM/100CANON``, ``DCIM/*EOS*``), with ``PRIVATE`` housekeeping.

XF clip folders hold one recording, spanned over numbered MXF parts at the card's
file-size limit, so a folder is one clip. Canon's XML sidecars differ by model and
firmware and their schema is not published; kinod reads only what it can recognise
by name (a ``StartTimecode``/``Timecode`` element, ``Manufacturer``/``ModelName``/
``SerialNo``) and otherwise falls back to the container's timecode. Cinema RAW Light
(``.CRM``) is recorded but not analysed: ffmpeg has no decoder for it.
"""

from __future__ import annotations

import re
from pathlib import Path

from kinod.media.cards.common import (
    STILL_EXTENSIONS,
    CardBuilder,
    CardFile,
    CardFiles,
    camera_rate,
    clip_file,
    normalise_tc,
    rate_str,
)
from kinod.media.cards.model import Camera, CardClip
from kinod.media.cards.xmlsafe import UnsafeXMLError, iter_local, local, parse_xml
from kinod.media.timecode import TimecodeSource

NAME = "canon"

_XF_RE = re.compile(r"(^|/)CONTENTS/CLIPS\d{3}/", re.IGNORECASE)
_DCIM_RE = re.compile(r"(^|/)DCIM/\d{3}(CANON|EOS[^/]*)/", re.IGNORECASE)
_PRIVATE_RE = re.compile(r"(^|/)PRIVATE/", re.IGNORECASE)
_MEDIA = (".mxf", ".mp4", ".mov", ".crm")


def detect(files: CardFiles) -> bool:
    return any(_XF_RE.search(rel) or _DCIM_RE.search(rel) for rel in files.files)


def parse(files: CardFiles, out: CardBuilder) -> None:
    folders: dict[str, list[CardFile]] = {}
    loose: list[CardFile] = []
    for f in files.matching(_XF_RE):
        parts = f.rel.split("/")
        idx = next(i for i, p in enumerate(parts) if re.fullmatch(r"CLIPS\d{3}", p, re.IGNORECASE))
        if len(parts) - idx > 2:  # CLIPS001/<clip folder>/<file>
            folders.setdefault("/".join(parts[: idx + 2]), []).append(f)
        else:
            loose.append(f)
    for folder, members in sorted(folders.items()):
        _folder_clip(out, folder, members)
    for f in sorted(loose, key=lambda f: f.rel):
        if f.suffix in _MEDIA:
            _single_clip(files, out, f)
    for f in sorted(files.matching(_DCIM_RE), key=lambda f: f.rel):
        if f.suffix in _MEDIA and f.rel not in files.claimed:
            _single_clip(files, out, f)
    for f in list(files.unclaimed()):
        if _XF_RE.search(f.rel) or _DCIM_RE.search(f.rel):
            if f.suffix in STILL_EXTENSIONS:
                out.skip(f, "still photo or thumbnail")
            elif f.suffix in (".xml", ".cif", ".cpf", ".thm", ".rmf", ".ctg", ".xmp"):
                out.skip(f, "Canon clip info or thumbnail")
        elif _PRIVATE_RE.search(f.rel) and f.suffix not in _MEDIA:
            out.skip(f, "Canon card housekeeping (PRIVATE)")


def _folder_clip(out: CardBuilder, folder: str, members: list[CardFile]) -> None:
    name = folder.rsplit("/", 1)[-1]
    media = sorted((m for m in members if m.suffix in _MEDIA), key=lambda m: m.rel)
    if not media:
        return
    role = "part" if len(media) > 1 else "av"
    clip = CardClip(name=name, family=NAME, files=[clip_file(m, role) for m in media])
    claimed = list(media)
    xml = next((m for m in members if m.suffix == ".xml" and m.path.stem.upper() == name.upper()), None)
    xml = xml or next((m for m in members if m.suffix == ".xml"), None)
    if xml is not None:
        claimed.append(xml)
        clip.sidecars.append(xml.rel)
        apply_generic_xml(clip, xml.path)
    _mark_raw(clip)
    out.add_clip(clip, claimed)


def _single_clip(files: CardFiles, out: CardBuilder, f: CardFile) -> None:
    clip = CardClip(name=f.path.stem, family=NAME, files=[clip_file(f, "av")])
    claimed = [f]
    folder = f.rel.rsplit("/", 1)[0] if "/" in f.rel else ""
    xml = files.find_ci(folder, f.path.stem + ".XML")
    if xml is not None and xml.rel not in files.claimed:
        claimed.append(xml)
        clip.sidecars.append(xml.rel)
        apply_generic_xml(clip, xml.path)
    _mark_raw(clip)
    out.add_clip(clip, claimed)


def _mark_raw(clip: CardClip) -> None:
    if any(f.path.suffix.lower() == ".crm" for f in clip.files):
        clip.analysable = False
        clip.not_analysed_reason = "Canon Cinema RAW Light (.CRM): ffmpeg has no decoder; recorded only"
        if clip.camera.make is None:
            clip.camera.make = "Canon"


_TC_NAMES = ("StartTimecode", "StartTimeCode", "StartTC", "Timecode", "TimeCode")


def apply_generic_xml(clip: CardClip, path: Path) -> None:
    """Take what is recognisable by name from a camera XML whose schema we do not know."""
    try:
        root = parse_xml(path)
    except UnsafeXMLError as e:
        clip.problems.append(str(e))
        return
    values: dict[str, str] = {}
    for el in root.iter():
        name = local(el.tag)
        if el.text and el.text.strip() and name not in values:
            values[name] = el.text.strip()
        for k, v in el.attrib.items():
            values.setdefault(local(k), v)
    rate, _ = camera_rate(values.get("FrameRate") or values.get("CaptureFps") or values.get("formatFps"))
    for key in _TC_NAMES:
        label = values.get(key)
        norm = normalise_tc(label, rate) if label else None
        if norm is not None:
            clip.start_tc, clip.drop_frame = norm
            clip.tc_source = TimecodeSource.CAMERA_XML.value
            break
    clip.rate = clip.rate or rate_str(rate)
    make = values.get("Manufacturer") or values.get("manufacturer")
    model = values.get("ModelName") or values.get("modelName")
    serial = values.get("SerialNo") or values.get("SerialNo.") or values.get("serialNo") or values.get("SerialNumber")
    if make or model or serial:
        clip.camera = Camera(make, model, serial)
    user = values.get("UserClipName") or values.get("ClipTitle") or values.get("Title")
    if user and user != clip.name:
        clip.user_clip_name = user
    for el in iter_local(root, "Reel"):
        if el.text and el.text.strip():
            clip.reel = el.text.strip()
            break
