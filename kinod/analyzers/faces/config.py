"""``[analyzers.faces]``: every key is documented in the shipped config.toml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kinod.analyzers.base import AnalyzerConfig


class FacesConfig(AnalyzerConfig):
    #: "default" (BlazeFace + MTCNN + FaceNet, packaged), "dlib" (CC0, weaker), "insightface" (local pack).
    backend: Literal["default", "dlib", "insightface"] = "default"
    #: insightface only: folder holding the SCRFD detector and ArcFace recogniser .onnx files.
    model_dir: str = ""
    #: insightface only: onnxruntime providers, e.g. ["CUDAExecutionProvider", "CPUExecutionProvider"].
    providers: list[str] = Field(default_factory=lambda: ["CPUExecutionProvider"])
    #: Width in pixels of the picture faces are analysed on (the cache keeps frames at least this wide).
    width: int = Field(640, ge=160, le=3840)
    #: Samples per second detection runs on; boxes between samples are interpolated.
    sample_fps: float = Field(10.0, gt=0, le=60)
    detect_threshold: float = Field(0.5, ge=0, le=1)
    confirm_threshold: float = Field(0.15, ge=0, le=1)
    #: Faces smaller than this (box height in analysed pixels) are ignored.
    min_face_px: int = Field(12, ge=4)
    #: Embed a followed face again after this many samples (new and ambiguous faces always are).
    embed_every: int = Field(5, ge=1)
    #: Also embed the mirrored crop (about twice the embedding cost, steadier on profiles).
    mirror: bool = False
    #: Crop margin around the face box for the embedder, as a share of the box size per side.
    margin: float = Field(0.1, ge=0, le=0.5)
    #: Same-face cosine between samples of one track; below it a box overlap is not followed.
    same_face: float = Field(0.6, ge=-1, le=1)
    #: Seconds a face may be missed (occlusion, a missed detection) before its track ends.
    max_gap_s: float = Field(0.5, ge=0)
    #: Tracks with fewer detections than this are dropped as noise.
    min_detections: int = Field(2, ge=1)
    #: Shot-cut score between consecutive samples (0..1) above which tracks are split.
    cut_threshold: float = Field(0.3, gt=0, le=1)
    #: Cosine between track means above which two tracks are the same person.
    identity_threshold: float = Field(0.62, ge=-1, le=1)
    #: find-person: track mean cosine to the reference for a "possible" and a "sure" match.
    match_possible: float = Field(0.38, ge=-1, le=1)
    match_sure: float = Field(0.44, ge=-1, le=1)
    #: find-person: S-norm score (vs. the impostor tracks searched) for "possible" and "sure";
    #: applied when at least 5 impostor tracks were searched (chosen from benchmarks/people.py).
    match_snorm_possible: float = 4.0
    match_snorm_sure: float = 7.0
    #: Keep track embeddings in the state dir (people registry, find-person without decoding again).
    store_embeddings: bool = True
    #: Daemon: seconds between looks at <output root>/people/<Name>/ for new reference photos (0: never).
    people_poll_s: float = Field(30.0, ge=0)
    #: Save each track's best face image (JPEG, mode 0600) beside the sidecar.
    best_images: bool = True
