"""The OCR engine: rapidocr-onnxruntime's PP-OCR det/cls/rec models, sha256-verified, never downloaded.

Why rapidocr-onnxruntime 1.4.4: its wheel ships the three ONNX models (Apache-2.0) and
runs them with onnxruntime, already a kinod dependency; rapidocr 3.x fetches models at
run time, which a footage server must never do. Its wheel declares ``opencv-python``,
which would clash with ``opencv-python-headless`` (both are ``cv2``), so it is installed
with ``--no-deps`` (Makefile) and its light dependencies are pinned in pyproject.toml.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kinod.analyzers.base import ModelMissingError
from kinod.analyzers.weights import sha256_file

MODEL_KEY = "analyzers.ocr.model"
PACKAGE = "rapidocr_onnxruntime"
DISTRIBUTION = "rapidocr-onnxruntime==1.4.4"
#: Model file (inside the package) -> sha256, from the pinned wheel.
MODELS: dict[str, str] = {
    "models/ch_PP-OCRv4_det_infer.onnx": "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    "models/ch_ppocr_mobile_v2.0_cls_infer.onnx": "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
    "models/ch_PP-OCRv4_rec_infer.onnx": "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
}
#: sha256 of the three sha256s in order: one id for job keys.
MODEL_ID = hashlib.sha256("".join(MODELS.values()).encode()).hexdigest()
_verified: set[Path] = set()
_lock = threading.Lock()


@dataclass(frozen=True)
class TextBox:
    """One line of text read in one picture: box is [x, y, w, h] in that picture's pixels."""

    text: str
    confidence: float
    box: tuple[int, int, int, int]


def package_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelMissingError(f"{MODEL_KEY}: the OCR models are not installed (pip install --no-deps {DISTRIBUTION})")
    return Path(spec.origin).parent


def verify(root: Path | None = None) -> dict[str, Path]:
    """The model paths, each checked against its pinned sha256 (once per process per file)."""
    root = root or package_dir()
    out: dict[str, Path] = {}
    for rel, want in MODELS.items():
        path = root / rel
        if path not in _verified:
            if not path.is_file():
                raise ModelMissingError(f"{MODEL_KEY}: {path} is missing; reinstall {DISTRIBUTION}")
            got = sha256_file(path)
            if got != want:
                raise ModelMissingError(
                    f"{MODEL_KEY}: {path}: sha256 mismatch (expected {want}, got {got}); "
                    f"refusing to load; reinstall {DISTRIBUTION}"
                )
            with _lock:
                _verified.add(path)
        out[rel] = path
    return out


@dataclass(frozen=True)
class Reading:
    """A picture read in full: its text lines, and the detector's boxes (quadrilaterals in the
    picture's pixels, every one found, kept or not) for reading the same places again."""

    lines: list[TextBox]
    boxes: np.ndarray | None


