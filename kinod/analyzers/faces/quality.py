"""How good a face picture is: sharp, frontal and large, each in [0, 1], multiplied.

Used to pick each track's best image and the sightings worth embedding.
"""

from __future__ import annotations

import cv2
import numpy as np

from kinod.analyzers.faces.types import Face


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian, squashed to [0, 1] (about 0.5 at 100)."""
    if gray.size == 0:
        return 0.0
    v = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    return v / (v + 100.0)


def frontality(face: Face) -> float:
    """1 when the nose sits half-way between the eyes, falling to 0 for a profile."""
    lm = face.landmarks
    if lm is None or len(lm) < 3:
        return 0.5
    le, re, nose = lm[0], lm[1], lm[2]
    span = float(re[0] - le[0])
    if abs(span) < 1e-3:
        return 0.0
    t = float((nose[0] - le[0]) / span)
    return float(max(0.0, 1.0 - abs(t - 0.5) * 2))


def size_score(face: Face, floor: float = 24.0) -> float:
    h = face.height
    return float(h / (h + floor * 2))


def face_quality(image: np.ndarray, face: Face) -> float:
    x1, y1, x2, y2 = (round(v) for v in face.box)
    h, w = image.shape[:2]
    crop = image[max(y1, 0) : min(y2, h), max(x1, 0) : min(x2, w)]
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.size else crop
    return round(sharpness(gray) * (0.25 + 0.75 * frontality(face)) * size_score(face), 4)


def face_image(image: np.ndarray, face: Face, margin: float = 0.3) -> np.ndarray:
    """The face with a margin, clipped to the picture (for best images and crops)."""
    x1, y1, x2, y2 = face.box
    mw, mh = (x2 - x1) * margin, (y2 - y1) * margin
    h, w = image.shape[:2]
    a, b = max(0, round(x1 - mw)), max(0, round(y1 - mh))
    c, d = min(w, round(x2 + mw)), min(h, round(y2 + mh))
    return image[b:d, a:c].copy()
