"""Shots: cut detection with PySceneDetect's detectors, fed by our decode pass.

We use scenedetect's detector classes directly (ContentDetector by default; Adaptive,
Hash, Histogram or Threshold on request) rather than its SceneManager, because
SceneManager opens and decodes the video itself and we have already decoded it once.

The detectors see what they would see inside scenedetect: frames point-scaled to
about 256 px (``FrameNeeds(scaling="point")``), resized the rest of the way with the
same ``cv2.INTER_LINEAR`` step scenedetect's auto-downscale uses. Area-averaged frames
would smooth away the noise those thresholds were tuned on, and a marginal cut
(testvideo.mp4 frame 691 for AdaptiveDetector) would go missing.

Fades: a ThresholdDetector runs beside the main detector (ThresholdDetector
semantics: a fade out is the frame whose mean intensity drops below ``fade_threshold``,
a fade in the frame it comes back, the cut lies between them by ``fade_bias``). A
fade through black is a shot boundary even where the main detector saw no cut
(fades.mp4); where both saw the same transition it counts once.

Keyframes: per shot, the sharpest (variance of the Laplacian) of the sampled
area-scaled stills that lie in the middle ``keyframe_window`` of the shot, saved as a
JPEG. The middle is only known when the shot ends, so stills of the open shot are
kept with a spacing that doubles whenever the buffer fills: memory stays bounded
however long the shot is, and candidates stay spread over the whole shot.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from fractions import Fraction
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field
from scenedetect import FrameTimecode, ThresholdDetector

from kinod.analyzers.base import (
    AnalyzerConfig,
    ClipInfo,
    Frame,
    FrameNeeds,
    Marker,
    MarkerCategorySpec,
    Needs,
    ReadContext,
    Resources,
    Result,
    StreamAnalyzer,
    UiSection,
)
from kinod.analyzers.shots_detect import (
    RAMP_MAX,
    RAMP_STEP,
    Fade,
    boundary_comment,
    extend_ramp,
    fade_record,
    make_detector,
    ramp_start,
    threshold_detector,
)
from kinod.analyzers.shots_keyframes import MAX_KEPT, Kept, Shot, save_keyframe, sharpness, shot_items

__all__ = ["DETECT_WIDTH", "MAX_KEPT", "RAMP_MAX", "RAMP_STEP", "ShotsAnalyzer", "ShotsConfig"]
from kinod.analyzers.reading import items, num, text

#: The width PySceneDetect's auto-downscale aims for; the point stream is this wide.
DETECT_WIDTH = 256


class ShotsConfig(AnalyzerConfig):
    #: The detector that finds cuts (PySceneDetect's ContentDetector, AdaptiveDetector, ...).
    detector: Literal["content", "adaptive", "hash", "histogram", "threshold"] = "content"
    #: ContentDetector: score above which a frame starts a new shot.
    threshold: float = Field(27.0, gt=0)
    #: AdaptiveDetector: ratio of a frame's score to its neighbours' average.
    adaptive_threshold: float = Field(3.0, gt=0)
    #: AdaptiveDetector: a frame's content score must also exceed this.
    min_content_val: float = Field(15.0, ge=0)
    #: HashDetector: normalised Hamming distance between perceptual hashes.
    hash_threshold: float = Field(0.35, gt=0, le=1)
    #: HistogramDetector: relative luma histogram difference.
    histogram_threshold: float = Field(0.20, gt=0, le=1)
    #: Shortest shot, in frames: cuts closer than this are merged.
    min_scene_len: int = Field(15, ge=1)
    #: Width frames are resized to before scoring (at most 256: the width of the stream
    #: the decode pass delivers, PySceneDetect's effective width).
    downscale_width: int = Field(DETECT_WIDTH, ge=32, le=DETECT_WIDTH)
    #: Detect fades to and from black (ThresholdDetector semantics) as shot boundaries.
    fades: bool = True
    #: Mean 8-bit intensity that separates faded out from faded in.
    fade_threshold: int = Field(12, ge=0, le=255)
    #: "floor": fading out is going dark; "ceiling": fading out is going bright (to white).
    fade_method: Literal["floor", "ceiling"] = "floor"
    #: Where the cut lies between fade out and fade in: -1 at the fade out, 0 half way, +1 at the fade in.
    fade_bias: float = Field(0.0, ge=-1, le=1)
    #: A clip that ends faded out gets a cut where it went out (ThresholdDetector add_final_scene).
    fade_final_cut: bool = False
    #: Save a JPEG of each shot's keyframe under keyframes/<clip>/.
    thumbnails: bool = True
    jpeg_quality: int = Field(85, ge=10, le=100)
    #: Stills per second considered for keyframes (area-scaled, at media.analysis_width).
    keyframe_fps: float = Field(2.0, gt=0, le=30)
    #: The keyframe is the sharpest still in this middle fraction of the shot.
    keyframe_window: float = Field(0.5, gt=0, le=1)


class ShotsAnalyzer(StreamAnalyzer):
    name = "shots"
    version = "2"
    needs = Needs(
        frames=FrameNeeds(every_frame=True, width=DETECT_WIDTH, scaling="point"),
        stills=FrameNeeds(every_frame=False, sample_fps=2.0),
    )
    resources = Resources(cpu=1, ram_mb=192)
    Config = ShotsConfig
    #: Cuts are searched through nothing (a cut has no words) and drawn as the contact sheet.
    marker_categories = (MarkerCategorySpec("shot", "BLUE", "Shot", order=10, search_kind=None),)

    config: ShotsConfig

    @classmethod
    def keyframe(cls, record: Mapping[str, Any]) -> str | None:
        """The first shot's keyframe stands for the clip in search results and card lists."""
        return next((text(it.get("thumbnail")) for it in items(record) if text(it.get("thumbnail"))), None)

    @classmethod
    def ui_sections(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]:
        """Contact sheet: one keyframe per shot (thumbnails under keyframes/<clip>/)."""
        rows = []
        for it in items(record):
            thumb = it.get("thumbnail")
            start = num(it.get("start_s"))
            rows.append({"t": start, "end": num(it.get("end_s")), "tc": ctx.tc(start),
                         "img": ctx.link(f"keyframes/{ctx.clip_name}/{thumb}") if thumb else None,
                         "index": it.get("index")})
        return [UiSection("Shots", "contact", rows, order=10, key="shots")]

    def configure_needs(self, needs: Needs) -> Needs:
        stills = FrameNeeds(every_frame=False, sample_fps=self.config.keyframe_fps) if self.config.thumbnails else None
        return replace(needs, stills=stills)

    def start(self, clip: ClipInfo) -> None:
        c = self.config
        self.clip = clip
        self.rate: Fraction = clip.rate
        self.detector = make_detector(c)
        self.fader: ThresholdDetector | None = None
        if c.fades and c.detector != "threshold":
            self.fader = threshold_detector(c)
        self.cuts: list[int] = []
        self.fade_cuts: list[int] = []
        self.fades: list[Fade] = []
        self.levels: deque[tuple[int, float]] = deque(maxlen=RAMP_MAX)
        self.last_index = -1
        self.shot_start = 0
        self.transition = "start"
        self.pending: list[Shot] = []
        self.done: list[Shot] = []
        self.stills: list[Kept] = []
        self.fallback: list[Kept] = []
        self.fallback_stride = 1
        self.latest_still = -1
        self.still_every = max(1, round(float(self.rate) / c.keyframe_fps))

    # Detection (frame stream) -----------------------------------------------------------------
    def on_frame(self, frame: Frame) -> None:
        img = frame.image
        h, w = img.shape[:2]
        target = self.config.downscale_width
        if w > target:
            # PySceneDetect's own downscale step, on a frame already point-scaled near it.
            img = cv2.resize(img, (target, max(1, round(h * target / w))), interpolation=cv2.INTER_LINEAR)
        tc = FrameTimecode(frame.index, fps=self.rate)
        if isinstance(self.detector, ThresholdDetector):  # fades are the cuts
            for cut in self._fade_step(self.detector, tc, img):
                self.cuts.append(cut)
                self._close_shot(cut, "fade")
        else:
            for cut_tc in self.detector.process_frame(tc, img):
                self.cuts.append(cut_tc.frame_num)
                self._primary_cut(cut_tc.frame_num)
            if self.fader is not None:
                for cut in self._fade_step(self.fader, tc, img):
                    self._fade_cut(cut)
        self.last_index = frame.index
        if self.config.thumbnails:
            self._keep_fallback(frame)

    def _fade_step(self, detector: ThresholdDetector, tc: FrameTimecode, img: np.ndarray) -> list[int]:
        """Run a ThresholdDetector and record the fades it passes through; returns its cuts."""
        before = detector.last_fade["type"] if detector.processed_frame else None
        cuts = [c.frame_num for c in detector.process_frame(tc, img)]
        after = detector.last_fade["type"]
        level = sum(cv2.mean(img)[:3]) / 3  # the same as np.mean(img), several times faster
        extend_ramp(self.fades[-1] if self.fades else None, self.levels, tc.frame_num, level)
        if before is not None and after != before:
            if after == "out":
                self.fades.append(Fade(out_frame=tc.frame_num, out_start=ramp_start(self.levels, tc.frame_num, level)))
            elif self.fades and self.fades[-1].in_frame is None:
                self.fades[-1].in_frame = tc.frame_num
        elif before is None and after == "out":
            # The clip opens dark: only its fade in will follow.
            self.fades.append(Fade(out_frame=tc.frame_num, out_start=tc.frame_num))
        self.levels.append((tc.frame_num, level))
        for cut in cuts:
            self.fade_cuts.append(cut)
            if self.fades:
                self.fades[-1].cut = cut
        return cuts

    def _fade_cut(self, cut: int) -> None:
        """A fade is a boundary unless the main detector already cut at it."""
        if not self._near_primary(self.fades[-1] if self.fades else None):
            self._close_shot(cut, "fade")

    def _primary_cut(self, cut: int) -> None:
        fade = self.fades[-1] if self.fades else None
        if fade is not None and self._same_transition(fade, cut):
            if fade.cut is not None:
                return  # the fade already made this boundary
            self._close_shot(cut, "fade")
            return
        self._close_shot(cut, "cut")

    def _same_transition(self, fade: Fade, cut: int) -> bool:
        slack = self.config.min_scene_len
        end = fade.in_frame if fade.in_frame is not None else self.last_index + 1
        return fade.out_frame - slack <= cut <= end + slack

    def _near_primary(self, fade: Fade | None) -> bool:
        """True (and the boundary relabelled) when the main detector already cut at this fade."""
        if fade is None:
            return False
        for c in reversed(self.cuts[-3:]):
            if self._same_transition(fade, c):
                self._mark_fade(c)
                return True
        return False

    def _mark_fade(self, start: int) -> None:
        if self.shot_start == start:
            self.transition = "fade"
        for shot in (*self.pending, *self.done):
            if shot.start == start:
                shot.transition = "fade"

    def _close_shot(self, cut: int, transition: str) -> None:
        if cut <= self.shot_start:
            return
        shot = Shot(self.shot_start, cut, self.transition)
        shot.stills = [k for k in self.stills if k.index < cut]
        self.stills = [k for k in self.stills if k.index >= cut]
        if not shot.stills:
            shot.stills = [k for k in self.fallback if self.shot_start <= k.index < cut]
        self.pending.append(shot)
        self.shot_start, self.transition = cut, transition
        self.fallback = [k for k in self.fallback if k.index >= cut]
        self.fallback_stride = 1
        self._settle(final=False)

    # Keyframes (stills stream) ----------------------------------------------------------------
    def on_still(self, frame: Frame) -> None:
        if not self.config.thumbnails:
            return
        self.latest_still = frame.index
        kept = Kept(frame.index, frame.image, sharpness(frame.image))
        for shot in self.pending:  # a still that arrives after its shot was closed
            if shot.start <= frame.index < shot.end:
                shot.stills.append(kept)
                break
        else:
            if frame.index >= self.shot_start:
                self.stills.append(kept)
                if len(self.stills) >= MAX_KEPT:
                    self.stills = self.stills[::2]  # halve, keeping the spread over the shot
        self._settle(final=False)

    def _keep_fallback(self, frame: Frame) -> None:
        """A few detection frames per shot, for shots too short to hold a still."""
        if (frame.index - self.shot_start) % self.fallback_stride:
            return
        self.fallback.append(Kept(frame.index, frame.image, -1.0))
        if len(self.fallback) >= MAX_KEPT:
            self.fallback_stride *= 2
            self.fallback = [k for k in self.fallback if (k.index - self.shot_start) % self.fallback_stride == 0]

    def _settle(self, final: bool) -> None:
        """Pick keyframes of closed shots once no more of their stills can arrive."""
        while self.pending:
            shot = self.pending[0]
            if not final and self.config.thumbnails and self.latest_still < shot.end + self.still_every:
                return
            self.pending.pop(0)
            if self.config.thumbnails:
                save_keyframe(shot, self.config.keyframe_window, self.config.jpeg_quality, self.clip.artefact_dir)
            shot.stills = []
            self.done.append(shot)

    # Result -----------------------------------------------------------------------------------
    def finish(self) -> Result:
        self.raise_if_failed()
        c = self.config
        if self.last_index >= 0:
            self._flush_detectors()
        end = self.last_index + 1
        if end > self.shot_start:
            shot = Shot(self.shot_start, end, self.transition)
            shot.stills = self.stills or [k for k in self.fallback if k.index >= self.shot_start]
            self.pending.append(shot)
        self._settle(final=True)
        items = shot_items(self.done)
        fades = [fade_record(f, end) for f in self.fades]
        markers = self._boundary_markers(end)
        self.stills, self.fallback = [], []
        return Result(
            items=items,
            summary={
                "shots": len(items),
                "cuts": list(self.cuts),
                "detector": c.detector,
                "fade_cuts": list(self.fade_cuts) if (self.fader is not None or c.detector == "threshold") else None,
                "fades": fades,
                "frames_seen": end,
            },
            markers=markers,
            artefacts=sorted(s.thumbnail for s in self.done if s.thumbnail),
        )

    def _flush_detectors(self) -> None:
        """The cuts the detectors only report once they know the clip has ended."""
        last = FrameTimecode(self.last_index, fps=self.rate)
        final = [c.frame_num for c in self.detector.post_process(last)]
        self.cuts += final
        if isinstance(self.detector, ThresholdDetector):
            self.fade_cuts += final
            for cut in final:
                self._close_shot(cut, "fade")
        else:
            for cut in final:
                self._primary_cut(cut)
            if self.fader is not None:
                for cut in self.fader.post_process(last):
                    self.fade_cuts.append(cut.frame_num)
                    self._fade_cut(cut.frame_num)

    def _boundary_markers(self, end: int) -> list[Marker]:
        """One marker per shot boundary (an editor's timeline wants one per cut); a fade's
        extent goes in its comment, and in summary.fades."""
        fade_at = {f.cut: f for f in self.fades if f.cut is not None}
        return [
            Marker(
                category="shot",
                frame=shot.start,
                name=f"{'Fade' if shot.transition == 'fade' else 'Cut'} {n}",
                comment=boundary_comment(shot, self.config, self.fades, fade_at, end),
            )
            for n, shot in enumerate(self.done, start=1)
            if n > 1
        ]
