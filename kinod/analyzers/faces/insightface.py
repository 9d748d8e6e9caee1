"""InsightFace SCRFD detection + ArcFace embeddings from a local pack, on onnxruntime.

For users who have a pack such as buffalo_l (non-commercial licence; no package ships
it, so nothing is downloaded): put its ``det_*.onnx`` (SCRFD) and ``w600k_*.onnx`` /
``*arcface*.onnx`` (recogniser) in ``analyzers.faces.model_dir``. The ``insightface``
package is not used (it pulls the non-headless OpenCV): SCRFD's distance-to-box
decoding and the 5-point similarity alignment to ArcFace's 112×112 template are here.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from kinod.analyzers.base import ModelMissingError
from kinod.analyzers.faces.config import FacesConfig
from kinod.analyzers.faces.models import MODEL_DIR_KEY
from kinod.analyzers.faces.types import Face, nms

#: ArcFace's 112×112 template: eyes, nose, mouth corners.
TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)


def pack_files(model_dir: str) -> list[Path]:
    """The detector and recogniser files of a pack (detector first); empty when absent."""
    if not model_dir:
        return []
    d = Path(model_dir).expanduser()
    if not d.is_dir():
        return []
    onnx = sorted(d.glob("*.onnx"))
    det = [p for p in onnx if p.name.startswith(("det", "scrfd"))]
    rec = [p for p in onnx if p not in det and ("w600k" in p.name or "arcface" in p.name or "glint" in p.name)]
    return [det[0], rec[0]] if det and rec else []


class InsightFaceStack:
    name = "insightface-scrfd-arcface"
    licence = "user-supplied InsightFace pack (buffalo_l: non-commercial research only)"

    def __init__(self, cfg: FacesConfig, size: int = 640) -> None:
        files = pack_files(cfg.model_dir)
        if not files:
            raise ModelMissingError(
                f"{MODEL_DIR_KEY} = {cfg.model_dir!r}: no SCRFD (det_*.onnx) and ArcFace (w600k_*.onnx) pair there;"
                " put a local InsightFace pack in that folder (nothing is downloaded)"
            )
        import onnxruntime as ort

        self.cfg = cfg
        self.size = size
        self.det = ort.InferenceSession(str(files[0]), providers=list(cfg.providers))
        self.rec = ort.InferenceSession(str(files[1]), providers=list(cfg.providers))
        self.det_in = self.det.get_inputs()[0].name
        self.rec_in = self.rec.get_inputs()[0].name
        self._anchors: dict[tuple[int, int], np.ndarray] = {}

    def detect(self, image: np.ndarray) -> list[Face]:
        h, w = image.shape[:2]
        scale = self.size / max(h, w)
        resized = cv2.resize(image, (round(w * scale), round(h * scale)))
        canvas = np.zeros((self.size, self.size, 3), np.uint8)
        canvas[: resized.shape[0], : resized.shape[1]] = resized
        blob = cv2.dnn.blobFromImage(canvas, 1.0 / 128, (self.size, self.size), (127.5, 127.5, 127.5), swapRB=True)
        outs = self.det.run(None, {self.det_in: blob})
        strides = (8, 16, 32)
        n = len(strides)
        faces: list[Face] = []
        for i, stride in enumerate(strides):
            scores = outs[i].reshape(-1)
            boxes = outs[i + n].reshape(-1, 4) * stride
            kps = outs[i + 2 * n].reshape(-1, 10) * stride if len(outs) >= 3 * n else None
            centres = self._centres(stride)
            for j in np.flatnonzero(scores >= self.cfg.detect_threshold):
                cx, cy = centres[j]
                box = (cx - boxes[j, 0], cy - boxes[j, 1], cx + boxes[j, 2], cy + boxes[j, 3])
                marks = None
                if kps is not None:
                    marks = (kps[j].reshape(5, 2) + np.array([cx, cy], dtype=np.float32)) / scale
                f = Face(tuple(float(v) / scale for v in box), float(scores[j]), marks)  # type: ignore[arg-type]
                if f.height >= self.cfg.min_face_px:
                    faces.append(f)
        return nms(faces, 0.4)

    def _centres(self, stride: int) -> np.ndarray:
        key = (stride, self.size)
        if key not in self._anchors:
            g = self.size // stride
            ys, xs = np.mgrid[:g, :g]
            c = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
            self._anchors[key] = np.repeat(c, 2, axis=0)  # two anchors per place
        return self._anchors[key]

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        if face.landmarks is None:
            raise ValueError("insightface: a face without landmarks cannot be aligned")
        m, _ = cv2.estimateAffinePartial2D(face.landmarks.astype(np.float32), TEMPLATE, method=cv2.LMEDS)
        crop = cv2.warpAffine(image, m, (112, 112), borderValue=0.0)
        blob = cv2.dnn.blobFromImage(crop, 1.0 / 127.5, (112, 112), (127.5, 127.5, 127.5), swapRB=True)
        v = self.rec.run(None, {self.rec_in: blob})[0].reshape(-1).astype(np.float32)
        return v / max(float(np.linalg.norm(v)), 1e-9)
