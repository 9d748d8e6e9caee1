"""Cards: the unit of work the watcher hands on.

A new top-level folder in a watch root is a *card* (a camera card offload, a sound
roll, a day of dailies). Loose files dropped straight into a root are grouped by
that folder: the root itself acts as one "loose" card made of its top-level files.

A settled folder is read once by :func:`open_cards`, the one place that decides where
cards begin, for the daemon and ``kinod scan`` alike: a folder of card folders (a
camera card, a GoPro card and a sound roll side by side, nothing of its own) is
several cards, each parsed once (:class:`OpenCard`: its layout and its clips, the
camera layouts of ``kinod.media.cards``: spanned clips, proxies next to originals,
sidecar XML; else every media file by extension).

Walking never follows folder symlinks (a link back to the root would loop for
ever); a file symlink that loops is reported, not fatal.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from kinod.media.cards import Card, CardError, detect_card
from kinod.media.cards.common import UNDECODABLE_EXTENSIONS
from kinod.media.cards.model import ClipFiles, analysable_clips
from kinod.watch.ignore import RootFilter, is_hidden_dir, is_media_name, is_system_name, is_temp_name

#: (size in bytes, mtime in ns): what "unchanged" means for copy-complete.
FileSig = tuple[int, int]
#: ASC MHL v2 keeps its manifests in this folder; the chain file is written last.
ASCMHL_DIR = "ascmhl"
ASCMHL_CHAIN = "ascmhl_chain.xml"


@dataclass(frozen=True)
class CardRef:
    """A card: its watch root, its folder, and whether it is the root's loose-file group."""

    root: Path
    path: Path
    loose: bool = False

    @property
    def name(self) -> str | None:
        """The card name written into sidecars (None for loose files)."""
        return None if self.loose else self.path.name

    @property
    def key(self) -> str:
        """Stable identity in the store: the loose group of a root is ``<root>/.``."""
        return str(self.path / ".") if self.loose else str(self.path)


@dataclass(frozen=True)
class Problem:
    """Something in a card the watcher cannot use, with a message naming the path."""

    path: Path
    kind: str  # "symlink_loop" | "dangling_symlink" | "unreadable_dir"
    message: str


