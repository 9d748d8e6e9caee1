"""Where exactly a face came and went: a short local search in the frames between two samples.

Detection runs on samples (10 a second); a face that leaves between samples k and k+1
left somewhere in the frames between them. When the frame source hands those frames
over (``between`` on a sampled frame: :mod:`.sampler` does, for find-person), the few
frames of that gap alone are searched for the face near its last box, so a range ends
on the frame it really ends on, at any frame rate. Without them (the analysis cache keeps
samples only) the edge is put half-way between the samples (:mod:`.analysis`). A cut
between two samples is placed the same way: on the first gap frame that looks like the
new shot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from kinod.analyzers.faces.cuts import cut_score, signature
from kinod.analyzers.faces.types import Face, iou

Gap = Sequence[tuple[int, np.ndarray]]


def near(face: Face, box: tuple[float, float, float, float]) -> bool:
    """The same face a frame or two later: overlapping, or its centre within its own size."""
    if iou(face.box, box) >= 0.2:
        return True
    size = max(face.width, face.height, box[2] - box[0], box[3] - box[1], 1.0)
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    return float(np.hypot(cx - (box[0] + box[2]) / 2, cy - (box[1] + box[3]) / 2)) < size


def last_seen(
    gap: Gap, box: tuple[float, float, float, float], detect: Callable[[np.ndarray], list[Face]]
) -> int | None:
    """The last gap frame (in order) still showing the face, None when the first does not."""
    found = None
    for index, image in gap:
        if not any(near(f, box) for f in detect(image)):
            break
        found = index
    return found


def first_seen(
    gap: Gap, box: tuple[float, float, float, float], detect: Callable[[np.ndarray], list[Face]]
) -> int | None:
    """The first gap frame of the run that still shows the face at the gap's end, None when the last does not."""
    found = None
    for index, image in reversed(gap):
        if not any(near(f, box) for f in detect(image)):
            break
        found = index
    return found


def cut_frame(gap: Gap, before: tuple[np.ndarray, np.ndarray], threshold: float, fallback: int) -> int:
    """The first gap frame of the new shot (``fallback``, the next sample, when none of them is)."""
    for index, image in gap:
        if cut_score(before, signature(image)) >= threshold:
            return index
    return fallback
