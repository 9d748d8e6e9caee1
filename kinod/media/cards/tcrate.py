"""The frame rate that labels a Broadcast WAV's start when its recorder wrote none.

The bext time reference (samples since midnight) gives the start exactly: samples to
seconds needs no frame rate. The rate only decides how the frames are labelled
(10:00:00:00 at 25 fps and at 23.976 are the same instant). So for a take without
an iXML ``TIMECODE_RATE`` the rate comes, in order, from:

1. ``"card-video"``: the video clips of the same card (dual-system sound offloaded with
   the pictures it belongs to, so the NLE syncs both on the same frame grid);
2. ``"cards.audio_tc_rate"``: the configured project rate (default 25).

The source goes into the sidecar (``probe.bwf.tc_rate_source``) so nobody has to guess.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from kinod.media.cards.registry import CardError, detect_card
from kinod.media.timecode import parse_rate

CARD_VIDEO = "card-video"
CONFIG = "cards.audio_tc_rate"


def card_video_rate(card_root: Path) -> Fraction | None:
    """The frame rate of the card's first video clip (camera metadata, else the container), or None."""
    try:
        card = detect_card(card_root)
    except (CardError, OSError):
        return None
    for clip in card.clips:
        pictures = [f.path for f in clip.files if f.role in ("av", "video", "part")]
        if not pictures or not clip.analysable:
            continue
        if clip.rate:
            try:
                return parse_rate(clip.rate)
            except ValueError:
                pass
        rate = _container_rate(pictures[0])
        if rate is not None:
            return rate
    return None


def audio_tc_rate(card_root: Path | None, default: Fraction) -> tuple[Fraction, str]:
    """The rate for labelling a rate-less BWF start on this card, and where it came from."""
    if card_root is not None:
        rate = card_video_rate(card_root)
        if rate is not None:
            return rate, CARD_VIDEO
    return default, CONFIG


def _container_rate(path: Path) -> Fraction | None:
    import av

    try:
        with av.open(str(path)) as c:
            for s in c.streams.video:
                r = s.average_rate or s.guessed_rate
                if r:
                    return parse_rate(Fraction(r.numerator, r.denominator))
    except (av.error.FFmpegError, OSError, ValueError):
        return None
    return None