@dataclass
class CardScan:
    """One walk of a card: its files (card-relative POSIX paths), temp names and problems."""

    exists: bool
    files: dict[str, FileSig] = field(default_factory=dict)
    temp: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def card_of(root: Path, path: Path, is_dir: bool | None = None) -> CardRef | None:
    """The card a path belongs to, or None for the root itself and ignored names."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        return None
    parts = rel.parts
    if not parts or is_system_name(parts[0]):
        return None
    if len(parts) == 1:
        directory = is_dir if is_dir is not None else path.is_dir()
        if directory:
            return None if is_hidden_dir(parts[0]) or path.is_symlink() else CardRef(root, path)
        return CardRef(root, root, loose=True)
    if is_hidden_dir(parts[0]):
        return None
    return CardRef(root, root / parts[0])


def list_cards(root: Path) -> Iterator[CardRef]:
    """Every card of a root as it is now: top-level folders, plus the loose group if any."""
    loose = False
    with os.scandir(root) as it:
        entries = sorted(it, key=lambda e: e.name)
    for e in entries:
        if is_system_name(e.name):
            continue
        try:
            if e.is_dir(follow_symlinks=False):
                if not is_hidden_dir(e.name):
                    yield CardRef(root, Path(e.path))
            elif not e.is_dir():
                loose = True
        except OSError:
            loose = True
    if loose:
        yield CardRef(root, root, loose=True)


def scan_card(card: CardRef, filt: RootFilter) -> CardScan:
    """Stat every file of a card once. Never raises for what is inside the card."""
    if not card.path.is_dir():
        return CardScan(exists=False)
    scan = CardScan(exists=True)

    def onerror(err: OSError) -> None:
        if err.filename and Path(err.filename) != card.path:
            scan.problems.append(
                Problem(Path(err.filename), "unreadable_dir", f"{err.filename}: cannot list folder: {err.strerror}")
            )

    for dirpath, dirnames, filenames in os.walk(card.path, onerror=onerror, followlinks=False):
        if card.loose:
            dirnames[:] = []
        else:
            dirnames[:] = sorted(d for d in dirnames if not is_hidden_dir(d))
        base = Path(dirpath)
        for name in filenames:
            if is_system_name(name):
                continue
            p = base / name
            rel_card = PurePosixPath(p.relative_to(card.path).as_posix())
            if is_temp_name(name):
                scan.temp.append(str(rel_card))
                continue
            if not filt.accepts(PurePosixPath(p.relative_to(card.root).as_posix())):
                continue
            try:
                st = p.stat()
            except OSError as e:
                _stat_problem(scan, p, e)
                continue
            scan.files[str(rel_card)] = (st.st_size, st.st_mtime_ns)
    return scan


def _stat_problem(scan: CardScan, p: Path, e: OSError) -> None:
    if e.errno == errno.ELOOP:
        scan.problems.append(Problem(p, "symlink_loop", f"{p}: symbolic link loop, skipped"))
    elif p.is_symlink():
        scan.problems.append(Problem(p, "dangling_symlink", f"{p}: symbolic link to nothing ({e.strerror}), skipped"))
    # else: the file vanished between listing and stat; the next poll sees the truth


@dataclass
class OpenCard:
    """One card as kinod understood it, parsed once: what travels to planning, the BWF rate and the report.

    ``files``: its files (card-relative) as the watcher saw them settle; ``layout``: the
    parsed card (None for loose files or a folder that could not be read as a card);
    ``clips``: what to analyse, in card order; ``within``: the settled folder it was
    found in when that folder held several cards (None: the card is the folder).
    """

    ref: CardRef
    files: dict[str, FileSig]
    layout: Card | None
    clips: list[ClipFiles]
    within: CardRef | None = None


#: Folders a camera writes at the top of its card: a folder holding one of these is a card.
_LAYOUT_DIR = re.compile(r"DCIM|PRIVATE|XDROOT|M4ROOT|CONTENTS|AVCHD|BPAV|MISC|CLIPS\d{3}|ascmhl", re.IGNORECASE)


def cards_within(files: Iterable[str]) -> list[str]:
    """The subfolders where cards begin in a folder of card folders; [] when the folder is one card.

    A folder is several cards when it holds no media and no manifest of its own, at
    least two of its subfolders hold media, and each of those looks like a card: not
    a camera's own folder (DCIM, PRIVATE, CONTENTS ...), and either a camera's folder
    directly inside it or decodable media directly in it (a sound roll, a card copied
    flat). A card with a SOUND folder next to its clips, a GoPro card (DCIM) or a RED
    magazine (clip folders of R3D files) stays one card.
    """
    inside: dict[str, list[list[str]]] = {}
    for rel in files:
        parts = rel.split("/")
        if len(parts) == 1:
            if is_media_name(Path(rel)) or rel.lower().endswith(".mhl"):
                return []
            continue
        if parts[0].lower() == ASCMHL_DIR:
            return []
        inside.setdefault(parts[0], []).append(parts[1:])
    holding = {d: rels for d, rels in inside.items() if any(is_media_name(Path(r[-1])) for r in rels)}
    if len(holding) < 2 or not all(_card_like(d, rels) for d, rels in holding.items()):
        return []
    return sorted(holding)


def _card_like(name: str, rels: list[list[str]]) -> bool:
    if _LAYOUT_DIR.fullmatch(name):
        return False
    layout = any(len(r) > 1 and _LAYOUT_DIR.fullmatch(r[0]) for r in rels)
    flat = any(
        len(r) == 1 and is_media_name(Path(r[0])) and Path(r[0]).suffix.lower() not in UNDECODABLE_EXTENSIONS
        for r in rels
    )
    return layout or flat


def open_cards(card: CardRef, scan: CardScan) -> list[OpenCard]:
    """The cards of a settled folder (:func:`cards_within`), each parsed once, in folder order."""
    subs = [] if card.loose else cards_within(scan.files)
    if not subs:
        return [_open(card, scan.files, None)]
    out = []
    for sub in subs:
        prefix = sub + "/"
        files = {rel[len(prefix) :]: sig for rel, sig in scan.files.items() if rel.startswith(prefix)}
        out.append(_open(CardRef(card.root, card.path / sub), files, card))
    return out


def _open(card: CardRef, files: dict[str, FileSig], within: CardRef | None) -> OpenCard:
    generic = [card.path / rel for rel in sorted(files) if is_media_name(Path(rel))]
    alone = [ClipFiles.alone(p) for p in generic]
    if card.loose:
        return OpenCard(card, files, None, alone, within)
    try:
        layout = detect_card(card.path)
    except (CardError, OSError):
        return OpenCard(card, files, None, alone, within)
    # Every settled file counts as present: a sequence's frames are not media names on their own.
    found, _left = analysable_clips(layout, {card.path / rel for rel in files})
    return OpenCard(card, files, layout, sorted(found, key=lambda c: c.first), within)


def clips_of(card: CardRef, scan: CardScan) -> list[Path]:
    """The clips to analyse of a settled folder, in a stable order, each named by its first file."""
    return [c.first for c in card_clips(card, scan)]


def card_clips(card: CardRef, scan: CardScan) -> list[ClipFiles]:
    """The clips to analyse of a settled folder with the files each is made of, card after card.

    A known camera layout (:func:`kinod.media.cards.model.analysable_clips`) names the
    files of each logical clip: a spanned recording (GoPro chapters) is one clip read
    as one input; a P2 clip's audio essences are inputs of its pass; XML sidecars,
    .LRV/.THM and the camera's own proxies are not analysed; RED/BRAW/ARRIRAW clips are
    recorded by the card report but cannot be decoded. An unknown layout, or a loose
    file, falls back to every media file on its own.
    """
    return [c for opened in open_cards(card, scan) for c in opened.clips]


def marker_wait(card: CardRef, ready_marker: str) -> str | None:
    """Why a card must still wait for a manifest or marker, or None when it need not.

    * ``watch.ready_marker`` (a file name, a card-relative path or a glob such as
      ``"*.mhl"`` or ``"ascmhl/ascmhl_chain.xml"``): the card waits until it matches;
    * an ``ascmhl/`` folder without its ``ascmhl_chain.xml`` is an ASC MHL being
      written: the card waits for the chain file whatever the config says.

    Loose files have no card folder to carry a marker, so only the settle rules apply.
    """
    if card.loose:
        return None
    mhl = card.path / ASCMHL_DIR
    if mhl.is_dir() and not (mhl / ASCMHL_CHAIN).is_file():
        return f"{mhl}: ASC MHL folder has no {ASCMHL_CHAIN} yet (manifest still being written)"
    if ready_marker:
        try:
            found = next(iter(card.path.glob(ready_marker)), None)
        except (OSError, ValueError, NotImplementedError):
            found = None
        if found is None:
            return f"{card.path}: waiting for the ready marker {ready_marker!r} (watch.ready_marker)"
    return None
