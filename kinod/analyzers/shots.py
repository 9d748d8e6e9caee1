"""Shots: cut detection with PySceneDetect's detectors, fed by our decode pass.

We use scenedetect's detector classes directly (ContentDetector by default,
AdaptiveDetector on request) rather than its SceneManager, because SceneManager opens
and decodes the video itself and we have already decoded it once. Frames arrive at
the pass's analysis width and are resized to ``downscale_width`` (256 px, what
SceneManager's auto-downscale uses for HD) so scores match scenedetect's own.

For each shot we keep a JPEG of its middle frame as a thumbnail. The middle is only
known when the shot ends, so frames of the open shot are kept at a stride that
doubles whenever the buffer fills: memory stays bounded however long the shot is,
and the kept frame nearest the middle is never more than one stride away from it.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field
from scenedetect import AdaptiveDetector, ContentDetector, FrameTimecode, SceneDetector

from kinod.analyzers.base import (
    Analyzer,
    AnalyzerConfig,
    ClipInfo,
    Frame,
    FrameNeeds,
    Marker,
    Needs,
    Resources,
    Result,
)
from kinod.fsutil import atomic_write_bytes

MAX_KEPT_FRAMES = 32


class ShotsConfig(AnalyzerConfig):
    detector: Literal["content", "adaptive"] = "content"
    #: ContentDetector: score above which a frame starts a new shot.
    threshold: float = Field(27.0, gt=0)
    #: AdaptiveDetector: ratio of a frame's score to its neighbours' average.
    adaptive_threshold: float = Field(3.0, gt=0)
    #: Shortest shot, in frames: cuts closer than this are merged.
    min_scene_len: int = Field(15, ge=1)
    #: Width frames are resized to before scoring (scenedetect's default effective width).
    downscale_width: int = Field(256, ge=32)
    #: Save a JPEG of the middle frame of each shot.
    thumbnails: bool = True
    jpeg_quality: int = Field(85, ge=10, le=100)


class ShotsAnalyzer(Analyzer):
    name = "shots"
    version = "1"
    needs = Needs(frames=FrameNeeds(every_frame=True))
    resources = Resources(cpu=1, ram_mb=128)
    Config = ShotsConfig

    config: ShotsConfig

    def start(self, clip: ClipInfo) -> None:
        c = self.config
        self.clip = clip
        self.rate: Fraction = clip.rate
        self.detector: SceneDetector
        if c.detector == "adaptive":
            self.detector = AdaptiveDetector(adaptive_threshold=c.adaptive_threshold, min_scene_len=c.min_scene_len)
        else:
            self.detector = ContentDetector(threshold=c.threshold, min_scene_len=c.min_scene_len)
        self.cuts: list[int] = []
        self.last_index = -1
        self.shot_start = 0
        self.kept: list[tuple[int, np.ndarray]] = []
        self.stride = 1
        self.thumbs: dict[int, str] = {}

    def on_frame(self, frame: Frame) -> None:
        img = frame.image
        h, w = img.shape[:2]
        target_w = self.config.downscale_width
        if w > target_w:
            img = cv2.resize(img, (target_w, max(1, round(h * target_w / w))), interpolation=cv2.INTER_AREA)
        new_cuts = self.detector.process_frame(FrameTimecode(frame.index, fps=self.rate), img)
        for cut in new_cuts:
            self._close_shot(cut.frame_num)
        self.last_index = frame.index
        if self.config.thumbnails:
            self._keep(frame)

    def _keep(self, frame: Frame) -> None:
        offset = frame.index - self.shot_start
        if offset % self.stride:
            return
        self.kept.append((frame.index, frame.image))
        if len(self.kept) >= MAX_KEPT_FRAMES:
            self.stride *= 2
            self.kept = [(i, im) for i, im in self.kept if (i - self.shot_start) % self.stride == 0]

    def _close_shot(self, cut: int) -> None:
        if cut <= self.shot_start:
            return
        self.cuts.append(cut)
        self._thumbnail(self.shot_start, cut)
        self.shot_start = cut
        self.kept = [(i, im) for i, im in self.kept if i >= cut]
        self.stride = 1

    def _thumbnail(self, start: int, end: int) -> None:
        if not self.config.thumbnails:
            return
        candidates = [(i, im) for i, im in self.kept if start <= i < end]
        if not candidates:
            return
        middle = (start + end - 1) / 2
        _index, image = min(candidates, key=lambda c: abs(c[0] - middle))
        folder: Path = self.clip.artefact_dir
        folder.mkdir(parents=True, exist_ok=True)
        name = f"shot_{start:07d}.jpg"
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.config.jpeg_quality])
        if ok:
            atomic_write_bytes(folder / name, data.tobytes())
            self.thumbs[start] = name

    def finish(self) -> Result:
        if self.last_index >= 0:
            for cut in self.detector.post_process(FrameTimecode(self.last_index, fps=self.rate)):
                self._close_shot(cut.frame_num)
        end = self.last_index + 1
        if end > self.shot_start:
            self._thumbnail(self.shot_start, end)
        bounds = [0, *self.cuts, end] if end > 0 else []
        items: list[dict[str, Any]] = []
        for n, (s, e) in enumerate(itertools.pairwise(bounds), start=1):
            item: dict[str, Any] = {"index": n, "start_frame": s, "end_frame": e}
            if s in self.thumbs:
                item["thumbnail"] = self.thumbs[s]
            items.append(item)
        c = self.config
        how = (
            f"ContentDetector threshold {c.threshold}"
            if c.detector == "content"
            else f"AdaptiveDetector adaptive_threshold {c.adaptive_threshold}"
        )
        markers = [
            Marker(category="shot", frame=cut, name=f"Cut {n}", comment=f"shots: {how}")
            for n, cut in enumerate(self.cuts, start=2)
        ]
        self.kept = []
        return Result(
            items=items,
            summary={"shots": len(items), "cuts": list(self.cuts), "detector": c.detector, "frames_seen": end},
            markers=markers,
            artefacts=sorted(self.thumbs.values()),
        )
