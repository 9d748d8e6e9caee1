"""Frame-accurate cuts of a range of a clip into a new file (the original is only read).

Stream copy when the range starts on a keyframe and ends just before one (or at the end
of the clip): nothing is re-encoded and the cut is exact. Otherwise only the range is
re-encoded (H.264 CRF 18, AAC): ffmpeg seeks to the keyframe at or before the start,
and ``select`` keeps frames by their decode number, so the first and last frames are
exactly the asked ones whatever the timestamps look like.

Frame numbers are the clip's own timeline (decode order, timestamps passed through);
keyframe numbers come from a demux-only PyAV scan (cheap: no decoding).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from kinod.media.ffmpeg import ffmpeg_path


class CutError(RuntimeError):
    """A range could not be cut; the message names the clip and the range."""


@dataclass(frozen=True)
class StreamIndex:
    """Where each frame of the clip's timeline sits, from its packets."""

    #: Presentation time in seconds, relative to the file's start (what ffmpeg's -ss means), per frame.
    times: list[float]
    keyframes: frozenset[int]
    has_audio: bool


def stream_index(path: Path) -> StreamIndex:
    import av

    try:
        with av.open(str(path)) as c:
            v = c.streams.video[0]
            start = (c.start_time or 0) / 1_000_000
            pts: list[tuple[int, bool]] = []
            for pkt in c.demux(v):
                if pkt.pts is not None:
                    pts.append((pkt.pts, bool(pkt.is_keyframe)))
            tb = v.time_base
            has_audio = bool(c.streams.audio)
    except (av.error.FFmpegError, IndexError, OSError) as e:
        raise CutError(f"{path}: cannot read its video packets ({e})") from None
    pts.sort()
    times = [float(p * tb) - start for p, _ in pts]
    keys = frozenset(i for i, (_, k) in enumerate(pts) if k)
    return StreamIndex(times, keys, has_audio)


def cut(src: Path, dst: Path, first: int, last: int, rate: Fraction, index: StreamIndex, ffmpeg: str = "") -> str:
    """Write frames [first, last] of ``src`` to ``dst``; returns "copy" or "encode"."""
    if not index.times:
        raise CutError(f"{src}: no video frames to cut")
    last = min(last, len(index.times) - 1)
    if first > last:
        raise CutError(f"{src}: empty range {first}-{last}")
    n = last - first + 1
    half = 0.5 / float(rate)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.part{dst.suffix}")
    copy = first in index.keyframes and (last + 1 >= len(index.times) or last + 1 in index.keyframes)
    base = [ffmpeg_path(ffmpeg), "-v", "error", "-nostdin", "-y"]
    duration = f"{n / float(rate):.6f}"
    if copy:
        cmd = [*base, "-ss", f"{index.times[first] + half / 2:.6f}", "-i", str(src), "-map", "0:v:0"]
        cmd += ["-map", "0:a:0?"] if index.has_audio else []
        cmd += ["-frames:v", str(n), "-t", duration, "-c", "copy", "-avoid_negative_ts", "make_zero", str(tmp)]
    else:
        key = max((k for k in index.keyframes if k <= first), default=0)
        skip = first - key
        seek = max(0.0, index.times[key] - half)
        graph = f"[0:v:0]select='between(n\\,{skip}\\,{skip + n - 1})',setpts=PTS-STARTPTS[v]"
        maps = ["-map", "[v]"]
        if index.has_audio:
            a0 = skip / float(rate)
            graph += f";[0:a:0]atrim=start={a0:.6f}:duration={duration},asetpts=PTS-STARTPTS[a]"
            maps += ["-map", "[a]", "-c:a", "aac", "-b:a", "192k"]
        cmd = [*base, "-ss", f"{seek:.6f}", "-i", str(src), "-filter_complex", graph, *maps]
        cmd += ["-fps_mode", "passthrough", "-frames:v", str(n), "-c:v", "libx264", "-crf", "18"]
        cmd += ["-preset", "veryfast", "-pix_fmt", "yuv420p", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise CutError(f"{src}: cutting frames {first}-{last} failed: {proc.stderr.strip()[-400:]}")
    tmp.replace(dst)
    return "copy" if copy else "encode"
