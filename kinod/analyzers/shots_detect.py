"""Cut and fade detection for the shots analyzer: PySceneDetect detectors, fades, boundary notes.

Split from :mod:`kinod.analyzers.shots`, which feeds frames through these pieces.
What a fade is here follows ThresholdDetector: the picture goes out at the frame whose
mean intensity crosses ``fade_threshold`` and comes back at the frame it crosses again;
the darkening before and the brightening after are measured from the mean levels so a
boundary's comment (and ``summary.fades``) can give the fade's whole extent.
"""

from __future__ import annotations

from collections.abc import Reversible, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scenedetect import (
    AdaptiveDetector,
    ContentDetector,
    HashDetector,
    HistogramDetector,
    SceneDetector,
    ThresholdDetector,
)

from kinod.analyzers.shots_keyframes import Shot

if TYPE_CHECKING:
    from kinod.analyzers.shots import ShotsConfig

#: A fade changes the mean 8-bit level by more than this per frame (a 5 s fade from
#: mid grey at 30 fps moves it ~0.7 per frame; a static picture's noise far less).
RAMP_STEP = 0.3
#: Longest fade measured, in frames.
RAMP_MAX = 240


@dataclass
class Fade:
    """One pass below the fade threshold: the picture went out at out_frame, came back at in_frame."""

    out_frame: int
    in_frame: int | None = None
    cut: int | None = None
    #: First frame of the darkening that crossed at out_frame (== out_frame: a cut to black).
    out_start: int | None = None
    #: End (exclusive) of the brightening that crossed at in_frame (in_frame + 1: a cut from black).
    in_end: int | None = None


def threshold_detector(c: ShotsConfig) -> ThresholdDetector:
    """A ThresholdDetector for fades through black (``floor``) or white (``ceiling``)."""
    method = ThresholdDetector.Method.CEILING if c.fade_method == "ceiling" else ThresholdDetector.Method.FLOOR
    return ThresholdDetector(
        threshold=c.fade_threshold,
        min_scene_len=c.min_scene_len,
        fade_bias=c.fade_bias,
        method=method,
        add_final_scene=c.fade_final_cut,
    )


def make_detector(c: ShotsConfig) -> SceneDetector:
    """The main cut detector ``shots.detector`` names."""
    if c.detector == "adaptive":
        return AdaptiveDetector(
            adaptive_threshold=c.adaptive_threshold, min_scene_len=c.min_scene_len, min_content_val=c.min_content_val
        )
    if c.detector == "hash":
        return HashDetector(threshold=c.hash_threshold, min_scene_len=c.min_scene_len)
    if c.detector == "histogram":
        return HistogramDetector(threshold=c.histogram_threshold, min_scene_len=c.min_scene_len)
    if c.detector == "threshold":
        return threshold_detector(c)
    return ContentDetector(threshold=c.threshold, min_scene_len=c.min_scene_len)


def describe(c: ShotsConfig) -> str:
    return {
        "content": f"ContentDetector threshold {c.threshold}",
        "adaptive": f"AdaptiveDetector adaptive_threshold {c.adaptive_threshold}",
        "hash": f"HashDetector threshold {c.hash_threshold}",
        "histogram": f"HistogramDetector threshold {c.histogram_threshold}",
        "threshold": f"ThresholdDetector threshold {c.fade_threshold}",
    }[c.detector]


def ramp_start(levels: Reversible[tuple[int, float]], index: int, level: float) -> int:
    """Walk back over the frames that kept getting darker towards this one."""
    start, after = index, level
    for i, lv in reversed(levels):
        if i != start - 1 or lv <= after + RAMP_STEP:
            break
        start, after = i, lv
    return start


def extend_ramp(fade: Fade | None, levels: Sequence[tuple[int, float]], index: int, level: float) -> None:
    """Extend the brightening after a fade in while it lasts."""
    if fade is None or fade.in_frame is None or fade.in_end is not None or fade.in_frame == index:
        return
    previous = levels[-1][1] if levels else level
    if level <= previous + RAMP_STEP or index - fade.in_frame >= RAMP_MAX:
        fade.in_end = index


def fade_record(f: Fade, end: int) -> dict[str, Any]:
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


def boundary_comment(shot: Shot, c: ShotsConfig, fades: list[Fade], fade_at: dict[int, Fade], end: int) -> str:
    if shot.transition != "fade":
        return f"shots: {describe(c)}"
    level = "black" if c.fade_method == "floor" else "white"
    fade = fade_at.get(shot.start) or next(
        (f for f in fades if f.out_frame - c.min_scene_len <= shot.start <= (f.in_frame or end) + c.min_scene_len),
        None,
    )
    if fade is None:
        return f"shots: through {level}"
    rec = fade_record(fade, end)
    span = f"out {rec['fade_out_start']}-{rec['fade_out_frame']}"
    if rec["fade_in_frame"] is not None:
        span += f", in {rec['fade_in_frame']}-{rec['fade_in_end'] - 1}"
    return f"shots: through {level} ({span})"
