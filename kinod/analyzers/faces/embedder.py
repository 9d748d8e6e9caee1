"""FaceNet 512-d embeddings through ``cv2.dnn.readNetFromTensorflow``.

The crop is the face's square with a margin, 160×160 RGB, standardised per image (the
network was trained that way); optionally the mirror image is embedded too and the two
added, which steadies profile views at twice the cost. Vectors are L2-normalised, so a
dot product is the cosine.
"""

from __future__ import annotations

import cv2
import numpy as np

from kinod.analyzers.faces.confirm import square_crop
from kinod.analyzers.faces.models import FACENET, verified_path
from kinod.analyzers.faces.types import Face


class FaceNetEmbedder:
    dim = 512

    def __init__(self, mirror: bool = False, margin: float = 0.2) -> None:
        self.mirror = mirror
        self.margin = margin
        self.net = cv2.dnn.readNetFromTensorflow(str(verified_path(FACENET)))

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        crop, _ = square_crop(rgb, face.box, 160, 1.0 + 2 * self.margin)
        vec = self._forward(crop)
        if self.mirror:
            vec = vec + self._forward(crop[:, ::-1])
        n = float(np.linalg.norm(vec))
        return vec / n if n > 0 else vec

    def _forward(self, crop: np.ndarray) -> np.ndarray:
        x = crop.astype(np.float32)
        x = (x - x.mean()) / max(float(x.std()), 1.0 / np.sqrt(x.size))
        self.net.setInput(np.ascontiguousarray(x.transpose(2, 0, 1)[np.newaxis]))
        return self.net.forward().reshape(-1).astype(np.float32)
