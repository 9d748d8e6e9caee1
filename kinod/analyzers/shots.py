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
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field
from scenedetect import (
    AdaptiveDetector,
    ContentDetector,
    FrameTimecode,
    HashDetector,
    HistogramDetector,
    SceneDetector,
    ThresholdDetector,
)

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
from kinod.analyzers.reading import items, num, text
from kinod.fsutil import atomic_write_bytes

#: Stills (and fallback frames) kept per open shot before their spacing doubles.
MAX_KEPT = 32
#: The width PySceneDetect's auto-downscale aims for; the point stream is this wide.
DETECT_WIDTH = 256
#: A fade changes the mean 8-bit level by more than this per frame (a 5 s fade from
#: mid grey at 30 fps moves it ~0.7 per frame; a static picture's noise far less).
RAMP_STEP = 0.3
#: Longest fade measured, in frames.
RAMP_MAX = 240


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


@dataclass
class _Kept:
    index: int
    image: np.ndarray
    sharpness: float


@dataclass
class _Fade:
    """One pass below the fade threshold: the picture went out at out_frame, came back at in_frame."""

    out_frame: int
    in_frame: int | None = None
    cut: int | None = None
    #: First frame of the darkening that crossed at out_frame (== out_frame: a cut to black).
    out_start: int | None = None
    #: End (exclusive) of the brightening that crossed at in_frame (in_frame + 1: a cut from black).
    in_end: int | None = None


@dataclass
class _Shot:
    start: int
    end: int
    transition: str
    keyframe: int | None = None
    sharpness: float | None = None
    thumbnail: str | None = None
    stills: list[_Kept] = field(default_factory=list)


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
        self.detector = _make_detector(c)
        self.fader: ThresholdDetector | None = None
        if c.fades and c.detector != "threshold":
            method = ThresholdDetector.Method.CEILING if c.fade_method == "ceiling" else ThresholdDetector.Method.FLOOR
            self.fader = ThresholdDetector(
                threshold=c.fade_threshold,
                min_scene_len=c.min_scene_len,
                fade_bias=c.fade_bias,
                method=method,
                add_final_scene=c.fade_final_cut,
            )
        self.cuts: list[int] = []
        self.fade_cuts: list[int] = []
        self.fades: list[_Fade] = []
        self.levels: deque[tuple[int, float]] = deque(maxlen=RAMP_MAX)
        self.last_index = -1
        self.shot_start = 0
        self.transition = "start"
        self.pending: list[_Shot] = []
        self.done: list[_Shot] = []
        self.stills: list[_Kept] = []
        self.fallback: list[_Kept] = []
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
        self._ramps(tc.frame_num, level)
        if before is not None and after != before:
            if after == "out":
                self.fades.append(_Fade(out_frame=tc.frame_num, out_start=self._ramp_start(tc.frame_num, level)))
            elif self.fades and self.fades[-1].in_frame is None:
                self.fades[-1].in_frame = tc.frame_num
        elif before is None and after == "out":
            # The clip opens dark: only its fade in will follow.
            self.fades.append(_Fade(out_frame=tc.frame_num, out_start=tc.frame_num))
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

    def _ramp_start(self, index: int, level: float) -> int:
        """Walk back over the frames that kept getting darker towards this one."""
        start, after = index, level
        for i, lv in reversed(self.levels):
            if i != start - 1 or lv <= after + RAMP_STEP:
                break
            start, after = i, lv
        return start

    def _ramps(self, index: int, level: float) -> None:
        """Extend the brightening after a fade in while it lasts."""
        fade = self.fades[-1] if self.fades else None
        if fade is None or fade.in_frame is None or fade.in_end is not None or fade.in_frame == index:
            return
        previous = self.levels[-1][1] if self.levels else level
        if level <= previous + RAMP_STEP or index - fade.in_frame >= RAMP_MAX:
            fade.in_end = index

    def _primary_cut(self, cut: int) -> None:
        fade = self.fades[-1] if self.fades else None
        if fade is not None and self._same_transition(fade, cut):
            if fade.cut is not None:
                return  # the fade already made this boundary
            self._close_shot(cut, "fade")
            return
        self._close_shot(cut, "cut")

    def _same_transition(self, fade: _Fade, cut: int) -> bool:
        slack = self.config.min_scene_len
        end = fade.in_frame if fade.in_frame is not None else self.last_index + 1
        return fade.out_frame - slack <= cut <= end + slack

    def _near_primary(self, fade: _Fade | None) -> bool:
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
        shot = _Shot(self.shot_start, cut, self.transition)
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
        kept = _Kept(frame.index, frame.image, _sharpness(frame.image))
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
        self.fallback.append(_Kept(frame.index, frame.image, -1.0))
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
                self._keyframe(shot)
            shot.stills = []
            self.done.append(shot)

    def _keyframe(self, shot: _Shot) -> None:
        if not shot.stills:
            return
        middle = (shot.start + shot.end - 1) / 2
        half = max(1.0, (shot.end - shot.start) * self.config.keyframe_window / 2)
        near = [k for k in shot.stills if abs(k.index - middle) <= half]
        if near and near[0].sharpness >= 0:
            best = max(near, key=lambda k: k.sharpness)
        else:
            best = min(shot.stills, key=lambda k: abs(k.index - middle))
        name = f"shot_{shot.start:07d}.jpg"
        ok, data = cv2.imencode(".jpg", best.image, [cv2.IMWRITE_JPEG_QUALITY, self.config.jpeg_quality])
        if not ok:
            return
        folder: Path = self.clip.artefact_dir
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / name, data.tobytes())
        shot.keyframe, shot.thumbnail = best.index, name
        shot.sharpness = round(best.sharpness, 2) if best.sharpness >= 0 else None

    # Result -----------------------------------------------------------------------------------
    def finish(self) -> Result:
        self.raise_if_failed()
        c = self.config
        if self.last_index >= 0:
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
        end = self.last_index + 1
        if end > self.shot_start:
            shot = _Shot(self.shot_start, end, self.transition)
            shot.stills = self.stills or [k for k in self.fallback if k.index >= self.shot_start]
            self.pending.append(shot)
        self._settle(final=True)
        items: list[dict[str, Any]] = []
        for n, shot in enumerate(self.done, start=1):
            item: dict[str, Any] = {
                "index": n,
                "start_frame": shot.start,
                "end_frame": shot.end,
                "transition": shot.transition,
            }
            if shot.thumbnail is not None:
                item["keyframe"] = shot.keyframe
                item["thumbnail"] = shot.thumbnail
                item["keyframe_sharpness"] = shot.sharpness
            items.append(item)
        fades = [_fade_record(f, end) for f in self.fades]
        # One marker per shot boundary (an editor's timeline wants one per cut); a fade's
        # extent goes in its comment, and in summary.fades.
        fade_at = {f.cut: f for f in self.fades if f.cut is not None}
        markers = [
            Marker(
                category="shot",
                frame=shot.start,
                name=f"{'Fade' if shot.transition == 'fade' else 'Cut'} {n}",
                comment=_boundary_comment(shot, c, self.fades, fade_at, end),
            )
            for n, shot in enumerate(self.done, start=1)
            if n > 1
        ]
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


