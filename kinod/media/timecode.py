"""SMPTE timecode with exact rational frame rates.

Why exact fractions: the NTSC-family rates are not 29.97 or 23.976 but exactly
``30000/1001`` and ``24000/1001``. A float such as ``29.97`` is off by about
3.4 frames per day, and ``0.1``-style binary rounding makes ``seconds * rate``
land a hair below a frame boundary, so a probe, a sidecar and an NLE export that
each do their own float arithmetic disagree by one frame on some clips. Every
conversion here is done on :class:`fractions.Fraction` values, so the same frame
number always yields the same time and the same label, in every module.

Two different numbers are in play and must not be confused:

* the *rate* (``30000/1001``): how many frames are shown per real second; used to
  go between frame numbers and seconds;
* the *timecode base* (:func:`nominal_fps`, ``30``): how many frame numbers a
  label counts per "second" field. Labels are a counter, not a clock: at
  29.97 NDF the label ``01:00:00:00`` is 108000 frames, which is 3603.6 real
  seconds.

Drop-frame (DF) timecode keeps the labels close to wall-clock time at
29.97 and 59.94 by *skipping labels* (never frames): frame numbers ``00`` and
``01`` (``00``-``03`` at 59.94) are not used at the start of every minute, except
minutes divisible by ten. DF is written with ``;`` (or ``,``) before the frames
field, e.g. ``01:00:00;00``.

Timecode labels are a time of day, so everything wraps at 24 hours.

Where things are: rates (parsing, snapping, the timecode base) in
:mod:`kinod.media.timecode_rates`, labels (``HH:MM:SS:FF`` and back) in
:mod:`kinod.media.timecode_labels`; this module turns frames into time and back and
picks a clip's start timecode. Every public name is importable from here.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

# Rates and labels live in their own modules; every public name stays importable from here.
from kinod.media.timecode_labels import frames_per_day, frames_to_tc, is_drop_frame_label, tc_to_frames
from kinod.media.timecode_rates import (
    DROP_FRAME_RATES,
    STANDARD_RATES,
    check_rate,
    format_rate,
    is_ntsc,
    nominal_fps,
    parse_rate,
    snap_rate,
    supports_drop_frame,
)

__all__ = [
    "DROP_FRAME_RATES",
    "STANDARD_RATES",
    "StartTimecode",
    "TimecodeSource",
    "bwf_time_reference_to_frames",
    "format_rate",
    "frame_to_seconds",
    "frames_per_day",
    "frames_to_tc",
    "is_drop_frame_label",
    "is_ntsc",
    "nominal_fps",
    "parse_rate",
    "pick_start_timecode",
    "seconds_to_frame",
    "snap_rate",
    "supports_drop_frame",
    "tc_to_frames",
]

#: Times this close below a frame boundary count as on it (see seconds_to_frame).
_SECONDS_TOLERANCE = Fraction(1, 10**6)


# ------------------------------------------------------------------ frames & time


def frame_to_seconds(frame: int, rate: Fraction) -> Fraction:
    """Exact start time, in seconds, of frame number ``frame`` (``frame / rate``)."""
    return Fraction(frame) / check_rate(rate)


def seconds_to_frame(seconds: float | Fraction, rate: Fraction) -> int:
    """The frame showing at time ``seconds``: the ``f`` with ``f/rate <= t < (f+1)/rate``.

    Floor, not round: a time inside a frame's interval belongs to that frame, which
    is what a cut point, a detected event or a transcript word start means. One
    tolerance is added: a time up to 1 microsecond *before* a boundary counts as the
    next frame, because times arriving as floats (``1.001`` for frame 30 at
    30000/1001, or a sum of float durations) are often a hair below the exact
    boundary they denote. A microsecond is far below any frame duration (about
    4 ms even at 240 fps), so it can never skip a real frame. Negative times give
    negative frames.
    """
    rate = check_rate(rate)
    try:
        if isinstance(seconds, bool):
            raise TypeError("a bool is not a time")
        exact = Fraction(seconds)
    except (ValueError, OverflowError, TypeError) as exc:
        raise ValueError(f"invalid time {seconds!r}: {exc}") from None
    return math.floor((exact + _SECONDS_TOLERANCE) * rate)


def bwf_time_reference_to_frames(samples_since_midnight: int, sample_rate: int, rate: Fraction) -> int:
    """Frame count at ``rate`` for a Broadcast WAV ``bext`` time reference.

    ``time_reference`` counts audio samples since midnight, i.e. real time. The
    result is the number of whole frames at ``rate`` in that real time (floored,
    exactly). At integer rates that equals the timecode the recorder showed
    (172800000 samples at 48 kHz -> 90000 frames at 25 -> ``01:00:00:00``). At
    NTSC rates it is a frame *count*, not the recorder's label: 3600 s at
    30000/1001 is 107892 frames, which is ``01:00:00;00`` in DF (DF exists to make
    that true) but ``00:59:56:12`` in NDF. The result is not wrapped at 24 h;
    :func:`frames_to_tc` wraps when formatting.
    """
    rate = check_rate(rate)
    if isinstance(samples_since_midnight, bool) or not isinstance(samples_since_midnight, int):
        raise TypeError("samples_since_midnight must be an int")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int):
        raise TypeError("sample_rate must be an int")
    if samples_since_midnight < 0:
        raise ValueError(f"invalid BWF time reference {samples_since_midnight!r}: negative")
    if sample_rate <= 0:
        raise ValueError(f"invalid sample rate {sample_rate!r}: must be positive")
    return math.floor(Fraction(samples_since_midnight, sample_rate) * rate)


# ------------------------------------------------------------------- start TC


class TimecodeSource(enum.StrEnum):
    """Where a clip's start timecode came from, in priority order, highest first.

    Camera XML sidecars (Sony XDCAM/XAVC, Canon XF) are written by the camera from
    its TC generator; container tags (QuickTime ``tmcd``, MXF) are next; loose file
    tags are often rewritten by transcoders; the default is a last resort. An image
    sequence's frames carry theirs in the DPX TV header or the OpenEXR ``timeCode``
    attribute, as a container does; without one its first frame number, read as a
    frame count at the sequence's rate, is the start (``frame-number``).
    """

    CAMERA_XML = "camera-xml"
    CONTAINER = "container"
    DPX_HEADER = "dpx-header"
    EXR_HEADER = "exr-header"
    FILE_TAGS = "file-tags"
    FRAME_NUMBER = "frame-number"
    DEFAULT = "default"

    @property
    def priority(self) -> int:
        """0 for the most trusted source; larger is less trusted."""
        return list(TimecodeSource).index(self)


@dataclass(frozen=True)
class StartTimecode:
    """A clip's start timecode as a frame count, plus how to label and where it came from."""

    frames: int
    rate: Fraction
    drop_frame: bool
    source: TimecodeSource

    @property
    def text(self) -> str:
        """The label, e.g. ``"01:00:00;00"``."""
        return frames_to_tc(self.frames, self.rate, self.drop_frame)

    @property
    def seconds(self) -> Fraction:
        """Real time of the start frame after label 00:00:00:00 (not the label's face value)."""
        return frame_to_seconds(self.frames, self.rate)


