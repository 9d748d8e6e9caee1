"""Broadcast WAV: the ``bext`` and ``iXML`` chunks production sound recorders write.

We read the chunk headers ourselves (RIFF, RF64 and BW64 alike) instead of asking
MediaInfo, because the two facts editors need are not reliably exposed elsewhere:

* ``bext.TimeReference``: the recording's start as *samples since midnight*, i.e.
  real time; the start timecode is that time counted at the project frame rate
  (:func:`kinod.media.timecode.bwf_time_reference_to_frames`);
* ``iXML``: scene, take, tape, circled, note, per-track names, the timecode rate and
  drop-frame flag the recorder ran at, and the ``FILE_SET`` family that ties the
  split-mono files of one take together.

Only headers are read; the data chunk is skipped with a seek, so a 4 GB poly file
costs a few reads. Hostile sizes (a chunk running past the end of the file) stop
the walk with a problem instead of a crash.
"""

from __future__ import annotations

import re
import struct
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

from kinod.media.cards.xmlsafe import UnsafeXMLError, child, children, parse_xml_bytes, text
from kinod.media.timecode import (
    bwf_time_reference_to_frames,
    frames_to_tc,
    parse_rate,
    supports_drop_frame,
)

MAX_CHUNKS = 512
MAX_IXML_BYTES = 4 * 1024 * 1024
BEXT_MIN = 602


class BwfError(ValueError):
    """Not a WAV file kinod can read; names the file."""


@dataclass
class BwfTrack:
    channel: int
    name: str = ""


