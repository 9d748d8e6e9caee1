"""Probe and fingerprint of an image sequence: one clip's facts without reading every frame.

Rate and start timecode come from the first usable frame's header where it has them
(:mod:`kinod.media.imageseq_headers`: DPX TV/film header, OpenEXR attributes); else
the rate is ``cards.sequence_rate`` and the start is the first frame number read as a
frame count at that rate (``frame-number``), as scanners and render farms number
frames. Both sources are recorded: ``probe.tc_source`` and the sequence block's
``rate_source``.

Picture facts (size, codec, pixel format) come from libavformat on the first frame; a
few frames spread over the run are checked for the same size and format, so a
mixed-resolution run or a frame of another format is named, never fatal.

Display transfer: the analyzers see 8-bit display pictures. Integer frames (DPX,
TIFF, PNG, JPEG, any bit depth) are taken as display-referred code values and only
reduced in depth; scene-linear frames (OpenEXR half/float) are mapped with the sRGB
transfer (IEC 61966-2-1), values clipped to 0..1 (:data:`LINEAR_TO_DISPLAY`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import xxhash

from kinod.media.imageseq import ImageSequence
from kinod.media.imageseq_headers import HeaderFacts, read_header
from kinod.media.probe import Probe, ProbeError
from kinod.media.timecode import TimecodeSource, frames_per_day, tc_to_frames

#: The filter putting a scene-linear picture on display code values (ffmpeg's zscale).
LINEAR_TO_DISPLAY = "zscale=transferin=linear:transfer=iec61966-2-1:rangein=full:range=full"
#: Frames whose content joins the fingerprint (spread over the run, first and last included).
FINGERPRINT_SAMPLES = 16
#: Frames checked for the same size and format as the first.
CHECK_SAMPLES = 8
_BLOCK = 1 << 16


def probe_sequence(seq: ImageSequence, default_rate: Fraction) -> Probe:
    """The clip's probe: the first usable frame's picture, the run's frames, rate and start timecode."""
    first = next(seq.usable(), None)
    if first is None:
        raise ProbeError(f"{seq.folder / seq.hashes}: no frame of the sequence can be read (all empty)")
    head = read_header(seq.path(first))
    picture = _picture(seq.path(first))
    if picture is None:
        raise ProbeError(f"{seq.path(first)}: first frame of the sequence cannot be read as an image")
    rate = head.rate or default_rate
    tc_frames, drop, tc_source = _start(seq, head, rate)
    mixed = _mixed(seq, picture)
    warnings = mixed + seq.problems()
    block = {
        **seq.to_json(),
        "rate_source": head.rate_source or "cards.sequence_rate",
        "header": head.to_json(),
        "display_transfer": "srgb" if head.linear else "code-values",
        "problems": warnings,
        # Read frame by frame (a gap, a left-out frame, mixed sizes or formats): see concat_list.
        "input": "concat" if not seq.contiguous or mixed else "image2",
    }
    return Probe(
        path=str(seq.path(first)), size=seq.size, container=f"image sequence ({seq.ext.lstrip('.')})",
        duration_s=round(float(seq.span / rate), 6), has_video=True, rate=rate, container_rate=rate,
        frames=seq.span, width=picture["width"], height=picture["height"], codec=picture["codec"],
        bit_depth=picture["bit_depth"], chroma_subsampling=None, transfer="linear" if head.linear else None,
        vfr=not seq.contiguous or bool(mixed), start_tc_frames=tc_frames, drop_frame=drop, tc_source=tc_source,
        camera_make=head.facts.get("cameraMake"),
        camera_model=head.facts.get("cameraModel") or head.facts.get("device"),
        camera_serial=head.facts.get("cameraSerialNumber") or head.facts.get("device_serial"), warnings=warnings,
        timecode_candidates=[{"source": tc_source, "label": head.start_tc}] if head.start_tc else [],
        sequence=block,
    )  # fmt: skip


