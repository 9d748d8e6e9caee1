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

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

from kinod.media.cards.model import CameraFacts, Card, ClipFiles
from kinod.media.cards.registry import CardError, detect_card
from kinod.media.timecode import format_rate, parse_rate

CARD_VIDEO = "card-video"
CONFIG = "cards.audio_tc_rate"


def card_video_rate(card_root: Path) -> Fraction | None:
    """The frame rate of the card's first video clip (camera metadata, else the container), or None.

    Parses the card; where the card is already parsed, :func:`layout_video_rate` reads it.
    """
    try:
        card = detect_card(card_root)
    except (CardError, OSError):
        return None
    return layout_video_rate(card)


def layout_video_rate(card: Card) -> Fraction | None:
    """The frame rate of a parsed card's first video clip (camera metadata, else the container), or None."""
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


def with_card_rate(card: Card, clips: list[ClipFiles]) -> list[ClipFiles]:
    """The clips, each Broadcast WAV's facts carrying the card's video rate (or saying there is none).

    Looked up once for the card, from the card as already parsed, so the decode pass of
    each take needs neither the card nor its videos again. The rate only labels a take
    whose recorder wrote none; a take with an iXML rate keeps its own.
    """
    known = {f.path: c for c in card.clips for f in c.files}
    todo = [i for i, c in enumerate(clips) if c.first.suffix.lower() in (".wav", ".bwf") and c.first in known]
    if not todo:
        return clips
    rate = layout_video_rate(card)
    out = list(clips)
    for i in todo:
        clip = known[out[i].first]
        facts = out[i].camera or CameraFacts(clip.name, clip.family)
        if rate is not None:
            facts = replace(facts, tc_rate=format_rate(rate), tc_rate_source=CARD_VIDEO)
        else:
            facts = replace(facts, tc_rate=None, tc_rate_source=CONFIG)
        out[i] = replace(out[i], camera=facts)
    return out


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
