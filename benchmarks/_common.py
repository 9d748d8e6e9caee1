"""Shared helpers for the benchmarks: generated media and CPU/wall measurement."""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
CACHE = Path(__file__).resolve().parent / ".cache"


@dataclass(frozen=True)
class Cost:
    wall_s: float
    cpu_s: float
    max_rss_mb: float


def measure(cmd: Sequence[str], env: dict[str, str] | None = None) -> Cost:
    """Wall and CPU time (user+sys of the command and all its children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Cost(wall, cpu, after.ru_maxrss / 1024)


def best_of(n: int, cmd: Sequence[str], env: dict[str, str] | None = None) -> Cost:
    runs = [measure(cmd, env) for _ in range(n)]
    return Cost(min(r.wall_s for r in runs), min(r.cpu_s for r in runs), max(r.max_rss_mb for r in runs))


def generated_clip(name: str = "bench_60s_1080p.mp4", seconds: int = 60, size: str = "1920x1080",
                   rate: str = "25") -> Path:
    """A camera-like H.264 clip with a cut every 5 s (cached between runs)."""
    CACHE.mkdir(exist_ok=True)
    out = CACHE / name
    if out.is_file():
        return out
    tmp = out.with_suffix(".tmp.mp4")
    # testsrc2 moves every frame (like real footage); hue changes every 5 s make cuts.
    graph = f"testsrc2=s={size}:r={rate},hue=h='360*floor(t/5)/7'"
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", graph, "-f", "lavfi", "-i", "sine=f=440:r=48000",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-ac", "2", str(tmp)],
        check=True,
    )
    os.replace(tmp, out)
    return out
