"""Generated face media: a photo's face composited with ffmpeg over a lavfi background."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from media import FIXTURE_MEDIA, ffmpeg


def face_crop(photo: str, box: tuple[int, int, int, int], out: Path) -> Path:
    """Save ``photo`` cut to ``box`` (x, y, w, h) as a PNG to composite."""
    img = cv2.imread(str(FIXTURE_MEDIA / photo))
    x, y, w, h = box
    cv2.imwrite(str(out), img[y : y + h, x : x + w])
    return out


def moving_face_clip(
    path: Path, overlay: Path, *, start_s: float, end_s: float, width: int = 140, seconds: float = 4.0,
    background: str = "color=c=0x304050", brightness: float = 0.0,
) -> Path:  # fmt: skip
    """A 25 fps 640x360 clip where ``overlay`` crosses the frame between ``start_s`` and ``end_s``."""
    eq = f",eq=brightness={brightness}" if brightness else ""
    graph = (
        f"[1:v]scale={width}:-2{eq}[f];"
        f"[0:v][f]overlay=x='40+90*(t-{start_s})':y='60+10*(t-{start_s})':enable='between(t,{start_s},{end_s})',"
        "format=yuv420p[v]"
    )
    ffmpeg(
        "-f", "lavfi", "-i", f"{background}:s=640x360:r=25:d={seconds}", "-loop", "1", "-framerate", "25",
        "-i", str(overlay), "-filter_complex", graph, "-map", "[v]", "-frames:v", str(round(seconds * 25)),
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", str(path),
    )  # fmt: skip
    return path


def still_png(path: Path, image: np.ndarray) -> Path:
    cv2.imwrite(str(path), image)
    return path
