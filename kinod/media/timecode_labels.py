"""SMPTE timecode labels: frame numbers to ``HH:MM:SS:FF`` and back, drop frame included.

Labels are a counter, not a clock (see :mod:`kinod.media.timecode`): the arithmetic
here is integer only, on the timecode base of an exact rate, and wraps at 24 hours
because a label is a time of day. :mod:`kinod.media.timecode` re-exports the public
names.
"""

from __future__ import annotations

import re
from fractions import Fraction

from kinod.media.timecode_rates import check_rate, drop_count, format_rate, nominal_fps, supports_drop_frame

_SECONDS_PER_DAY = 24 * 60 * 60

_TC_RE = re.compile(r"([0-9]{1,2})[:;.,]([0-9]{2})[:;.,]([0-9]{2})([:;.,])([0-9]{2,3})")
_DF_SEPARATORS = frozenset(";,")


def frames_per_day(rate: Fraction, drop_frame: bool = False) -> int:
    """How many distinct labels (frames) a 24-hour timecode day has.

    NDF: ``nominal_fps * 86400``. DF: that, minus the labels dropped in the 1296
    non-tenth minutes of the day (2,589,408 at 29.97 DF; 5,178,816 at 59.94 DF).
    """
    rate = check_rate(rate)
    base = nominal_fps(rate)
    total = base * _SECONDS_PER_DAY
    if drop_frame:
        drop = drop_count(rate)
        total -= drop * (24 * 60 - 24 * 6)
    return total


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
    rate = check_rate(rate)
    base = nominal_fps(rate)
    frames %= frames_per_day(rate, drop_frame)
    sep = ":"
    if drop_frame:
        # Map the real frame count to the label counter by adding back the labels
        # skipped so far: 9 drops per full ten-minute block, then one drop per
        # started minute after the first (drop-free) minute of the current block.
        drop = drop_count(rate)
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
    rate = check_rate(rate)
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
        drop = drop_count(rate)
        if ss == 0 and ff < drop and mm % 10 != 0:
            raise ValueError(f"invalid timecode {tc!r}: label is skipped in drop-frame counting")
        total_minutes = hh * 60 + mm
        frames -= drop * (total_minutes - total_minutes // 10)
    return frames
