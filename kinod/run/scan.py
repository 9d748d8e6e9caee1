"""``kinod scan PATH...``: the daemon's work on named cards and files, now, in this process.

Why it goes through the card lifecycle: a user comparing ``kinod scan CARD`` with what
the daemon made of the same card must find the same cards, clips, sidecars, card
reports and card timelines. So where cards begin, what travels with a clip and when a
card is reported come from :class:`kinod.run.card_lifecycle.CardLifecycle`, as in the
daemon; only running each clip now is this module's own.

What a path means:

* a folder inside a watch root: the daemon's cards it belongs to (the root's top-level
  folder, or the cards in it when it is a folder of card folders), limited to the clips
  below the path; the root itself: each of its cards;
* any other folder: as if dropped into a watch root (a card, or a folder of cards);
* a file: the card it lies in (inside a watch root) or a loose file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kinod.config import Config
from kinod.export.sidecar import sidecar_path
from kinod.media.cards.model import ClipFiles
from kinod.run.card_lifecycle import CardLifecycle
from kinod.watch.cards import CardRef, OpenCard, card_of, list_cards, scan_card
from kinod.watch.ignore import RootFilter


@dataclass
class ScanCard:
    """A card to scan and the clips of it that were asked for, in the daemon's order."""

    opened: OpenCard
    chosen: list[ClipFiles] = field(default_factory=list)
    #: Output base for clips outside every watch root (the folder named; None: loose).
    base: Path | None = None

    @property
    def card(self) -> CardRef:
        return self.opened.ref

    @property
    def clips(self) -> list[Path]:
        return [c.first for c in self.chosen]


def scan_cards(config: Config, paths: list[Path]) -> Iterator[ScanCard]:
    """The cards behind ``paths`` with their clips (each card once, clips in card order)."""
    seen: dict[str, ScanCard] = {}
    for raw in paths:
        for folder, base, root_filter, under in _folders_of(config, raw.absolute()):
            taken = False
            for opened in CardLifecycle.open(folder, scan_card(folder, root_filter)):
                chosen = [c for c in opened.clips if any(_below(p, under) for p in c.files)]
                if not chosen and under.is_file() and (opened.ref.loose or _below(under, opened.ref.path)):
                    chosen = [ClipFiles.alone(under)]  # named explicitly: scanned even if no layout claims it
                if not chosen and opened.within is not None and not _below(opened.ref.path, under):
                    continue  # a card of the same folder beside the one asked for
                taken = taken or bool(chosen)
                _take(seen, opened, base, chosen)
            if not taken and under.is_file():  # a file in no card of its folder: on its own
                _take(seen, OpenCard(folder, {}, None, []), base, [ClipFiles.alone(under)])
    yield from seen.values()


def _take(seen: dict[str, ScanCard], opened: OpenCard, base: Path | None, chosen: list[ClipFiles]) -> None:
    sc = seen.get(opened.ref.key)
    if sc is None:
        sc = seen[opened.ref.key] = ScanCard(opened, base=base)
    have = set(sc.clips)
    sc.chosen.extend(c for c in chosen if c.first not in have)


def _folders_of(config: Config, p: Path) -> Iterator[tuple[CardRef, Path | None, RootFilter, Path]]:
    """The settled folders (the watcher's cards) behind a path, with output base, filter and the path."""
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
    """What the scan needs of :class:`kinod.run.processor.ClipProcessor`: process one clip now."""

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
    life = CardLifecycle(config)
    res = ScanResult()
    for sc in cards:
        c = sc.card
        verification = life.verify(c)
        why = life.refused(c, verification)
        if why is not None:
            res.failed.extend((clip, f"{c.path}: card failed verification: {why}") for clip in sc.clips)
            res.card_outputs.extend(life.report(c, [], verification, sc.opened.layout, sc.base))
            continue
        sidecars: list[Path] = []
        for files in life.clips(sc.opened, sc.chosen):
            path = files.first
            out_dir = life.out_dir(path, sc.base)
            outcome = processor.process(
                path,
                out_dir,
                force=force,
                progress=progress_for(path) if progress_for else None,
                card=c.name,
                card_path=None if c.loose else str(c.path),
                files=None if files.plain else files,
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
        res.card_outputs.extend(life.report(c, sidecars, verification, sc.opened.layout, sc.base))
    return res
