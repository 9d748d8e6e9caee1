"""Which pictures of a shot the ocr analyzer reads, and how.

A shot is sampled (``sample_fps``) and split where its picture changes. Reading a picture
in full costs about 0.4 CPU-s at 1280x720, nine tenths of it in the text detector; most
changes inside a shot are movement (a person talking, a pan), not new text. So a changed
picture first gets the layout test: the same detector on a 480-px picture (about a tenth
of a read). Where it sees text in the same places as at the last full read, the picture is
read again only at that read's boxes (recognition without detection: a subtitle or a
counter that changes in place is still read); where the places differ, it is read in full.
Text too small for the 480-px test that appears in the middle of a shot waits for the
next full read; every shot's first picture is always read in full.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

#: (x0, y0, x1, y1) of text the layout test saw.
Box = tuple[float, float, float, float]
#: Two boxes are in the same place when no edge moved more than this many line heights.
SAME_PLACE_LINES = 0.5


@dataclass(frozen=True)
class ShotPart:
    """Frames ``start`` to ``end`` (exclusive) of a shot and the picture that stands for them."""

    start: int
    end: int
    frame: Any
    #: Read in full (detector and recogniser); else at the boxes of the shot's last full read.
    full: bool


def plan_parts(
    frames: Sequence[Any],
    start: int,
    end: int,
    key: int | None,
    *,
    change_threshold: float,
    max_full_reads: int,
    layout: Callable[[np.ndarray], list[Box]] | None,
) -> list[ShotPart]:
    """The parts of a shot from its sampled frames (each with ``.index`` and ``.image``).

    ``layout`` None reads every changed picture in full (at most ``max_full_reads`` a shot),
    as without the layout test.
    """
    cuts: list[tuple[int, bool]] = [(0, True)]
    ref = _thumb(frames[0].image)
    last_full, ref_layout = 0, None
    for i, f in enumerate(frames[1:], start=1):
        thumb = _thumb(f.image)
        if float((np.abs(thumb - ref) > 0.15).mean()) <= change_threshold:
            continue
        here = None
        if layout is not None:
            if ref_layout is None:
                ref_layout = layout(frames[last_full].image)
            here = layout(f.image)
            if same_layout(here, ref_layout):
                cuts.append((i, False))
                ref = thumb
                continue
        if sum(full for _, full in cuts) < max_full_reads:
            cuts.append((i, True))
            ref, last_full, ref_layout = thumb, i, here
    return _parts(frames, cuts, start, end, key)


def _parts(
    frames: Sequence[Any], cuts: list[tuple[int, bool]], start: int, end: int, key: int | None
) -> list[ShotPart]:
    """A full part's picture is the keyframe when the part holds it, else the one nearest its middle;
    a part read again at known boxes uses its first picture, the one the layout test saw."""
    bounds = [*(i for i, _ in cuts), len(frames)]
    target = key if key is not None else (start + end) // 2
    parts = []
    for (a, full), b in zip(cuts, bounds[1:], strict=True):
        group = frames[a:b]
        p_start = start if a == 0 else group[0].index
        p_end = end if b == len(frames) else frames[b].index
        if not full:
            parts.append(ShotPart(p_start, p_end, group[0], False))
            continue
        inside = [f for f in group if p_start <= target < p_end]
        aim = target if inside else (p_start + p_end) // 2
        parts.append(ShotPart(p_start, p_end, min(inside or group, key=lambda f: abs(f.index - aim)), True))
    return parts


def same_layout(a: list[Box], b: list[Box]) -> bool:
    """Every box of each has a box of the other in the same place (both empty: the same)."""
    return all(any(_same_place(x, y) for y in b) for x in a) and all(any(_same_place(y, x) for x in a) for y in b)


def _same_place(a: Box, b: Box) -> bool:
    """Each edge within half a line height of the other's: the detector's jitter on the same text,
    but not a longer or shorter line in its place (a new sign, another name), which is read in full."""
    tolerance = max(SAME_PLACE_LINES * max(a[3] - a[1], b[3] - b[1]), 4.0)
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def _thumb(image: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray, (160, 90), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


__all__ = ["ShotPart", "plan_parts", "same_layout"]
