"""The card family table and :func:`detect_card`.

One row per camera family: a detector (does this card look like mine?) and a
parser (claim my files, produce clips). Families run in table order, so the more
specific ones (Sony, P2, Canon, GoPro, DJI, raw) claim their files before the audio
and generic parsers see the rest. Adding a family means adding one module and one
row here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kinod.media.cards import audio, canon, dji, generic, gopro, p2, raw, sequences, sony
from kinod.media.cards.common import OS_LITTER, CardBuilder, CardFiles
from kinod.media.cards.model import Card


class CardError(RuntimeError):
    """The folder cannot be read as a card at all; names it."""


@dataclass(frozen=True)
class CardFamily:
    name: str
    detect: Callable[[CardFiles], bool]
    parse: Callable[[CardFiles, CardBuilder], None]


FAMILIES: tuple[CardFamily, ...] = (
    CardFamily(sony.NAME, sony.detect, sony.parse),
    CardFamily(p2.NAME, p2.detect, p2.parse),
    CardFamily(canon.NAME, canon.detect, canon.parse),
    CardFamily(gopro.NAME, gopro.detect, gopro.parse),
    CardFamily(dji.NAME, dji.detect, dji.parse),
    CardFamily(raw.NAME, raw.detect, raw.parse),
    CardFamily(audio.NAME, audio.detect, audio.parse),
    CardFamily(sequences.NAME, sequences.detect, sequences.parse),
    CardFamily(generic.NAME, generic.detect, generic.parse),
)

_MHL_DIR = re.compile(r"(^|/)ascmhl/", re.IGNORECASE)
#: Files our own tools may have left in the output tree if it was pointed at the card.
_KINOD_OUTPUTS = re.compile(r"(^|/)(card\.kino\.json|card\.html|[^/]+\.kino\.json)$", re.IGNORECASE)


def detect_card(folder: str | os.PathLike[str]) -> Card:
    """Understand a card folder: its logical clips, their files and metadata, and what was skipped.

    Never writes anything and never decodes media: only names, sizes and the small
    XML/SRT/WAV-header sidecars are read, so it is cheap to run on every scan.
    Problems with single files (malformed sidecars, missing chapters) are recorded
    on the clip or the card; only an unreadable folder raises CardError.
    """
    root = Path(folder)
    if not root.is_dir():
        raise CardError(f"{root}: not a folder (or not readable)")
    if not os.access(root, os.R_OK | os.X_OK):
        raise CardError(f"{root}: permission denied")
    card = Card(root=root.absolute())
    files = CardFiles.scan(card.root, card.problems)
    out = CardBuilder(files, card)
    for f in list(files.unclaimed()):
        name = f.name.lower()
        if name in OS_LITTER or name.startswith("._") or any(p.lower() in OS_LITTER for p in f.parts[:-1]):
            out.skip(f, "operating-system metadata")
        elif _MHL_DIR.search(f.rel) or f.suffix == ".mhl":
            files.claim(f)
            if f.suffix == ".mhl" or f.name.lower() == "ascmhl_chain.xml":
                card.manifests.append(f.rel)
        elif _KINOD_OUTPUTS.search(f.rel):
            out.skip(f, "kinod output")
    for fam in FAMILIES:
        if fam.name == generic.NAME and not any(True for _ in files.unclaimed()):
            break
        if fam.detect(files):
            before = len(card.clips)
            fam.parse(files, out)
            if len(card.clips) > before and fam.name not in card.families:
                card.families.append(fam.name)
    card.unknown = sorted(f.rel for f in files.unclaimed())
    for c in card.clips:
        for f in c.files if c.sequence is None else ():  # a sequence's empty frames are its own problems
            if f.size == 0:
                c.problems.append(f"{f.rel}: file is empty (0 bytes)")
                c.analysable = False
                c.not_analysed_reason = c.not_analysed_reason or "empty file"
    return card
