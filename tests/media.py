"""Make real test media with ffmpeg's lavfi sources: small, fast, with known facts."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import imageio_ffmpeg

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
FIXTURE_MEDIA = FIXTURES / "media"


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-v", "error", "-y", "-nostdin", *args], check=True)


def cuts_clip(
    path: Path,
    segments: Sequence[tuple[str, int]],
    *,
    rate: str = "25",
    size: str = "320x240",
    audio: bool = True,
    extra: Sequence[str] = (),
) -> Path:
    """Concatenate lavfi sources, each ``(source, frames)``, so cuts land on known frames.

    A source is a lavfi video source name with options but no size/rate, e.g.
    ``"color=c=red"`` or ``"testsrc2"``; frames are counted at ``rate``.
    """
    inputs: list[str] = []
    labels = []
    for i, (src, frames) in enumerate(segments):
        sep = ":" if "=" in src else "="
        inputs += ["-f", "lavfi", "-i", f"{src}{sep}s={size}:r={rate}"]
        labels.append(f"[{i}:v]trim=end_frame={frames},setpts=PTS-STARTPTS[s{i}]")
    n = len(segments)
    graph = ";".join(labels) + ";" + "".join(f"[s{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0,format=yuv420p[v]"
    total = sum(f for _, f in segments)
    args = [*inputs]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=f=440:r=48000"]
    args += ["-filter_complex", graph, "-map", "[v]", "-frames:v", str(total)]
    if audio:
        args += ["-map", f"{n}:a", "-c:a", "aac", "-ac", "2", "-shortest"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", *extra, str(path)]
    ffmpeg(*args)
    return path