def pick_start_timecode(candidates: Iterable[tuple[TimecodeSource, str]], rate: Fraction) -> StartTimecode:
    """Choose the start timecode from what the probe found.

    The candidate from the highest-priority :class:`TimecodeSource` that parses at
    ``rate`` wins; among candidates from the same source the first given wins.
    Unparsable labels (garbage, a dropped DF label, frames beyond the base) are
    skipped, not fatal: metadata is often wrong, and a lower source or the default
    is better than failing the whole clip. Drop frame is taken from the label's
    separator, and only at a DF-capable rate. With no usable candidate the result
    is ``00:00:00:00`` from :attr:`TimecodeSource.DEFAULT`.
    """
    rate = check_rate(rate)
    best: StartTimecode | None = None
    for source, label in candidates:
        source = TimecodeSource(source)
        if best is not None and best.source.priority <= source.priority:
            continue
        if not isinstance(label, str):
            continue
        try:
            drop_frame = is_drop_frame_label(label) and supports_drop_frame(rate)
            frames = tc_to_frames(label, rate, drop_frame)
        except ValueError:
            continue
        best = StartTimecode(frames=frames, rate=rate, drop_frame=drop_frame, source=source)
    if best is None:
        best = StartTimecode(frames=0, rate=rate, drop_frame=False, source=TimecodeSource.DEFAULT)
    return best
