"""What a sequence frame's own header says: rate, SMPTE timecode, film edge code, the device.

Only DPX and OpenEXR carry these (TIFF, PNG and JPEG have no rate or timecode), and
both headers are small and fixed in layout, so they are read here directly (a few
KiB of the first frame) rather than through a library:

* DPX (SMPTE 268M): the TV header's SMPTE time code (offset 1920) and frame rate
  (1940), else the film header's frame rate (1724); the film header's KeyKode
  (manufacturer, film type, perfs offset, prefix, count; 1664-1679), frame id and
  slate; the orientation header's input device and serial; the image element's
  transfer characteristic and bit depth. Either byte order (``SDPX``/``XPDS``).
* OpenEXR: the ``framesPerSecond`` (rational) and ``timeCode`` (SMPTE 12M packed)
  attributes, ``owner``, ``capDate``, ``camera*`` strings and the pixel types of the
  channels (half/float pixels are scene-linear).

Undefined fields (all bits set, NaN, zero) read as absent. Nothing here raises for a
bad header: a frame that cannot be read gives no facts, and the caller falls back to
the configured rate.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from kinod.media.timecode_rates import snap_rate

#: Bytes read from the head of a frame: the whole DPX header, and any sane EXR header.
HEAD_BYTES = 1 << 16
_EXR_MAGIC = b"\x76\x2f\x31\x01"
_DPX_TRANSFER = {
    0: "user-defined", 1: "printing-density", 2: "linear", 3: "logarithmic", 4: "unspecified-video",
    5: "smpte-274m", 6: "bt709", 7: "bt601-625", 8: "bt601-525", 9: "ntsc", 10: "pal", 11: "z-linear",
    12: "z-homogeneous",
}  # fmt: skip


@dataclass
class HeaderFacts:
    """A frame header's facts; ``format`` is "dpx", "exr" or None (no header kinod reads)."""

    format: str | None = None
    rate: Fraction | None = None
    rate_source: str | None = None
    start_tc: str | None = None
    drop_frame: bool = False
    tc_source: str | None = None
    #: Scene-linear pixels (EXR half/float): mapped to display with the sRGB transfer for analysis.
    linear: bool = False
    facts: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": self.format, **self.facts}
        if self.rate is not None:
            out["rate"] = f"{self.rate.numerator}/{self.rate.denominator}"
            out["rate_source"] = self.rate_source
        if self.start_tc is not None:
            out["timecode"] = self.start_tc
            out["tc_source"] = self.tc_source
        if self.linear:
            out["linear"] = True
        return out


