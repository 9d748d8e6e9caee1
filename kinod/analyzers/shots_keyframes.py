"""Keyframes for the shots analyzer: the sharpest still near the middle of each shot, as a JPEG.

Split from :mod:`kinod.analyzers.shots`, which keeps the stills of the open shot and
hands each closed :class:`Shot` here once no more of its stills can arrive. Sharpness
is the variance of the Laplacian of the luma (focus, motion blur); a shot too short
to hold a still falls back to detection frames, which have no sharpness (-1) and give
the one nearest the middle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kinod.media.fsutil import atomic_write_bytes

#: Stills (and fallback frames) kept per open shot before their spacing doubles.
MAX_KEPT = 32


@dataclass
class Kept:
    index: int
    image: np.ndarray
    sharpness: float


@dataclass
class Shot:
    start: int
    end: int
    transition: str
    keyframe: int | None = None
    sharpness: float | None = None
    thumbnail: str | None = None
    stills: list[Kept] = field(default_factory=list)


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the luma: higher is sharper (focus, motion blur)."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_32F).var())


def pick_keyframe(shot: Shot, window: float) -> Kept:
    """The sharpest still in the middle ``window`` of the shot, else the one nearest its middle."""
    middle = (shot.start + shot.end - 1) / 2
    half = max(1.0, (shot.end - shot.start) * window / 2)
    near = [k for k in shot.stills if abs(k.index - middle) <= half]
    if near and near[0].sharpness >= 0:
        return max(near, key=lambda k: k.sharpness)
    return min(shot.stills, key=lambda k: abs(k.index - middle))


def save_keyframe(shot: Shot, window: float, quality: int, folder: Path) -> None:
    """Write the shot's keyframe as ``shot_<start>.jpg`` into ``folder`` and note it on the shot."""
    if not shot.stills:
        return
    best = pick_keyframe(shot, window)
    name = f"shot_{shot.start:07d}.jpg"
    ok, data = cv2.imencode(".jpg", best.image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / name, data.tobytes())
    shot.keyframe, shot.thumbnail = best.index, name
    shot.sharpness = round(best.sharpness, 2) if best.sharpness >= 0 else None


def shot_items(done: list[Shot]) -> list[dict[str, Any]]:
    """The result's items: one per shot, numbered from 1, with its keyframe when one was saved."""
    items: list[dict[str, Any]] = []
    for n, shot in enumerate(done, start=1):
        item: dict[str, Any] = {
            "index": n,
            "start_frame": shot.start,
            "end_frame": shot.end,
            "transition": shot.transition,
        }
        if shot.thumbnail is not None:
            item["keyframe"] = shot.keyframe
            item["thumbnail"] = shot.thumbnail
            item["keyframe_sharpness"] = shot.sharpness
        items.append(item)
    return items