def _make_detector(c: ShotsConfig) -> SceneDetector:
    if c.detector == "adaptive":
        return AdaptiveDetector(
            adaptive_threshold=c.adaptive_threshold, min_scene_len=c.min_scene_len, min_content_val=c.min_content_val
        )
    if c.detector == "hash":
        return HashDetector(threshold=c.hash_threshold, min_scene_len=c.min_scene_len)
    if c.detector == "histogram":
        return HistogramDetector(threshold=c.histogram_threshold, min_scene_len=c.min_scene_len)
    if c.detector == "threshold":
        method = ThresholdDetector.Method.CEILING if c.fade_method == "ceiling" else ThresholdDetector.Method.FLOOR
        return ThresholdDetector(
            threshold=c.fade_threshold,
            min_scene_len=c.min_scene_len,
            fade_bias=c.fade_bias,
            method=method,
            add_final_scene=c.fade_final_cut,
        )
    return ContentDetector(threshold=c.threshold, min_scene_len=c.min_scene_len)


def _describe(c: ShotsConfig) -> str:
    return {
        "content": f"ContentDetector threshold {c.threshold}",
        "adaptive": f"AdaptiveDetector adaptive_threshold {c.adaptive_threshold}",
        "hash": f"HashDetector threshold {c.hash_threshold}",
        "histogram": f"HistogramDetector threshold {c.histogram_threshold}",
        "threshold": f"ThresholdDetector threshold {c.fade_threshold}",
    }[c.detector]


def _fade_record(f: _Fade, end: int) -> dict[str, Any]:
    """A fade as frames: the darkening [fade_out_start, fade_out_frame], the brightening
    [fade_in_frame, fade_in_end), and the cut ThresholdDetector places between them."""
    rec: dict[str, Any] = {
        "fade_out_start": f.out_start if f.out_start is not None else f.out_frame,
        "fade_out_frame": f.out_frame,
        "fade_in_frame": f.in_frame,
        "fade_in_end": None,
        "cut_frame": f.cut,
    }
    if f.in_frame is not None:
        rec["fade_in_end"] = f.in_end if f.in_end is not None else end
    return rec


def _boundary_comment(shot: _Shot, c: ShotsConfig, fades: list[_Fade], fade_at: dict[int, _Fade], end: int) -> str:
    if shot.transition != "fade":
        return f"shots: {_describe(c)}"
    level = "black" if c.fade_method == "floor" else "white"
    fade = fade_at.get(shot.start) or next(
        (f for f in fades if f.out_frame - c.min_scene_len <= shot.start <= (f.in_frame or end) + c.min_scene_len),
        None,
    )
    if fade is None:
        return f"shots: through {level}"
    rec = _fade_record(fade, end)
    span = f"out {rec['fade_out_start']}-{rec['fade_out_frame']}"
    if rec["fade_in_frame"] is not None:
        span += f", in {rec['fade_in_frame']}-{rec['fade_in_end'] - 1}"
    return f"shots: through {level} ({span})"


def _sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the luma: higher is sharper (focus, motion blur)."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_32F).var())