def read_header(path: Path) -> HeaderFacts:
    """The facts of one frame's header (empty facts when the file has no header kinod reads)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError:
        return HeaderFacts()
    try:
        if head[:4] in (b"SDPX", b"XPDS"):
            return dpx_header(head)
        if head[:4] == _EXR_MAGIC:
            return exr_header(head)
    except (struct.error, ValueError, IndexError, ZeroDivisionError):
        return HeaderFacts()
    return HeaderFacts()


def smpte_label(packed: int) -> tuple[str, bool] | None:
    """A SMPTE 12M packed time (``0xHHMMSSFF`` BCD, flags in the spare bits) as a label and drop flag."""
    if packed in (0xFFFFFFFF, 0):
        return None if packed else ("00:00:00:00", False)

    def bcd(v: int, tens_bits: int) -> int:
        return ((v >> 4) & ((1 << tens_bits) - 1)) * 10 + (v & 0xF)

    hh, mm, ss, ff = bcd(packed >> 24, 2), bcd(packed >> 16, 3), bcd(packed >> 8, 3), bcd(packed, 2)
    if hh > 23 or mm > 59 or ss > 59 or ff > 59 or any((packed >> s) & 0xF > 9 for s in (0, 8, 16, 24)):
        return None
    drop = bool(packed & (1 << 6))
    return f"{hh:02d}:{mm:02d}:{ss:02d}{';' if drop else ':'}{ff:02d}", drop


def _rate(value: float) -> Fraction | None:
    if not math.isfinite(value) or value < 1 or value > 1000:
        return None
    return snap_rate(Fraction(value).limit_denominator(100000))


def _text(raw: bytes) -> str | None:
    s = raw.split(b"\0", 1)[0].decode("latin-1").strip()
    return s if s and all(c.isprintable() for c in s) and s.strip("\xff") else None


def dpx_header(head: bytes) -> HeaderFacts:
    """The facts of a DPX file header (SMPTE 268M offsets, either byte order)."""
    e = ">" if head[:4] == b"SDPX" else "<"

    def u32(off: int) -> int:
        return struct.unpack_from(e + "I", head, off)[0]

    def f32(off: int) -> float:
        return struct.unpack_from(e + "f", head, off)[0] if u32(off) != 0xFFFFFFFF else math.nan

    out = HeaderFacts(format="dpx")
    # The picture may start right after the image header (ffmpeg writes 1664 bytes):
    # the film and TV headers exist only when the image data starts after them.
    data_at = u32(4)
    out.facts["width"], out.facts["height"] = u32(772), u32(776)
    out.facts["bit_depth"] = head[803]
    out.facts["transfer"] = _DPX_TRANSFER.get(head[801], str(head[801]))
    for key, off, n in (("creator", 160, 100), ("project", 260, 200), ("file_name", 1432, 100),
                        ("created", 1532, 24), ("device", 1556, 32), ("device_serial", 1588, 32),
                        ("frame_id", 1732, 32), ("slate", 1764, 100)):  # fmt: skip
        text = _text(head[off : off + n]) if off + n <= data_at else None
        if text:
            out.facts[key] = text
    keycode = _keycode(head) if data_at >= 1920 else None
    if keycode:
        out.facts["keycode"] = keycode
    for source, off in (("dpx-tv-header", 1940), ("dpx-film-header", 1724)):
        rate = _rate(f32(off)) if off + 4 <= data_at else None
        if rate is not None:
            out.rate, out.rate_source = rate, source
            break
    tc = smpte_label(u32(1920)) if data_at >= 2048 else None
    if tc is not None and u32(1920) != 0:
        out.start_tc, out.drop_frame = tc
        out.tc_source = "dpx-header"
    return out


def _keycode(head: bytes) -> str | None:
    """The film header's KeyKode as printed on film (``KU 22 123456 7890+12``), when it is filled in."""
    parts = [_text(head[a:b]) for a, b in ((1664, 1666), (1666, 1668), (1670, 1676), (1676, 1680), (1668, 1670))]
    mfg, kind, prefix, count, perfs = parts
    if not (mfg and kind and prefix and count) or not (prefix + count).isdigit():
        return None
    return f"{mfg} {kind} {prefix} {count}+{perfs or '00'}"


def exr_header(head: bytes) -> HeaderFacts:
    """The facts of an OpenEXR header's attributes (the first part of a multi-part file)."""
    out = HeaderFacts(format="exr")
    pos = 8
    while pos < len(head) and head[pos] != 0:
        name_end = head.index(b"\0", pos)
        type_end = head.index(b"\0", name_end + 1)
        name = head[pos:name_end].decode("latin-1")
        kind = head[name_end + 1 : type_end].decode("latin-1")
        (size,) = struct.unpack_from("<i", head, type_end + 1)
        value = head[type_end + 5 : type_end + 5 + size]
        if len(value) < size or size < 0:
            break
        _exr_attribute(out, name, kind, value)
        pos = type_end + 5 + size
    return out


def _exr_attribute(out: HeaderFacts, name: str, kind: str, value: bytes) -> None:
    if name == "framesPerSecond" and kind == "rational":
        num, den = struct.unpack_from("<iI", value)
        if num > 0 and den > 0:
            out.rate, out.rate_source = snap_rate(Fraction(num, den)), "exr-header"
    elif name == "timeCode" and kind == "timecode":
        tc = smpte_label(struct.unpack_from("<I", value)[0])
        if tc is not None:
            out.start_tc, out.drop_frame = tc
            out.tc_source = "exr-header"
    elif name == "dataWindow" and kind == "box2i":
        x0, y0, x1, y1 = struct.unpack_from("<iiii", value)
        out.facts["width"], out.facts["height"] = x1 - x0 + 1, y1 - y0 + 1
    elif name == "channels" and kind == "chlist":
        types = _exr_pixel_types(value)
        out.facts["pixel_types"] = sorted(set(types))
        out.linear = any(t in ("half", "float") for t in types)
    elif kind == "string" and (name in ("owner", "capDate", "comments") or name.startswith("camera")):
        text = _text(value)
        if text:
            out.facts[name] = text


def _exr_pixel_types(value: bytes) -> list[str]:
    types, pos = [], 0
    while pos < len(value) and value[pos] != 0:
        end = value.index(b"\0", pos)
        (pixel_type,) = struct.unpack_from("<i", value, end + 1)
        types.append({0: "uint", 1: "half", 2: "float"}.get(pixel_type, str(pixel_type)))
        pos = end + 1 + 16
    return types