def _start(seq: ImageSequence, head: HeaderFacts, rate: Fraction) -> tuple[int, bool, str]:
    """(start TC frames, drop frame, source): the header's SMPTE time, else the first frame number."""
    if head.start_tc and head.tc_source:
        with contextlib.suppress(ValueError):
            return tc_to_frames(head.start_tc, rate, head.drop_frame), head.drop_frame, head.tc_source
    return seq.first % frames_per_day(rate, False), False, TimecodeSource.FRAME_NUMBER.value


def _picture(path: Path) -> dict[str, Any] | None:
    """Size, codec and bit depth of one frame from libavformat (no decode); None when unreadable."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            s = c.streams.video[0]
            ctx = s.codec_context
            fmt = ctx.format
            depth = fmt.components[0].bits if fmt is not None and fmt.components else None
            return {"width": ctx.width, "height": ctx.height, "codec": ctx.name, "bit_depth": depth,
                    "pix_fmt": fmt.name if fmt is not None else None}  # fmt: skip
    except Exception:
        return None


def _mixed(seq: ImageSequence, first: dict[str, Any]) -> list[str]:
    """Frames whose size or format differs from the first's (a sample of the run), named."""
    out = []
    for n in seq.samples(CHECK_SAMPLES)[1:]:
        if n in seq.bad:
            continue
        other = _picture(seq.path(n))
        if other is None:
            out.append(f"{seq.name(n)}: cannot be read as an image (another format?)")
        elif (other["width"], other["height"]) != (first["width"], first["height"]):
            out.append(
                f"{seq.name(n)}: {other['width']}x{other['height']}, not {first['width']}x{first['height']} "
                "like the first frame (mixed resolutions: analysed scaled to the first's size)"
            )
        elif other["codec"] != first["codec"]:
            out.append(f"{seq.name(n)}: {other['codec']} picture in a {first['codec']} sequence")
    return out


def sequence_fingerprint(seq: ImageSequence) -> str:
    """The content identity of a sequence without reading every frame.

    Every frame's number, size and modification time (one ``stat`` each, as the watcher
    does anyway) plus the head and tail blocks of :data:`FINGERPRINT_SAMPLES` frames spread
    over the run: a frame replaced, added or removed changes it; the folder's name and
    place do not, so a moved sequence is recognised.
    """
    h = xxhash.xxh3_128()
    h.update(f"{seq.head}|{seq.tail}|{seq.padding}".encode("utf-8", "surrogateescape"))
    total = 0
    for n, size, mtime in _listing(seq):
        total += size
        h.update(f"{n}:{size}:{mtime};".encode())
    for n in seq.samples(FINGERPRINT_SAMPLES):
        with contextlib.suppress(OSError), open(seq.path(n), "rb") as fh:
            h.update(fh.read(_BLOCK))
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - _BLOCK))
            h.update(fh.read(_BLOCK))
    return f"{total:x}-{h.hexdigest()}"


def _listing(seq: ImageSequence) -> Iterator[tuple[int, int, int]]:
    """(number, size, mtime ns) of every present frame; a vanished frame counts as size -1."""
    for n in seq.numbers():
        try:
            st = os.stat(seq.path(n))
            yield n, st.st_size, st.st_mtime_ns
        except OSError:
            yield n, -1, 0


def concat_list(seq: ImageSequence, rate: Fraction) -> str:
    """An ffconcat list of the usable frames, each lasting until the next present number.

    A gap (or a left-out frame) thus keeps its length on the timeline: the frame after
    it starts at its own number's time, and the pass's ``fps`` filter holds the frame
    before it over the gap, so frame ``n`` of the clip is always number ``first + n``.
    """
    lines = ["ffconcat version 1.0"]
    usable = list(seq.usable())
    # The first usable frame also covers any left-out frames before it, so it is frame 0.
    starts = [seq.first, *usable[1:]]
    for n, start, nxt in zip(usable, starts, [*usable[1:], seq.last + 1], strict=True):
        quoted = str(seq.path(n).absolute()).replace("'", "'\\''")
        lines.append(f"file 'file:{quoted}'")
        lines.append(f"duration {float((nxt - start) / rate):.9f}")
    return "\n".join(lines) + "\n"