class _Detector:
    """The engine's text detector, which remembers the boxes it found or hands back given ones.

    Why: :meth:`OcrEngine.read_at` reads a picture at the boxes of an earlier one through the
    engine's own pipeline (crops, direction, recognition, word boxes), only without detecting.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.given: np.ndarray | None = None
        self.found: np.ndarray | None = None

    def __call__(self, img: np.ndarray) -> tuple[np.ndarray | None, float]:
        if self.given is not None:
            return self.given, 0.0
        self.found, elapsed = self.inner(img)
        return self.found, elapsed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class OcrEngine:
    """Loads the verified models once; :meth:`read` returns the text lines of one BGR picture."""

    def __init__(
        self,
        threads: int = 1,
        cuda: bool = False,
        root: Path | None = None,
        detector_side: int = 0,
        layout_side: int = 480,
    ) -> None:
        paths = verify(root)
        import logging

        from rapidocr_onnxruntime import RapidOCR

        logging.getLogger("RapidOCR").setLevel(logging.WARNING)
        det, cls, rec = (str(paths[k]) for k in MODELS)
        self._ocr: Any = RapidOCR(
            det_model_path=det,
            cls_model_path=cls,
            rec_model_path=rec,
            intra_op_num_threads=threads,
            inter_op_num_threads=1,
            det_use_cuda=cuda,
            cls_use_cuda=cuda,
            rec_use_cuda=cuda,
        )
        if detector_side:
            _detect_at(self._ocr.text_det, detector_side)
        # The layout test: the same detector (one session) on a small picture, about a tenth of a read.
        self._layout = copy.copy(self._ocr.text_det)
        if layout_side:
            _detect_at(self._layout, layout_side)
        self._det = _Detector(self._ocr.text_det)
        self._ocr.text_det = self._det
        self._lock = threading.Lock()

    def read(self, bgr: np.ndarray, restore_spaces: bool = True) -> list[TextBox]:
        """Text boxes of one picture, with the spaces the recogniser dropped put back (:func:`lines.spaced`)."""
        return self.read_full(bgr, restore_spaces).lines

    def read_full(self, bgr: np.ndarray, restore_spaces: bool = True) -> Reading:
        """:meth:`read`, with the detector's boxes for :meth:`read_at` (None when they cannot be reused)."""
        with self._lock:
            self._det.found = None
            lines = self._read(bgr, restore_spaces)
            found = self._det.found
        if not self.reusable(bgr):
            return Reading(lines, None)
        return Reading(lines, found if found is not None else np.zeros((0, 4, 2), np.float32))

    def read_at(self, bgr: np.ndarray, boxes: np.ndarray, restore_spaces: bool = True) -> list[TextBox]:
        """The text at ``boxes`` (from :meth:`read_full` of a picture of this size): recognition only."""
        if not len(boxes):
            return []
        with self._lock:
            self._det.given = boxes
            try:
                return self._read(bgr, restore_spaces)
            finally:
                self._det.given = None

    def layout(self, bgr: np.ndarray) -> list[tuple[float, float, float, float]]:
        """Where the quick low-resolution detector sees text: (x0, y0, x1, y1) in the picture's pixels."""
        with self._lock:
            boxes, _elapsed = self._layout(np.ascontiguousarray(bgr))
        if boxes is None:
            return []
        return [(float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 0].max()), float(b[:, 1].max())) for b in boxes]

    def reusable(self, bgr: np.ndarray) -> bool:
        """True when the engine reads this picture at its own size, unpadded, so its boxes are in its pixels."""
        ocr = self._ocr
        h, w = bgr.shape[:2]
        return (
            ocr.min_side_len <= min(h, w)
            and max(h, w) <= ocr.max_side_len
            and h > ocr.min_height
            and (ocr.width_height_ratio == -1 or w / h <= ocr.width_height_ratio)
        )

    def _read(self, bgr: np.ndarray, restore_spaces: bool) -> list[TextBox]:
        from kinod.analyzers.ocr.lines import ink_gaps, spaced

        result, _elapsed = self._ocr(np.ascontiguousarray(bgr), return_word_box=restore_spaces)
        out: list[TextBox] = []
        for row in result or []:
            poly, text, score = row[0], str(row[1]).strip(), float(row[2])
            pts = np.asarray(poly, dtype=np.float32)
            x0, y0 = np.floor(pts.min(axis=0)).astype(int)
            x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
            if restore_spaces and len(text) > 1:
                crop = bgr[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)]
                gaps = [(a + max(x0, 0), b + max(x0, 0)) for a, b in ink_gaps(crop)]
                text = spaced(text, _char_spans(row), gaps, float(y1 - y0))
            out.append(TextBox(text, score, (int(x0), int(y0), int(x1 - x0), int(y1 - y0))))
        return [t for t in out if t.text]


def _detect_at(det: Any, side: int) -> None:
    """The text detector sees the picture with its long side at most ``side`` px (not its short side at 736).

    Why: the detector is about 85 % of a read's CPU and its cost follows its input's pixels;
    the engine's own setting scales a 1280x720 picture up to 1312x736. Recognition still reads
    the full picture's crops. The engine's preprocessing ignores a "max" side under 1500, hence
    the replaced method.
    """
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    det.get_preprocess = lambda _max_wh: DetPreProcess(side, "max", det.mean, det.std)


def _char_spans(row: Sequence[Any]) -> list[tuple[str, float, float]]:
    """(character, left, right) of each recognised character, from the engine's word boxes (empty if absent)."""
    if len(row) < 5 or not row[3] or len(row[3]) != len(row[4]):
        return []
    spans = []
    for box, ch in zip(row[3], row[4], strict=True):
        xs = [float(p[0]) for p in box]
        spans.append((str(ch), min(xs), max(xs)))
    return spans
