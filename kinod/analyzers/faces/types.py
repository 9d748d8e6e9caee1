"""Small value types shared by the face detector, embedder, tracker and identities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class Face:
    """One face found in one picture: box as (x1, y1, x2, y2) in that picture's pixels."""

    box: tuple[float, float, float, float]
    score: float
    #: Five points (left eye, right eye, nose, mouth left, mouth right) as (5, 2), when known.
    landmarks: np.ndarray | None = None

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def xywh(self) -> list[int]:
        x1, y1, x2, y2 = self.box
        return [round(x1), round(y1), round(x2 - x1), round(y2 - y1)]


class Detector(Protocol):
    """Finds faces in a BGR picture."""

    def detect(self, image: np.ndarray) -> list[Face]: ...


class Embedder(Protocol):
    """Turns one face of a BGR picture into an L2-normalised vector."""

    dim: int

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray: ...


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(faces: list[Face], threshold: float) -> list[Face]:
    """Greedy non-maximum suppression by score; also drops a box mostly inside a better one."""
    kept: list[Face] = []
    for f in sorted(faces, key=lambda f: -f.score):
        if all(iou(f.box, k.box) < threshold and _inside(f.box, k.box) < 0.8 for k in kept):
            kept.append(f)
    return kept


def _inside(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Share of ``a``'s area that lies inside ``b``."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1])
    return ix * iy / area if area > 0 else 0.0


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(np.dot(a, b) / (na * nb)) if na > 0 and nb > 0 else 0.0