@dataclass
class BwfInfo:
    path: Path
    channels: int = 0
    sample_rate: int = 0
    bits: int = 0
    audio_format: int = 0
    data_bytes: int = 0
    has_bext: bool = False
    description: str = ""
    originator: str = ""
    originator_reference: str = ""
    origination_date: str = ""
    origination_time: str = ""
    time_reference: int | None = None
    coding_history: str = ""
    has_ixml: bool = False
    project: str | None = None
    scene: str | None = None
    take: str | None = None
    tape: str | None = None
    circled: bool | None = None
    note: str | None = None
    tc_rate: Fraction | None = None
    tc_drop_frame: bool = False
    family_uid: str | None = None
    file_set_total: int | None = None
    file_set_index: int | None = None
    tracks: list[BwfTrack] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        frame_bytes = self.channels * max(1, self.bits // 8)
        return self.data_bytes / frame_bytes / self.sample_rate if self.sample_rate and frame_bytes else 0.0

    def start_tc(self, rate: Fraction | None = None, drop_frame: bool | None = None) -> tuple[str, int, bool] | None:
        """(label, frames, drop_frame) of the start at ``rate`` (default: the recorder's iXML rate)."""
        rate = rate or self.tc_rate
        if rate is None or self.time_reference is None or not self.sample_rate:
            return None
        df = (self.tc_drop_frame if drop_frame is None else drop_frame) and supports_drop_frame(rate)
        frames = bwf_time_reference_to_frames(self.time_reference, self.sample_rate, rate)
        return frames_to_tc(frames, rate, df), frames, df

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        d["tc_rate"] = f"{self.tc_rate.numerator}/{self.tc_rate.denominator}" if self.tc_rate else None
        return d


def read_bwf(path: Path) -> BwfInfo:
    """Read the header chunks of a WAV/BWF/RF64 file. Raises BwfError for non-WAV input."""
    info = BwfInfo(path)
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(0)
            _walk(fh, size, info)
    except OSError as e:
        raise BwfError(f"{path}: cannot read: {e.strerror or e}") from None
    return info


def _walk(fh: BinaryIO, size: int, info: BwfInfo) -> None:
    head = fh.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64", b"BW64") or head[8:12] != b"WAVE":
        raise BwfError(f"{info.path}: not a WAV file (no RIFF/RF64 WAVE header)")
    big_sizes: dict[bytes, int] = {}
    pos = 12
    for _ in range(MAX_CHUNKS):
        if pos + 8 > size:
            break
        fh.seek(pos)
        ck = fh.read(8)
        cid, csize = ck[:4], struct.unpack("<I", ck[4:8])[0]
        if csize == 0xFFFFFFFF and cid in big_sizes:
            csize = big_sizes[cid]
        body_at = pos + 8
        if cid == b"data":
            info.data_bytes = min(csize, size - body_at)
            if body_at + csize > size:
                info.problems.append(f"{info.path}: data chunk runs past the end of the file (truncated copy?)")
        elif body_at + csize > size:
            info.problems.append(f"{info.path}: chunk {cid!r} runs past the end of the file; stopped reading")
            break
        elif cid == b"ds64" and csize >= 28:
            _riff, data, _samples, table = struct.unpack("<QQQI", fh.read(28))
            big_sizes[b"data"] = data
            for _i in range(min(table, 64)):
                entry = fh.read(12)
                if len(entry) == 12:
                    big_sizes[entry[:4]] = struct.unpack("<Q", entry[4:])[0]
        elif cid == b"fmt " and csize >= 16:
            fmt, ch, sr, _br, _align, bits = struct.unpack("<HHIIHH", fh.read(16))
            info.audio_format, info.channels, info.sample_rate, info.bits = fmt, ch, sr, bits
        elif cid == b"bext" and csize >= BEXT_MIN - 180 - 10:
            _read_bext(fh.read(min(csize, 1 << 20)), info)
        elif cid.lower() == b"ixml" and csize <= MAX_IXML_BYTES:
            _read_ixml(fh.read(csize), info)
        pos = body_at + csize + (csize & 1)
    if not info.sample_rate:
        info.problems.append(f"{info.path}: no fmt chunk before the end of the headers")


def _cstr(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("latin-1", errors="replace").strip()


def _read_bext(b: bytes, info: BwfInfo) -> None:
    b = b.ljust(BEXT_MIN, b"\0")
    info.has_bext = True
    info.description = _cstr(b[0:256])
    info.originator = _cstr(b[256:288])
    info.originator_reference = _cstr(b[288:320])
    info.origination_date = _cstr(b[320:330])
    info.origination_time = _cstr(b[330:338])
    low, high = struct.unpack("<II", b[338:346])
    info.time_reference = (high << 32) | low
    info.coding_history = _cstr(b[602:])[:4096]
    _description_fields(info)


def _description_fields(info: BwfInfo) -> None:
    """Sound Devices and others repeat iXML facts as ``sKEY=value`` lines in the description."""
    fields = dict(re.findall(r"^[sz]?([A-Z_]+)=(.*)$", info.description, re.MULTILINE))
    info.scene = info.scene or fields.get("SCENE") or None
    info.take = info.take or fields.get("TAKE") or None
    info.tape = info.tape or fields.get("TAPE") or None
    speed = fields.get("SPEED", "")
    if m := re.match(r"0*(\d+(?:\.\d+)?)-?(DF|ND|NDF)?", speed):
        try:
            info.tc_rate = info.tc_rate or parse_rate(m.group(1))
            info.tc_drop_frame = info.tc_drop_frame or m.group(2) == "DF"
        except ValueError:
            pass


def _read_ixml(b: bytes, info: BwfInfo) -> None:
    try:
        root = parse_xml_bytes(b.rstrip(b"\0"), f"{info.path} (iXML chunk)")
    except UnsafeXMLError as e:
        info.problems.append(str(e))
        return
    info.has_ixml = True
    info.project = text(root, "PROJECT") or info.project
    info.scene = text(root, "SCENE") or info.scene
    info.take = text(root, "TAKE") or info.take
    info.tape = text(root, "TAPE") or info.tape
    info.note = text(root, "NOTE") or info.note
    circled = text(root, "CIRCLED")
    if circled is not None:
        info.circled = circled.upper() == "TRUE"
    speed = child(root, "SPEED")
    rate_text = text(speed, "TIMECODE_RATE")
    if rate_text:
        try:
            info.tc_rate = parse_rate(rate_text)
        except ValueError:
            info.problems.append(f"{info.path}: iXML TIMECODE_RATE {rate_text!r} is not a rate")
    flag = text(speed, "TIMECODE_FLAG")
    if flag:
        info.tc_drop_frame = flag.upper() == "DF"
    file_set = child(root, "FILE_SET")
    info.family_uid = text(file_set, "FAMILY_UID")
    total, index = text(file_set, "TOTAL_FILES"), text(file_set, "FILE_SET_INDEX")
    info.file_set_total = int(total) if total and total.isdigit() else None
    if index and index.isdigit():
        info.file_set_index = int(index)
    elif index and index.isalpha():  # some recorders letter the files of a set: A, B, C
        info.file_set_index = ord(index[0].upper()) - 64
    for track in children(child(root, "TRACK_LIST"), "TRACK"):
        ch = text(track, "CHANNEL_INDEX")
        channel = int(ch) if ch and ch.isdigit() else len(info.tracks) + 1
        info.tracks.append(BwfTrack(channel, text(track, "NAME") or ""))
