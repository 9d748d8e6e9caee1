"""Sampled frames straight from a clip, for ``kinod find-person`` on files the daemon never saw.

The daemon's faces analyzer reads the analysis cache; a one-off command given paths has
no cache, so it decodes each clip once here, scaled to the faces width, keeping the
first frame of each 1/fps period exactly as the cache does (same frames, same tracks).
Frames are numbered in decode order with timestamps passed through (no duplicated or
dropped frames), which is the clip's own timeline.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from kinod.media.ffmpeg import ffmpeg_path


@dataclass(frozen=True)
class SampledFrame:
    index: int
    seconds: float
    image: np.ndarray
    #: The frames since the previous sample, (index, image): where a face came or went
    #: between two samples is searched in them (:mod:`kinod.analyzers.faces.edges`).
    between: tuple[tuple[int, np.ndarray], ...] = ()


def sample_frames(
    path: Path, rate: Fraction, src_w: int, src_h: int, width: int, fps: float, ffmpeg: str = ""
) -> Iterator[SampledFrame]:
    w = min(width, src_w)
    w -= w % 2
    h = max(2, round(src_h * w / src_w / 2) * 2)
    cmd = [
        ffmpeg_path(ffmpeg), "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough",
        "-vf", f"scale={w}:{h}:flags=area", "-f", "rawvideo", "-pix_fmt", "bgr24", "-",
    ]  # fmt: skip
    size = w * h * 3
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    index, last_period = 0, -1
    gap: list[tuple[int, np.ndarray]] = []
    try:
        while True:
            buf = proc.stdout.read(size)
            if len(buf) < size:
                break
            seconds = float(index / rate) if rate else 0.0
            period = int(seconds * fps + 1e-9)
            image = np.frombuffer(buf, np.uint8).reshape(h, w, 3)
            if period != last_period:
                last_period = period
                yield SampledFrame(index, seconds, image, tuple(gap))
                gap = []
            else:
                gap.append((index, image))
            index += 1
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()
