"""What the watcher tells the rest of kinod. It emits these and never touches the job store.

All of them are plain frozen dataclasses so a sink can queue them across threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kinod.media.cards.model import ClipFiles
from kinod.watch.cards import CardRef, FileSig, OpenCard


@dataclass(frozen=True)
class CardSeen:
    """Files appeared in a card that the watcher had not seen before (detection)."""

    card: CardRef
    new_files: int
    first_time: bool


@dataclass(frozen=True)
class CardReady:
    """A card is copy-complete: every file settled, no temp names, marker present."""

    card: CardRef
    files: dict[str, FileSig]
    clips: tuple[Path, ...]
    #: Clips made of several files (spanned recordings, audio essences), by first file.
    parts: dict[Path, ClipFiles] = field(default_factory=dict)
    #: The cards in the folder, each parsed once (:func:`kinod.watch.cards.open_cards`):
    #: the folder itself, or the cards of a folder of card folders. Empty: not opened yet.
    cards: tuple[OpenCard, ...] = ()


@dataclass(frozen=True)
class CardChanged:
    """Files of a card that was already handed on changed or went away.

    Work on those files must stop: the card settles again and is handed on anew.
    """

    card: CardRef
    changed: tuple[Path, ...] = ()
    removed: tuple[Path, ...] = ()


@dataclass(frozen=True)
class WatchProblem:
    """Something the watcher cannot use; ``message`` names the path and what is wrong."""

    path: Path
    kind: str
    message: str


@dataclass(frozen=True)
class RootState:
    """A watch root came up or went away (an unmounted share), and how it is watched."""

    root: Path
    up: bool
    mode: str
    why: str


@dataclass(frozen=True)
class ScanDone:
    """A full rescan of every reachable root finished (``at`` is a Unix time)."""

    at: float
    cards: int
    roots_down: tuple[Path, ...] = field(default_factory=tuple)


WatchEvent = CardSeen | CardReady | CardChanged | WatchProblem | RootState | ScanDone
