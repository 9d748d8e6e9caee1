"""Camera cards: turn a folder as a DIT copied it into the recordings the camera made.

Entry point: :func:`detect_card`. One module per camera family (sony, p2, canon,
gopro, dji, raw, audio, sequences, generic), registered in :data:`FAMILIES`.
"""

from kinod.media.cards.model import (
    Camera,
    Card,
    CardClip,
    CardProblem,
    ClipFile,
    Mark,
    SkippedFile,
    TelemetrySample,
)
from kinod.media.cards.registry import FAMILIES, CardError, CardFamily, detect_card

__all__ = [
    "FAMILIES",
    "Camera",
    "Card",
    "CardClip",
    "CardError",
    "CardFamily",
    "CardProblem",
    "ClipFile",
    "Mark",
    "SkippedFile",
    "TelemetrySample",
    "detect_card",
]
