"""MTCNN's last stages run around each BlazeFace box: a second opinion and five landmarks.

Why: BlazeFace alone fires on the odd poster or pattern; MTCNN's R-net and O-net, given
the square around a candidate, say "face" or "not a face" with a different network and
return eye, nose and mouth points for the quality score and alignment. Only these two
small networks run (never MTCNN's image pyramid), through onnxruntime sessions, which
were about 20% cheaper than cv2.dnn here. The ONNX files transpose x and y (the
original Caffe weights did), hence the (N, W, H, C) input.
"""

from __future__ import annotations

import cv2
import numpy as np

from kinod.analyzers.faces.models import MTCNN_ONET, MTCNN_RNET, verified_path
from kinod.analyzers.faces.types import Face


def _session(path: str) -> object:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


def square_crop(image_rgb: np.ndarray, box: tuple[float, float, float, float], size: int, scale: float = 1.0):
    """The square around ``box`` (grown by ``scale``), zero-padded outside the picture, resized."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * scale
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    sx, sy = round(cx - side / 2), round(cy - side / 2)
    s = max(1, round(side))
    h, w = image_rgb.shape[:2]
    canvas = np.zeros((s, s, 3), np.uint8)
    ax, ay, bx, by = max(sx, 0), max(sy, 0), min(sx + s, w), min(sy + s, h)
    if bx > ax and by > ay:
        canvas[ay - sy : by - sy, ax - sx : bx - sx] = image_rgb[ay:by, ax:bx]
    return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA if s > size else cv2.INTER_LINEAR), (sx, sy, s)


class MtcnnConfirmer:
    """Keeps the faces MTCNN's R-net and O-net agree with; refines boxes and adds landmarks."""

    def __init__(self, threshold: float = 0.15) -> None:
        self.threshold = threshold
        self.rnet = _session(str(verified_path(MTCNN_RNET)))
        self.onet = _session(str(verified_path(MTCNN_ONET)))

    def confirm(self, image_bgr: np.ndarray, faces: list[Face]) -> list[Face]:
        if not faces:
            return []
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        r_in, o_in, places = [], [], []
        for f in faces:
            crop24, _ = square_crop(rgb, f.box, 24)
            crop48, place = square_crop(rgb, f.box, 48)
            r_in.append(crop24)
            o_in.append(crop48)
            places.append(place)
        r = (np.stack(r_in).astype(np.float32) - 127.5) * 0.0078125
        o = (np.stack(o_in).astype(np.float32) - 127.5) * 0.0078125
        r_scores = self.rnet.run(None, {self.rnet.get_inputs()[0].name: r.transpose(0, 2, 1, 3)})[1][:, 1]
        reg, points, o_scores = self.onet.run(None, {self.onet.get_inputs()[0].name: o.transpose(0, 2, 1, 3)})
        kept: list[Face] = []
        for _f, rs, os_, rg, pt, (sx, sy, s) in zip(faces, r_scores, o_scores[:, 1], reg, points, places, strict=True):
            # Geometric mean of both nets: a face seen at an angle (Obama in the hamilton
            # audience shot) gets 0.19-0.98 here, a texture near 0.
            score = float(np.sqrt(max(float(rs), 0.0) * max(float(os_), 0.0)))
            if score < self.threshold:
                continue
            box = (sx + rg[0] * s, sy + rg[1] * s, sx + s + rg[2] * s, sy + s + rg[3] * s)
            marks = np.stack([sx + pt[0:5] * s, sy + pt[5:10] * s], axis=1).astype(np.float32)
            kept.append(Face(tuple(float(v) for v in box), score, marks))  # type: ignore[arg-type]
        return kept
