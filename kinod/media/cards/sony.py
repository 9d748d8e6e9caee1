"""Sony cards: XAVC S / XAVC HS (``PRIVATE/M4ROOT/CLIP``), XDCAM and XAVC (``XDROOT/Clip``), XDCAM EX (``BPAV/CLPR``).

Every clip has a ``<clip>M01.XML`` NonRealTimeMeta sidecar written by the camera.
It is the best source of the start timecode: the ``LtcChangeTable`` entry at frame
0 holds the camera's TC generator value as a packed SMPTE 12M word written as 8
hex digits, frames byte first (``FFSSMMHH``), BCD, with the drop-frame flag in bit
6 of the frames byte (``67460811`` is ``11:08:46;27``). Consumer bodies sometimes
write ``HH:MM:SS:FF`` instead; both are read. At 50p/59.94p the table may count at
half rate (``halfStep="true"``, ``tcFps="25"``): the label is then re-counted at the
clip's real rate, as NLEs do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from kinod.media.cards.common import CardBuilder, CardFile, CardFiles, camera_rate, clip_file, rate_str
from kinod.media.cards.model import Camera, CardClip, Mark
from kinod.media.cards.xmlsafe import UnsafeXMLError, child, iter_local, local, parse_xml
from kinod.media.timecode import TimecodeSource, frames_to_tc, supports_drop_frame, tc_to_frames

NAME = "sony"

_CLIP_RE = re.compile(
    r"(^|/)(PRIVATE/M4ROOT/CLIP/[^/]+\.MP4|XDROOT/Clip/[^/]+\.MXF|BPAV/CLPR/[^/]+/[^/]+\.MP4)$", re.IGNORECASE
)
_ROOT_RE = re.compile(r"(^|/)(PRIVATE/M4ROOT|XDROOT|BPAV)/", re.IGNORECASE)


@dataclass
class NrtMeta:
    """What a NonRealTimeMeta sidecar says about its clip."""

    path: Path
    start_tc: str | None = None
    drop_frame: bool = False
    rate: Fraction | None = None
    capture_rate: Fraction | None = None
    interlaced: bool = False
    duration_frames: int | None = None
    camera: Camera = field(default_factory=Camera)
    title: str | None = None
    creation_date: str | None = None
    lens: str | None = None
    marks: list[Mark] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def decode_ltc_value(value: str) -> tuple[int, int, int, int, bool]:
    """(hh, mm, ss, ff, drop_frame) from an LtcChange value; ValueError naming the value if invalid."""
    v = value.strip()
    m = re.fullmatch(r"(\d{2})[:;.,](\d{2})[:;.,](\d{2})([:;.,])(\d{2})", v)
    if m:
        return int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(5)), m.group(4) in ";,"
    if not re.fullmatch(r"[0-9A-Fa-f]{8}", v):
        raise ValueError(f"LTC value {value!r} is neither 8 hex digits nor HH:MM:SS:FF")
    ff_b, ss_b, mm_b, hh_b = (int(v[i : i + 2], 16) for i in (0, 2, 4, 6))

    def bcd(b: int) -> int:
        hi, lo = b >> 4, b & 0x0F
        if hi > 9 or lo > 9:
            raise ValueError(f"LTC value {value!r} is not BCD")
        return hi * 10 + lo

    return bcd(hh_b & 0x3F), bcd(mm_b & 0x7F), bcd(ss_b & 0x7F), bcd(ff_b & 0x3F), bool(ff_b & 0x40)


def parse_nrt(path: Path) -> NrtMeta:
    """Read a NonRealTimeMeta sidecar. Raises UnsafeXMLError for unreadable or hostile XML."""
    root = parse_xml(path)
    meta = NrtMeta(path)
    if local(root.tag) != "NonRealTimeMeta":
        raise UnsafeXMLError(f"{path}: not a Sony NonRealTimeMeta file (root element is {local(root.tag)!r})")
    frame = next(iter_local(root, "VideoFrame"), None)
    if frame is not None:
        meta.rate, meta.interlaced = camera_rate(frame.get("formatFps"))
        meta.capture_rate, _ = camera_rate(frame.get("captureFps"))
        meta.metadata["video_codec"] = frame.get("videoCodec")
        meta.metadata["capture_fps"] = frame.get("captureFps")
        meta.metadata["format_fps"] = frame.get("formatFps")
    dur = child(root, "Duration")
    if dur is not None and (dur.get("value") or "").isdigit():
        meta.duration_frames = int(dur.get("value") or 0)
    device = child(root, "Device")
    if device is not None:
        meta.camera = Camera(device.get("manufacturer"), device.get("modelName"), device.get("serialNo"))
    lens = child(root, "Lens")
    if lens is not None:
        meta.lens = lens.get("modelName")
    title = child(root, "Title")
    if title is not None:
        meta.title = title.get("usAscii") or title.get("international") or None
    created = child(root, "CreationDate")
    if created is not None:
        meta.creation_date = created.get("value")
    _read_ltc(root, meta)
    for em in iter_local(root, "EssenceMark"):
        name, fc = em.get("value") or "", em.get("frameCount") or ""
        if name and fc.isdigit() and name not in ("_RecStart", "_RecEnd"):
            meta.marks.append(Mark(name.lstrip("_"), int(fc)))
    acq: dict[str, str] = {}
    for item in iter_local(root, "Item"):
        n, v = item.get("name"), item.get("value")
        if n and v is not None and len(acq) < 64:
            acq[n] = v
    if acq:
        meta.metadata["acquisition"] = acq
    return meta


def _read_ltc(root: Any, meta: NrtMeta) -> None:
    table = next(iter_local(root, "LtcChangeTable"), None)
    if table is None:
        return
    entries = [e for e in table if local(e.tag) == "LtcChange"]
    start = next((e for e in entries if (e.get("frameCount") or "").strip() == "0"), None)
    if start is None or not start.get("value"):
        return
    try:
        hh, mm, ss, ff, df = decode_ltc_value(start.get("value") or "")
    except ValueError as e:
        meta.problems.append(f"{meta.path}: {e}")
        return
    sep = ";" if df else ":"
    label = f"{hh:02d}:{mm:02d}:{ss:02d}{sep}{ff:02d}"
    rate = meta.rate
    half = (table.get("halfStep") or "").lower() == "true"
    tc_fps = (table.get("tcFps") or "").strip()
    if rate is None:
        meta.start_tc, meta.drop_frame = label, df
        return
    tc_rate = rate / 2 if half and tc_fps.isdigit() and round(rate) == 2 * int(tc_fps) else rate
    df = df and supports_drop_frame(tc_rate)
    try:
        frames = tc_to_frames(label, tc_rate, df)
    except ValueError as e:
        meta.problems.append(f"{meta.path}: start timecode {label!r} impossible at {rate_str(tc_rate)}: {e}")
        return
    if tc_rate != rate:
        frames *= 2
    df = df and supports_drop_frame(rate)
    meta.start_tc, meta.drop_frame = frames_to_tc(frames, rate, df), df


def sidecar_for(media: Path) -> Path | None:
    """``C0001.MP4`` -> ``C0001M01.XML`` beside it (any case), if present."""
    try:
        names = {p.name.lower(): p for p in media.parent.iterdir()}
    except OSError:
        return None
    return names.get(f"{media.stem.lower()}m01.xml")


def detect(files: CardFiles) -> bool:
    return any(_CLIP_RE.search(rel) for rel in files.files)


def parse(files: CardFiles, out: CardBuilder) -> None:
    companions = [g for g in files.unclaimed() if len(g.parts) > 1 and g.parts[-2].upper() in ("SUB", "THMBNL")]
    for f in sorted(files.matching(_CLIP_RE), key=lambda f: f.rel):
        folder = f.rel.rsplit("/", 1)[0]
        clip = CardClip(name=f.path.stem, family=NAME, files=[clip_file(f, "av")])
        members: list[CardFile] = [f]
        xml = files.find_ci(folder, f.path.stem + "M01.XML")
        if xml is None:
            clip.problems.append(f"{f.rel}: no {f.path.stem}M01.XML sidecar; timecode from the file only")
        else:
            members.append(xml)
            clip.sidecars.append(xml.rel)
            apply_nrt(clip, xml.path)
        out.add_clip(clip, members)
        _skip_companions(files, out, f, companions)
    _skip_housekeeping(files, out)


def apply_nrt(clip: CardClip, xml: Path) -> None:
    try:
        meta = parse_nrt(xml)
    except UnsafeXMLError as e:
        clip.problems.append(str(e))
        return
    clip.problems.extend(meta.problems)
    clip.camera = meta.camera
    clip.rate = rate_str(meta.rate)
    clip.duration_frames = meta.duration_frames
    clip.user_clip_name = meta.title
    clip.marks.extend(meta.marks)
    if meta.start_tc:
        clip.start_tc, clip.drop_frame = meta.start_tc, meta.drop_frame
        clip.tc_source = TimecodeSource.CAMERA_XML.value
    clip.metadata.update({k: v for k, v in meta.metadata.items() if v is not None})
    if meta.lens:
        clip.metadata["lens"] = meta.lens
    if meta.creation_date:
        clip.metadata["creation_date"] = meta.creation_date
    if meta.capture_rate and meta.rate and meta.capture_rate != meta.rate:
        clip.metadata["slow_fast_motion"] = f"captured at {rate_str(meta.capture_rate)}, plays at {clip.rate}"


def _skip_companions(files: CardFiles, out: CardBuilder, media: CardFile, candidates: list[CardFile]) -> None:
    """Sony's own proxies (``SUB/C0001S03.MP4``, ``Sub/C0001S01.MXF``) and thumbnails of this clip."""
    stem = media.path.stem.upper()
    for g in candidates:
        if g.rel in files.claimed:
            continue
        name = g.path.stem.upper()
        if g.parts[-2].upper() == "SUB" and re.fullmatch(re.escape(stem) + r"S\d\d", name):
            out.skip(g, "camera proxy (Sony sub clip)", media.path.stem)
        elif g.parts[-2].upper() == "THMBNL" and name.startswith(stem + "T"):
            out.skip(g, "thumbnail", media.path.stem)


def _skip_housekeeping(files: CardFiles, out: CardBuilder) -> None:
    for g in list(files.unclaimed()):
        if not _ROOT_RE.search(g.rel):
            continue
        upper = g.rel.upper()
        if g.suffix in (".xml", ".bin", ".bim", ".smi", ".ppn", ".bdm", ".cpi", ".mpl") or "/THMBNL/" in upper:
            out.skip(g, "Sony card index or camera housekeeping")
        elif "/SUB/" in upper:
            out.skip(g, "camera proxy (Sony sub clip) without its main clip")
