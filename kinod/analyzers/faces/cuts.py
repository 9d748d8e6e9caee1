"""Shot cuts between cached samples, so a track never spans two shots.

Model analyzers are not handed the shots analyzer's result (the base passes
``results_of`` only to stream analyzers), so faces find cuts on the frames they already
read: the mean absolute difference of two consecutive samples' small grey pictures
plus the change of their colour histograms. A cut between samples ``a`` and ``b`` is
placed half-way, so its error is at most half the sampling interval.
"""

from __future__ import annotations

import cv2
import numpy as np


def signature(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    small = cv2.resize(image, (64, 36), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256]).ravel()
    return grey, hist / max(float(hist.sum()), 1.0)


def is_cut(prev: tuple[np.ndarray, np.ndarray], cur: tuple[np.ndarray, np.ndarray], threshold: float) -> bool:
    """True when the two pictures belong to different shots (score in [0, 1] above threshold)."""
    return cut_score(prev, cur) >= threshold


def cut_score(prev: tuple[np.ndarray, np.ndarray], cur: tuple[np.ndarray, np.ndarray]) -> float:
    diff = float(np.mean(np.abs(prev[0] - cur[0]))) / 255.0
    hist = 0.5 * float(np.abs(prev[1] - cur[1]).sum())
    return 0.5 * (min(1.0, diff * 4) + hist)
