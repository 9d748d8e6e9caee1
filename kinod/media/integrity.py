"""Is the file whole? Checks that catch what a header probe happily accepts.

A camera that loses power mid-recording, or a copy cut short, leaves files whose
headers still parse: an MXF whose essence stops half way, an MP4 whose ``moov``
(the index, written last) never arrived. Analysing such a file gives results for
a clip that will not play in the NLE, so they are caught here and the clip is
marked, skipped by analyzers and listed in the card report.

Three cheap checks, no full decode (the analysis pass is the full decode):

* ISO-BMFF box walk (MP4/MOV): a missing ``moov``, or a box that runs past the end
  of the file;
* MediaInfo's ``IsTruncated`` (from the probe);
* a decode test with libavformat: decode the first frame, then seek near the end
  and decode to the last frame; if the last decodable frame ends well before the
  duration the header claims, the essence is cut short. A stream with no decoder
  (R3D, BRAW, ARRIRAW or X-OCN in MXF) is *undecodable*: recorded, not analysed.
"""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kinod.media.probe import Probe

_ISO_TOP = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"moof", b"mfra", b"meta", b"pnot", b"sidx"}
TAIL_SECONDS = 2.0


@dataclass
class Integrity:
    path: str
    ok: bool = True
    #: False when no decoder exists for the picture (or sound, for audio files): record only.
    decodable: bool = True
    problems: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    decoded_until_s: float | None = None

    def fail(self, message: str) -> None:
        self.ok = False
        self.problems.append(message)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def iso_bmff_problems(path: Path) -> list[str] | None:
    """Problems with an MP4/MOV's top-level boxes, [] if fine, None if it is not ISO-BMFF at all."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            pos, seen, first = 0, [], True
            while pos + 8 <= size and len(seen) < 10_000:
                fh.seek(pos)
                head = fh.read(16)
                box_size, box_type = struct.unpack(">I4s", head[:8])
                if first and box_type not in _ISO_TOP:
                    return None
                first = False
                if box_size == 1 and len(head) >= 16:
                    box_size = struct.unpack(">Q", head[8:16])[0]
                elif box_size == 0:  # box runs to the end of the file
                    box_size = size - pos
                if box_size < 8:
                    return [f"{path}: MP4/MOV box {box_type!r} at byte {pos} has an impossible size {box_size}"]
                seen.append(box_type)
                if pos + box_size > size:
                    name = box_type.decode("latin-1")
                    problems = [
                        f"{path}: truncated: the {name!r} box at byte {pos} needs {box_size} bytes, "
                        f"the file ends {pos + box_size - size} bytes short"
                    ]
                    if b"moov" not in seen:
                        problems.append(_no_moov(path))
                    return problems
                pos += box_size
    except OSError as e:
        return [f"{path}: cannot read: {e.strerror or e}"]
    if not seen:
        return None
    if b"moov" not in seen and b"moof" not in seen:
        return [_no_moov(path)]
    return []


def _no_moov(path: Path) -> str:
    return (
        f"{path}: MP4/MOV has no 'moov' index: the recording was interrupted or the copy is incomplete; "
        "the essence cannot be played without it (camera-specific recovery tools can rebuild it)"
    )


def check_file(path: Path, probe: Probe | None = None, *, tail_seconds: float = TAIL_SECONDS) -> Integrity:
    """Run the integrity checks on one file. Never raises for bad media; problems are in the result."""
    result = Integrity(str(path))
    try:
        size = path.stat().st_size
    except OSError as e:
        result.fail(f"{path}: cannot read: {e.strerror or e}")
        result.decodable = False
        return result
    if size == 0:
        result.fail(f"{path}: file is empty (0 bytes)")
        result.decodable = False
        return result
    result.checks.append("boxes")
    boxes = iso_bmff_problems(path)
    for msg in boxes or []:
        result.fail(msg)
    if probe is not None:
        result.checks.append("mediainfo")
        if probe.truncated:
            result.fail(f"{path}: MediaInfo reports the file is truncated (IsTruncated)")
    result.checks.append("decode")
    _decode_test(path, probe, result, tail_seconds)
    return result


def _decode_test(path: Path, probe: Probe | None, result: Integrity, tail_seconds: float) -> None:
    import av

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except Exception as e:
        result.fail(f"{path}: libavformat cannot open it: {e}")
        result.decodable = False
        return
    with contextlib.closing(container):
        streams = list(container.streams.video) or list(container.streams.audio)
        if not streams:
            result.fail(f"{path}: no audio or video stream to decode")
            result.decodable = False
            return
        stream = streams[0]
        codec = stream.codec_context.name if stream.codec_context else None
        if not codec or codec in ("none", "unknown"):
            result.decodable = False
            result.fail(f"{path}: no decoder for the {stream.type} stream (camera raw?): recorded, not analysed")
            return
        try:
            first = next(container.decode(stream), None)
        except Exception as e:
            result.decodable = False
            result.fail(f"{path}: the first {stream.type} frame cannot be decoded: {e}")
            return
        if first is None:
            result.decodable = False
            result.fail(f"{path}: no {stream.type} frame could be decoded")
            return
        expected = _expected_end(container, stream, probe)
        if expected is None:
            return
        last_end = _decode_tail(container, stream, expected, tail_seconds, result, path)
        if last_end is None:
            return
        result.decoded_until_s = round(last_end, 3)
        slack = 0.1 + (2 / float(stream.average_rate) if stream.type == "video" and stream.average_rate else 0.05)
        if last_end + slack < expected:
            result.fail(
                f"{path}: truncated essence: decodes to {last_end:.3f} s of the {expected:.3f} s the header claims"
            )


def _expected_end(container: Any, stream: Any, probe: Probe | None) -> float | None:
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    if stream.duration and stream.time_base:
        return start + float(stream.duration * stream.time_base)
    if probe is not None and probe.duration_s:
        return start + probe.duration_s
    if container.duration:
        return container.duration / 1_000_000
    return None


def _decode_tail(
    container: Any, stream: Any, expected: float, tail: float, result: Integrity, path: Path
) -> float | None:
    target = max(0.0, expected - tail)
    try:
        container.seek(int(target / float(stream.time_base)), stream=stream, backward=True, any_frame=False)
    except Exception:
        with contextlib.suppress(Exception):
            container.seek(0)
    last_end: float | None = None
    try:
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            dur = 1 / float(stream.average_rate) if stream.type == "video" and stream.average_rate else 0.0
            if stream.type == "audio" and frame.sample_rate:
                dur = frame.samples / frame.sample_rate
            last_end = frame.time + dur
    except Exception as e:
        result.fail(f"{path}: decode error near the end: {e}")
    return last_end
