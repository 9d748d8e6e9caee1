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
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

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

#: The rates kinod is tested at, by their customary names. NTSC-family rates are
#: the exact ``N*1000/1001`` values, never the rounded decimal in the name.
STANDARD_RATES: dict[str, Fraction] = {
    "23.976": Fraction(24000, 1001),
    "24": Fraction(24),
    "25": Fraction(25),
    "29.97": Fraction(30000, 1001),
    "30": Fraction(30),
    "47.95": Fraction(48000, 1001),
    "48": Fraction(48),
    "50": Fraction(50),
    "59.94": Fraction(60000, 1001),
    "60": Fraction(60),
}

#: Rates with a defined SMPTE drop-frame counting, mapped to the number of labels
#: skipped at the start of each non-tenth minute.
DROP_FRAME_RATES: dict[Fraction, int] = {
    Fraction(30000, 1001): 2,
    Fraction(60000, 1001): 4,
}

#: A decimal rate this close (in fps) to some ``N*1000/1001`` is taken to mean it:
#: cameras and tools write 29.97, 29.970, 23.98 or 23.976 for the same exact rate.
_NTSC_SNAP_TOLERANCE = Fraction(1, 100)

#: Times this close below a frame boundary count as on it (see seconds_to_frame).
_SECONDS_TOLERANCE = Fraction(1, 10**6)

_SECONDS_PER_DAY = 24 * 60 * 60

_TC_RE = re.compile(r"([0-9]{1,2})[:;.,]([0-9]{2})[:;.,]([0-9]{2})([:;.,])([0-9]{2,3})")
_DF_SEPARATORS = frozenset(";,")


# --------------------------------------------------------------------------- rates


def parse_rate(value: str | float | Fraction | Decimal) -> Fraction:
    """Turn a frame rate as found in metadata into an exact :class:`Fraction`.

    Accepted forms: ``"30000/1001"``, ``"25/1"``, ``"29.97"``, ``"29.970"``,
    ``"23.98"``, ``"25"``, ``25``, ``59.94`` (float), ``Fraction(...)``.

    * Ratio strings (``"num/den"``), integers and :class:`Fraction` values are exact
      already and are returned as they are (reduced).
    * Decimal strings and floats are approximations somebody rounded. If such a
      value is not a whole number and lies within 0.01 fps of an NTSC rate
      ``N*1000/1001`` it snaps to that rate, because no camera shoots at 29.970000
      real fps; a whole number (``"24"``, ``60.0``) is never snapped, it means
      itself. Anything else becomes ``Fraction(value).limit_denominator(1001)``.

    Raises :class:`ValueError` naming the value for zero, negative, NaN, infinite,
    boolean or unparsable input.
    """
    approximate = False
    try:
        if isinstance(value, bool):
            raise TypeError("a bool is not a frame rate")
        if isinstance(value, Fraction):
            rate = value
        elif isinstance(value, int):
            rate = Fraction(value)
        elif isinstance(value, (float, Decimal)):
            rate = Fraction(value)
            approximate = True
        elif isinstance(value, str):
            text = value.strip()
            if "/" in text:
                num, _, den = text.partition("/")
                rate = Fraction(int(num.strip()), int(den.strip()))
            else:
                rate = Fraction(text)
                approximate = True
        else:
            raise TypeError(type(value).__name__)
    except (ValueError, OverflowError, ZeroDivisionError, TypeError) as exc:
        raise ValueError(f"invalid frame rate {value!r}: {exc}") from None
    if rate <= 0:
        raise ValueError(f"invalid frame rate {value!r}: must be positive")
    if approximate and rate.denominator != 1:
        return _snap(rate, value)
    return rate


def snap_rate(rate: Fraction) -> Fraction:
    """A container's exact rational as the rate an NLE means, without going through a float.

    Containers store rounded rationals such as ``2997/100`` or ``23976/1000``; an NLE
    calls those 29.97 and 23.976 NTSC, i.e. ``30000/1001`` and ``24000/1001``. Whole
    rates are returned as they are; others within 0.01 fps of an NTSC rate snap to it,
    anything else is limited to a denominator of 1001 (as :func:`parse_rate` does for
    decimals).
    """
    rate = _check_rate(rate)
    return rate if rate.denominator == 1 else _snap(rate, rate)


