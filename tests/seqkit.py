"""Make real image sequences with ffmpeg (DPX, TIFF, PNG, JPEG, EXR) and set the header facts scanners write.

ffmpeg writes neither a DPX TV header nor OpenEXR ``framesPerSecond``/``timeCode``
attributes, so these helpers add them the way a scanner or compositor would: the DPX
header grown to its full 2048 bytes (film and TV headers) with the data offsets moved,
the EXR attributes inserted before the end of the header with the chunk offsets moved.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

from media import ffmpeg

#: Segments whose joins are cuts the shots analyzer finds: (lavfi source, frames).
CUT_SEGMENTS = (("testsrc2", 20), ("color=c=red", 20), ("smptebars", 20))


def frames(
    folder: Path,
    pattern: str,
    start: int,
    segments: Sequence[tuple[str, int]] = CUT_SEGMENTS,
    *,
    size: str = "320x240",
    args: Sequence[str] = (),
) -> list[Path]:
    """Write the concatenated ``segments`` as numbered frames ``folder/pattern`` from ``start``."""
    folder.mkdir(parents=True, exist_ok=True)
    inputs: list[str] = []
    legs = []
    for i, (src, n) in enumerate(segments):
        sep = ":" if "=" in src else "="
        inputs += ["-f", "lavfi", "-i", f"{src}{sep}s={size}:r=24"]
        legs.append(f"[{i}:v]trim=end_frame={n},setpts=PTS-STARTPTS[s{i}]")
    k = len(segments)
    graph = ";".join(legs) + ";" + "".join(f"[s{i}]" for i in range(k)) + f"concat=n={k}:v=1:a=0[v]"
    total = sum(n for _, n in segments)
    ffmpeg(*inputs, "-filter_complex", graph, "-map", "[v]", "-frames:v", str(total), *args,
           "-start_number", str(start), str(folder / pattern))  # fmt: skip
    return sorted(folder.iterdir())


def bcd_time(label: str, drop: bool = False) -> int:
    """``HH:MM:SS:FF`` as the SMPTE 12M packed word DPX and EXR store (``0xHHMMSSFF`` BCD)."""
    hh, mm, ss, ff = (int(x) for x in label.replace(";", ":").split(":"))

    def bcd(v: int) -> int:
        return (v // 10) << 4 | v % 10

    return bcd(hh) << 24 | bcd(mm) << 16 | bcd(ss) << 8 | bcd(ff) | (1 << 6 if drop else 0)


def dpx_headers(
    path: Path, tc: str | None = None, tv_rate: float | None = None, film_rate: float | None = None,
    keycode: tuple[str, str, str, str, str] | None = None, device: str | None = None,
) -> None:  # fmt: skip
    """Grow an ffmpeg DPX's header to 2048 bytes and fill the TV/film header fields a scanner writes."""
    data = path.read_bytes()
    e = ">" if data[:4] == b"SDPX" else "<"
    offset = struct.unpack_from(e + "I", data, 4)[0]
    head = bytearray(data[:offset]) + bytearray(b"\xff" * (2048 - offset)) if offset < 2048 else bytearray(data[:2048])
    body = data[offset:]
    head[1664:1920] = b"\0" * 256  # film header: empty text fields
    struct.pack_into(e + "I", head, 4, 2048)
    struct.pack_into(e + "I", head, 16, 2048 + len(body))
    struct.pack_into(e + "I", head, 808, 2048)  # image element 0: offset to its data
    struct.pack_into(e + "I", head, 1920, bcd_time(tc) if tc else 0xFFFFFFFF)
    struct.pack_into(e + "f", head, 1940, tv_rate) if tv_rate else struct.pack_into(e + "I", head, 1940, 0xFFFFFFFF)
    struct.pack_into(e + "f", head, 1724, film_rate) if film_rate else struct.pack_into(e + "I", head, 1724, 0xFFFFFFFF)
    if keycode:
        mfg, kind, perfs, prefix, count = keycode
        for off, text in ((1664, mfg), (1666, kind), (1668, perfs), (1670, prefix), (1676, count)):
            head[off : off + len(text)] = text.encode()
    if device:
        head[1556 : 1556 + 32] = device.encode().ljust(32, b"\0")
    path.write_bytes(bytes(head) + body)


def exr_attributes(path: Path, rate: tuple[int, int] | None, tc: str | None) -> None:
    """Add ``framesPerSecond`` and ``timeCode`` to an uncompressed single-part scanline EXR."""
    data = path.read_bytes()
    pos, height = 8, None
    while data[pos] != 0:  # walk the attributes to the header's end
        name_end = data.index(b"\0", pos)
        type_end = data.index(b"\0", name_end + 1)
        (size,) = struct.unpack_from("<i", data, type_end + 1)
        if data[pos:name_end] == b"dataWindow":
            _x0, y0, _x1, y1 = struct.unpack_from("<iiii", data, type_end + 5)
            height = y1 - y0 + 1
        pos = type_end + 5 + size
    extra = b""
    if rate:
        extra += b"framesPerSecond\0rational\0" + struct.pack("<iiI", 8, *rate)
    if tc:
        extra += b"timeCode\0timecode\0" + struct.pack("<iII", 8, bcd_time(tc), 0)
    assert height is not None
    table = [struct.unpack_from("<Q", data, pos + 1 + 8 * i)[0] + len(extra) for i in range(height)]
    out = data[:pos] + extra + b"\0" + b"".join(struct.pack("<Q", o) for o in table) + data[pos + 1 + 8 * height :]
    path.write_bytes(out)
