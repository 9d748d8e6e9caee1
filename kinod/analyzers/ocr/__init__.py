"""OCR analyzer: on-screen text (box, confidence, time range) and slates (roll, scene, take, ...).

Entry point (group ``kinod.analyzers``): ``ocr = "kinod.analyzers.ocr:OcrAnalyzer"``.
Engine: :mod:`.engine` (rapidocr-onnxruntime's packaged PP-OCR models, sha256-verified);
slates: :mod:`.slate`.
"""

from kinod.analyzers.ocr.analyzer import OcrAnalyzer
from kinod.analyzers.ocr.config import OcrConfig

__all__ = ["OcrAnalyzer", "OcrConfig"]