def _snap(rate: Fraction, value: object) -> Fraction:
    """``rate`` (not whole) snapped to ``N*1000/1001`` when within tolerance, else limited to /1001."""
    n = round(rate * Fraction(1001, 1000))
    if n > 0:
        ntsc = Fraction(n * 1000, 1001)
        if abs(rate - ntsc) <= _NTSC_SNAP_TOLERANCE:
            return ntsc
    rate = rate.limit_denominator(1001)
    if rate <= 0:  # a tiny positive value can collapse to 0
        raise ValueError(f"invalid frame rate {value!r}: too small")
    return rate


def format_rate(rate: Fraction) -> str:
    """Format a rate as ``"num/den"`` (``"30000/1001"``, ``"25/1"``), always.

    One unambiguous, exact form for sidecars and exporters; :func:`parse_rate`
    reads it back losslessly. NTSC-family rates are written over ``1001`` even
    where the fraction would reduce (``7000/1001`` rather than ``1000/143``),
    because that is how every NLE spells them.
    """
    rate = _check_rate(rate)
    if is_ntsc(rate):
        return f"{rate * 1001}/1001"
    return f"{rate.numerator}/{rate.denominator}"


def nominal_fps(rate: Fraction) -> int:
    """The timecode base: frame numbers per label second (29.97 -> 30, 23.976 -> 24).

    Rounded half up, and at least 1, so every positive rate has a usable base.
    """
    rate = _check_rate(rate)
    return max(1, math.floor(rate + Fraction(1, 2)))


def is_ntsc(rate: Fraction) -> bool:
    """True for the ``N*1000/1001`` family (23.976, 29.97, 59.94, ...), not for integers."""
    rate = _check_rate(rate)
    return rate.denominator != 1 and (rate * Fraction(1001, 1000)).denominator == 1


def supports_drop_frame(rate: Fraction) -> bool:
    """True only for 30000/1001 and 60000/1001, the rates SMPTE defines DF for.

    23.976 has no drop-frame form: its labels simply run 0.1 % slow of the clock.
    """
    return _check_rate(rate) in DROP_FRAME_RATES


def frames_per_day(rate: Fraction, drop_frame: bool = False) -> int:
    """How many distinct labels (frames) a 24-hour timecode day has.

    NDF: ``nominal_fps * 86400``. DF: that, minus the labels dropped in the 1296
    non-tenth minutes of the day (2,589,408 at 29.97 DF; 5,178,816 at 59.94 DF).
    """
    rate = _check_rate(rate)
    base = nominal_fps(rate)
    total = base * _SECONDS_PER_DAY
    if drop_frame:
        drop = _drop_count(rate)
        total -= drop * (24 * 60 - 24 * 6)
    return total


# ----------------------------------------------------------------------- timecode


