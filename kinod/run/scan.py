"""``kinod scan PATH...``: the daemon's work on named cards and files, now, in this process.

Why it goes through the watcher's card functions: a user comparing ``kinod scan CARD``
with what the daemon made of the same card must find the same clips (camera layouts,
not file extensions), the same sidecars and the same card report and card timelines.
So the clips come from :func:`kinod.watch.cards.card_clips`, as in the daemon, and each
card ends with :func:`kinod.card_outputs.finish_card`, as in the daemon.

What a path means:

* a folder inside a watch root: the daemon's card it belongs to (the root's top-level
  folder), limited to the clips below the path; the root itself: each of its cards;
* any other folder: a card of its own (as if dropped into a watch root);
* a file: the card it lies in (inside a watch root) or a loose file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import structlog

from kinod.card_outputs import finish_card, verify_before_analysis
from kinod.config import Config
from kinod.export.sidecar import sidecar_path
from kinod.media.cards.model import ClipFiles
from kinod.outputs import output_dir_for
from kinod.watch.cards import CardRef, card_clips, card_of, list_cards, scan_card
from kinod.watch.ignore import RootFilter

log = structlog.get_logger(__name__)


@dataclass
class ScanCard:
    """A card to scan and the clips of it that were asked for, in the daemon's order."""

    card: CardRef
    clips: list[Path] = field(default_factory=list)
    #: Clips made of several files (spanned recordings, audio essences), by first file.
    parts: dict[Path, ClipFiles] = field(default_factory=dict)
    #: Output base for clips outside every watch root (the card folder; None: loose).
    base: Path | None = None


def scan_cards(config: Config, paths: list[Path]) -> Iterator[ScanCard]:
    """The cards behind ``paths`` with their clips (each card once, clips in card order)."""
    seen: dict[str, ScanCard] = {}
    for raw in paths:
        for card, base, root_filter, under in _cards_of(config, raw.absolute()):
            sc = seen.get(card.key)
            if sc is None:
                sc = seen[card.key] = ScanCard(card, base=base)
            found = card_clips(card, scan_card(card, root_filter))
            chosen = [c for c in found if any(_below(p, under) for p in c.files)]
            if not chosen and under.is_file():  # named explicitly: scanned even if no layout claims it
                chosen = [ClipFiles.alone(under)]
            sc.clips.extend(c.first for c in chosen if c.first not in sc.clips)
            sc.parts.update((c.first, c) for c in chosen if not c.plain)
    yield from seen.values()


def _cards_of(config: Config, p: Path) -> Iterator[tuple[CardRef, Path | None, RootFilter, Path]]:
    for root in config.watch.roots:
        r = root.path.absolute()
        if p == r or p.is_relative_to(r):
            f = RootFilter.of(root.include, root.exclude)
            if p == r:
                for card in list_cards(r):
                    yield card, None, f, card.path
                return
            card = card_of(r, p, p.is_dir())
            if card is not None:
                yield card, None, f, p
            return
    if p.is_dir():
        yield CardRef(p.parent, p), p, RootFilter(), p
    else:
        yield CardRef(p.parent, p.parent, loose=True), None, RootFilter(), p


def _below(clip: Path, under: Path) -> bool:
    return clip == under or clip.is_relative_to(under)


class ClipRunner(Protocol):
    """What the scan needs of :class:`kinod.pipeline.ClipProcessor`: process one clip now."""

    def process(
        self,
        path: Path,
        out_dir: Path,
        *,
        force: bool = ...,
        progress: Callable[[int, int], None] | None = ...,
        card: str | None = ...,
        card_path: str | None = ...,
        files: ClipFiles | None = ...,
    ) -> Any: ...


@dataclass
class ScanResult:
    done: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    card_outputs: list[Path] = field(default_factory=list)


def run_scan(
    config: Config,
    processor: ClipRunner,
    cards: list[ScanCard],
    *,
    force: bool = False,
    on_clip: Callable[[Path, Any], None] | None = None,
    progress_for: Callable[[Path], Callable[[int, int], None] | None] | None = None,
) -> ScanResult:
    """Process every clip of every card, then write each card's report and timelines.

    The card report lists every clip's sidecar, error sidecars included, as the daemon's does.
    """
    res = ScanResult()
    for sc in cards:
        c = sc.card
        verification = None
        if not c.loose:
            verification = verify_before_analysis(config, c.path)
            if verification is not None and not verification.ok:
                why = verification.summary()
                log.error("card failed verification: not analysed", card=str(c.path), error=why)
                res.failed.extend((clip, f"{c.path}: card failed verification: {why}") for clip in sc.clips)
                res.card_outputs.extend(finish_card(config, c.path, [], verification))
                continue
        sidecars: list[Path] = []
        for path in sc.clips:
            out_dir = output_dir_for(path, config, sc.base)
            outcome = processor.process(
                path,
                out_dir,
                force=force,
                progress=progress_for(path) if progress_for else None,
                card=c.name,
                card_path=None if c.loose else str(c.path),
                files=sc.parts.get(path),
            )
            if on_clip is not None:
                on_clip(path, outcome)
            side = sidecar_path(out_dir, path.name)
            if side.is_file():
                sidecars.append(side)
            if outcome.ok:
                res.done += 1
            else:
                res.failed.append((path, outcome.error or "unknown error"))
        if not c.loose:
            res.card_outputs.extend(finish_card(config, c.path, sidecars, verification))
    return res
