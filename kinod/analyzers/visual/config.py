"""The ``[analyzers.visual]`` config section: every default works offline on a 2-core CPU."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kinod.analyzers.base import AnalyzerConfig


class VisualConfig(AnalyzerConfig):
    """Keys of ``[analyzers.visual]`` (documented in the shipped config.toml)."""

    #: "efficientnet" (EfficientNet-Lite0, weights from a pinned package) or "clip" (local CLIP weights).
    backend: Literal["efficientnet", "clip"] = "efficientnet"
    #: Directory with CLIP/BLIP weights for ``backend = "clip"`` (never downloaded).
    model_dir: str | None = None
    #: Zero-shot vocabulary for the clip backend.
    vocabulary: list[str] = Field(default_factory=list)
    #: None follows the daemon's runtime device; "auto" = CUDA when onnxruntime has it.
    device: Literal["auto", "cpu", "cuda"] | None = None
    #: Classifier tags kept per shot, and the lowest score shown (labels in data/tag_thresholds.toml need
    #: their own, higher score; chosen from the table benchmarks/tags.py prints).
    top_k: int = Field(default=5, ge=1, le=20)
    min_score: float = Field(default=0.3, ge=0.0, le=1.0)
    #: Show labels about bodies and clothing (data/person_labels.txt: "suit", "bikini", "groom", ...).
    show_person_labels: bool = False
    #: Summed score of a shot's first ten classes that maps to an editorial word (chosen from benchmarks/tags.py).
    editorial_min: float = Field(default=0.3, gt=0.0, le=1.0)
    #: Pictures per second kept by the decode pass for this analyzer (camera motion, keyframes), and their width.
    sample_fps: float = Field(default=1.0, gt=0.0, le=10.0)
    width: int = Field(default=640, ge=160, le=1920)
    #: A shot longer than this (seconds) gets one more tagged keyframe per this many seconds.
    long_shot_s: float = Field(default=20.0, gt=0.0)
    #: Median global shift between samples (share of picture width) above which the camera is "moving".
    camera_motion_threshold: float = Field(default=0.004, gt=0.0)
    #: Mean luma (0..1) below which a picture with few highlights is "night".
    night_luma: float = Field(default=0.22, ge=0.0, le=1.0)
    palette_colours: int = Field(default=5, ge=1, le=12)
    #: A shot becomes a "tag" marker (in the NLE exports) when its best tag scores at least this.
    marker_min_score: float = Field(default=0.3, ge=0.0, le=1.0)
    #: Save each shot's keyframe as a JPEG (under keyframes/<clip>/visual/) whose comment carries its tags.
    thumbnails: bool = True