def frames_to_tc(frames: int, rate: Fraction, drop_frame: bool = False) -> str:
    """Label for frame number ``frames`` counted from ``00:00:00:00``.

    Returns ``"HH:MM:SS:FF"``, or ``"HH:MM:SS;FF"`` for drop frame. The count wraps
    at 24 hours in both directions (``-1`` is the last frame of the day), because
    timecode is a time of day. The frames field has at least two digits, more
    only for bases above 100 fps.

    Raises :class:`ValueError` for ``drop_frame=True`` at a rate without DF.
    """
    if isinstance(frames, bool) or not isinstance(frames, int):
        raise TypeError(f"frame number must be an int, not {type(frames).__name__}")
    rate = _check_rate(rate)
    base = nominal_fps(rate)
    frames %= frames_per_day(rate, drop_frame)
    sep = ":"
    if drop_frame:
        # Map the real frame count to the label counter by adding back the labels
        # skipped so far: 9 drops per full ten-minute block, then one drop per
        # started minute after the first (drop-free) minute of the current block.
        drop = _drop_count(rate)
        per_ten = base * 600 - drop * 9
        per_minute = base * 60 - drop
        tens, rest = divmod(frames, per_ten)
        frames += drop * 9 * tens
        if rest >= drop:
            frames += drop * ((rest - drop) // per_minute)
        sep = ";"
    total_seconds, ff = divmod(frames, base)
    total_minutes, ss = divmod(total_seconds, 60)
    hh, mm = divmod(total_minutes, 60)
    width = max(2, len(str(base - 1)))
    return f"{hh:02d}:{mm:02d}:{ss:02d}{sep}{ff:0{width}d}"


def is_drop_frame_label(tc: str) -> bool:
    """True if the label is written drop-frame style (``;`` or ``,`` before the frames)."""
    match = _TC_RE.fullmatch(tc.strip())
    return bool(match) and match.group(4) in _DF_SEPARATORS


def tc_to_frames(tc: str, rate: Fraction, drop_frame: bool | None = None) -> int:
    """Frame number (from ``00:00:00:00``) of a label; the inverse of :func:`frames_to_tc`.

    Any of ``:`` ``;`` ``.`` ``,`` may separate the fields. With ``drop_frame=None``
    the counting is inferred from the separator before the frames field: ``;`` or
    ``,`` means drop frame *if the rate has a DF form*; at any other rate such a
    label is read as NDF, since its fields can mean nothing else. An explicit
    ``drop_frame=True`` at a rate without DF raises instead.

    Raises :class:`ValueError` naming the string for labels that cannot exist: non-
    digits, hours >= 24, minutes or seconds >= 60, frames >= the nominal fps, and
    in drop frame the skipped labels (``00:01:00;00`` at 29.97 DF; the first label
    of that minute is ``00:01:00;02``).
    """
    if not isinstance(tc, str):
        raise TypeError(f"timecode must be a str, not {type(tc).__name__}")
    rate = _check_rate(rate)
    match = _TC_RE.fullmatch(tc.strip())
    if match is None:
        raise ValueError(f"invalid timecode {tc!r}: expected HH:MM:SS:FF")
    hh, mm, ss, ff = (int(match.group(i)) for i in (1, 2, 3, 5))
    if drop_frame is None:
        drop_frame = match.group(4) in _DF_SEPARATORS and supports_drop_frame(rate)
    base = nominal_fps(rate)
    if hh >= 24:
        raise ValueError(f"invalid timecode {tc!r}: hours must be below 24")
    if mm >= 60 or ss >= 60:
        raise ValueError(f"invalid timecode {tc!r}: minutes and seconds must be below 60")
    if ff >= base:
        raise ValueError(f"invalid timecode {tc!r}: frames must be below {base} at {format_rate(rate)}")
    frames = (hh * 3600 + mm * 60 + ss) * base + ff
    if drop_frame:
        drop = _drop_count(rate)
        if ss == 0 and ff < drop and mm % 10 != 0:
            raise ValueError(f"invalid timecode {tc!r}: label is skipped in drop-frame counting")
        total_minutes = hh * 60 + mm
        frames -= drop * (total_minutes - total_minutes // 10)
    return frames


# ------------------------------------------------------------------ frames & time


def frame_to_seconds(frame: int, rate: Fraction) -> Fraction:
    """Exact start time, in seconds, of frame number ``frame`` (``frame / rate``)."""
    return Fraction(frame) / _check_rate(rate)


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
    rate = _check_rate(rate)
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
    rate = _check_rate(rate)
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
    tags are often rewritten by transcoders; the default is a last resort.
    """

    CAMERA_XML = "camera-xml"
    CONTAINER = "container"
    FILE_TAGS = "file-tags"
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
    rate = _check_rate(rate)
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


# -------------------------------------------------------------------- helpers


def _check_rate(rate: Fraction) -> Fraction:
    """Accept an exact positive rate; reject floats so they never leak into the arithmetic."""
    if isinstance(rate, bool) or not isinstance(rate, (Fraction, int)):
        raise TypeError(f"rate must be a Fraction (use parse_rate), not {type(rate).__name__}: {rate!r}")
    if rate <= 0:
        raise ValueError(f"invalid frame rate {rate!r}: must be positive")
    return Fraction(rate)


def _drop_count(rate: Fraction) -> int:
    """Labels skipped per non-tenth minute; ValueError where DF is undefined."""
    try:
        return DROP_FRAME_RATES[rate]
    except KeyError:
        raise ValueError(
            f"drop-frame timecode is only defined at 30000/1001 and 60000/1001, not {format_rate(rate)}"
        ) from None
