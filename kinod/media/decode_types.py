"""The values the decode pass is made of: its branches, frame streams, statistics and sizes.

Shared by :mod:`kinod.media.decode` (which runs the pass), the filter graph
(:mod:`kinod.media.decode_graph`), the plan (:mod:`kinod.media.decode_plan`) and the
pipe readers (:mod:`kinod.media.decode_readers`); all are importable from
:mod:`kinod.media.decode`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from kinod.media.probe import Probe

AUDIO_CHUNK_SECONDS = 0.5
#: swscale's default fast path rounds chroma coarsely in the YUV->BGR step; the hue
#: noise that leaves in flat areas adds false cuts (testvideo.mp4: 211, 360, 692).
#: Accurate rounding with full chroma interpolation matches OpenCV/PyAV conversion.
SCALE_FLAGS = "area+accurate_rnd+full_chroma_int"
#: FrameNeeds scaling "fast": the same averaging, swscale's default chroma rounding. At
#: 10 fps to 1280x720 from 1080p the accurate flags cost 4x the scaling itself (5.8 vs
#: 1.7 CPU-s per 90 s); the analysis cache's pictures are JPEGs for models anyway.
FAST_SCALE_FLAGS = "area"
#: Nearest-pixel decimation (FrameNeeds scaling "point" and the filter taps' picture).
POINT_FLAGS = "neighbor"
#: Width of the picture small filter taps see: that of the shots detection stream, so
#: both share one scaling (the costliest step after decoding itself).
TAP_WIDTH = 256
MAX_STDERR_LINES = 200


class DecodeError(RuntimeError):
    """ffmpeg could not decode the clip; the message names the file and ffmpeg's words."""


@dataclass(frozen=True)
class VideoBranch:
    """An extra consumer of the decoded picture inside the same ffmpeg process.

    ``filters`` is a filter chain applied to the full-resolution picture (may be
    empty); ``output_args`` are the ffmpeg output options and the output target.
    """

    filters: str
    output_args: tuple[str, ...]


@dataclass(frozen=True)
class AudioBranch:
    """An extra consumer of the decoded audio (all streams merged) in the same process."""

    filters: str
    output_args: tuple[str, ...]


@dataclass
class PassStats:
    frames: int = 0
    audio_samples: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    #: Analyzers cut off because a hook raised: name -> what it raised.
    analyzer_errors: dict[str, str] = field(default_factory=dict)
    #: analyzer -> CPU seconds its hooks took (its share of the pass's Python side).
    hook_cpu: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamSpec:
    """One BGR frame pipe: its size, how it is scaled, and which frames it carries."""

    width: int
    height: int
    scaling: Literal["area", "point", "fast"]
    #: None: every frame. Else frames per frame of the clip (< 1): the stream carries
    #: frame n when floor(n * step) > floor((n - 1) * step), selected inside ffmpeg.
    step: Fraction | None = None

    def index(self, k: int) -> int:
        """Clip frame index of the k-th frame out of this stream."""
        if self.step is None:
            return k
        return math.ceil(k / self.step)


def analysis_size(probe: Probe, width: int) -> tuple[int, int]:
    """Width and height of analysis frames: ``width`` wide (never upscaled), even, aspect kept."""
    src_w, src_h = probe.width or width, probe.height or width * 9 // 16
    if abs(probe.rotation) % 180 == 90:
        src_w, src_h = src_h, src_w
    par = Fraction(1)
    if probe.pixel_aspect:
        try:
            par = Fraction(probe.pixel_aspect).limit_denominator(1000)
        except (ValueError, ZeroDivisionError):
            par = Fraction(1)
    display_w = src_w * par
    w = min(width, int(display_w) // 2 * 2) or 2
    h = max(2, round(w * src_h / display_w / 2) * 2)
    return w, int(h)


def sample_step(rate: Fraction, fps: float | None) -> Fraction | None:
    """Frames kept per clip frame for sampling at ``fps``; None when that is every frame."""
    if fps is None or fps <= 0:
        return None
    step = Fraction(fps).limit_denominator(1000) / rate
    return None if step >= 1 else step


def _is_sample(index: int, rate: Fraction, fps: float) -> bool:
    """True for the first frame of each 1/fps period, so samples land on exact frames."""
    step = sample_step(rate, fps)
    if step is None or index == 0:
        return True
    return int(index * step) != int((index - 1) * step)
