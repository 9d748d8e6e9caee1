"""Which ffmpeg binary to run.

By default the static build shipped in the ``imageio-ffmpeg`` wheel, so nothing needs
root to install; ``media.ffmpeg`` may name a system build (for hardware decoders).
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path


class FFmpegNotFound(RuntimeError):
    pass


def ffmpeg_path(configured: str = "") -> str:
    if configured:
        found = shutil.which(configured) or (configured if Path(configured).is_file() else None)
        if not found:
            raise FFmpegNotFound(f"media.ffmpeg: {configured!r} is not an executable file or a command on PATH")
        return found
    try:
        import imageio_ffmpeg
    except ImportError as e:  # pragma: no cover - a broken install
        raise FFmpegNotFound("imageio-ffmpeg is not installed and media.ffmpeg is empty") from e
    return imageio_ffmpeg.get_ffmpeg_exe()


@cache
def ffmpeg_version(binary: str) -> str:
    out = subprocess.run([binary, "-hide_banner", "-version"], capture_output=True, text=True, timeout=30)
    first = out.stdout.splitlines()[0] if out.stdout else ""
    return first.removeprefix("ffmpeg version ").split(" ")[0]


@cache
def ffmpeg_encoders(binary: str) -> frozenset[str]:
    out = subprocess.run([binary, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30)
    names = set()
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS":
            names.add(parts[1])
    return frozenset(names)
