"""The ``[analyzers.ocr]`` config section: every default works offline on a 2-core CPU."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kinod.analyzers.base import AnalyzerConfig


class OcrConfig(AnalyzerConfig):
    """Keys of ``[analyzers.ocr]`` (documented in the shipped config.toml)."""

    #: None follows the daemon's runtime device; "auto" = CUDA when onnxruntime has it.
    device: Literal["auto", "cpu", "cuda"] | None = None
    #: Width of the pictures read (small text needs pixels) and pictures per second looked at for changes.
    width: int = Field(default=1280, ge=320, le=3840)
    sample_fps: float = Field(default=1.0, gt=0.0, le=10.0)
    #: Long side (px) the text detector sees the picture at; 0 = the model's own (short side 736). 960
    #: halves OCR's CPU but misreads text under about 16 px high at 1280 (benchmarks in the README).
    detector_side: int = Field(default=0, ge=0, le=4096)
    #: Share of a 160-px thumbnail's pixels that changed (by more than 15 % of full scale) since the last
    #: read picture that makes a picture inside a shot worth reading again (a new lower third, a slate).
    change_threshold: float = Field(default=0.01, gt=0.0, le=1.0)
    #: At most this many pictures read in full per shot (the keyframe counts).
    max_reads_per_shot: int = Field(default=4, ge=1, le=100)
    #: Long side (px) of the layout test a changed picture gets before a full read: text in the same
    #: places as at the last full read is read again at its boxes, without the detector. 0 = off.
    layout_side: int = Field(default=480, ge=0, le=2048)
    #: Lowest recognition confidence kept (chosen from benchmarks/ocr.py).
    min_confidence: float = Field(default=0.6, ge=0.0, le=1.0)
    #: Lines shorter than this share of the picture height are dropped as fragments.
    min_height: float = Field(default=0.012, ge=0.0, le=0.5)
    #: Boxes of alike height on one text line are joined when the gap between them is under this many heights.
    line_gap: float = Field(default=1.4, ge=0.0, le=10.0)
    #: Read slates (roll, scene, take, production, date, camera) into ``summary.slate``.
    slates: bool = True
