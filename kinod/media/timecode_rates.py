"""Frame rates as exact fractions: reading them from metadata, writing them, and what they imply.

Metadata spells rates many ways (``"29.97"``, ``"30000/1001"``, ``2997/100`` in a
container); everything downstream wants one exact :class:`~fractions.Fraction`, so
the snapping to ``N*1000/1001`` happens here, once. The timecode base
(:func:`nominal_fps`) and whether a rate has a drop-frame form are facts of the rate
too. :mod:`kinod.media.timecode` re-exports the public names; see its docstring for
why rates are never floats.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

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
    rate = check_rate(rate)
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
    rate = check_rate(rate)
    if is_ntsc(rate):
        return f"{rate * 1001}/1001"
    return f"{rate.numerator}/{rate.denominator}"


def nominal_fps(rate: Fraction) -> int:
    """The timecode base: frame numbers per label second (29.97 -> 30, 23.976 -> 24).

    Rounded half up, and at least 1, so every positive rate has a usable base.
    """
    rate = check_rate(rate)
    return max(1, math.floor(rate + Fraction(1, 2)))


def is_ntsc(rate: Fraction) -> bool:
    """True for the ``N*1000/1001`` family (23.976, 29.97, 59.94, ...), not for integers."""
    rate = check_rate(rate)
    return rate.denominator != 1 and (rate * Fraction(1001, 1000)).denominator == 1


def supports_drop_frame(rate: Fraction) -> bool:
    """True only for 30000/1001 and 60000/1001, the rates SMPTE defines DF for.

    23.976 has no drop-frame form: its labels simply run 0.1 % slow of the clock.
    """
    return check_rate(rate) in DROP_FRAME_RATES


def check_rate(rate: Fraction) -> Fraction:
    """Accept an exact positive rate; reject floats so they never leak into the arithmetic."""
    if isinstance(rate, bool) or not isinstance(rate, (Fraction, int)):
        raise TypeError(f"rate must be a Fraction (use parse_rate), not {type(rate).__name__}: {rate!r}")
    if rate <= 0:
        raise ValueError(f"invalid frame rate {rate!r}: must be positive")
    return Fraction(rate)


def drop_count(rate: Fraction) -> int:
    """Labels skipped per non-tenth minute; ValueError where DF is undefined."""
    try:
        return DROP_FRAME_RATES[rate]
    except KeyError:
        raise ValueError(
            f"drop-frame timecode is only defined at 30000/1001 and 60000/1001, not {format_rate(rate)}"
        ) from None
