"""Shared parts of the card parsers: the file index every parser claims from, and helpers.

Each family parser sees the same :class:`CardFiles` index and *claims* the files it
understands; later parsers see only what is left, and the generic parser turns the
remaining media into one clip per file. That makes the order of the family table
the precedence rule, and guarantees every file is accounted for exactly once.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path, PurePosixPath

from kinod.media.cards.model import Card, CardClip, CardProblem, ClipFile, FileRole, SkippedFile
from kinod.media.timecode import (
    STANDARD_RATES,
    format_rate,
    frames_to_tc,
    is_drop_frame_label,
    parse_rate,
    supports_drop_frame,
    tc_to_frames,
)

#: Names operating systems and copy tools leave on cards; never media, never "unknown".
OS_LITTER = frozenset({".ds_store", "thumbs.db", "desktop.ini", ".fseventsd", ".spotlight-v100", ".trashes"})

VIDEO_EXTENSIONS = frozenset(
    {".mov", ".mp4", ".m4v", ".mxf", ".mts", ".m2ts", ".avi", ".mkv", ".mpg", ".mpeg", ".ts", ".3gp", ".dv", ".webm"}
)
AUDIO_EXTENSIONS = frozenset({".wav", ".bwf", ".aif", ".aiff", ".flac", ".mp3", ".m4a", ".aac"})
#: Camera raw formats ffmpeg cannot decode: recorded as clips, never analysed.
UNDECODABLE_EXTENSIONS = frozenset({".r3d", ".braw", ".ari", ".crm"})
STILL_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".dng", ".gpr", ".heic", ".png", ".cr2", ".cr3", ".arw", ".nef", ".tif", ".tiff", ".dpx", ".exr"}
)


@dataclass
class CardFile:
    path: Path
    rel: str
    size: int

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()

    @property
    def parts(self) -> tuple[str, ...]:
        return PurePosixPath(self.rel).parts


@dataclass
class CardFiles:
    """Every regular file of the card, by card-relative POSIX path, and who has claimed it."""

    root: Path
    files: dict[str, CardFile]
    claimed: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._lower = {rel.lower(): rel for rel in self.files}

    @classmethod
    def scan(cls, root: Path, problems: list[CardProblem]) -> CardFiles:
        files: dict[str, CardFile] = {}

        def on_error(e: OSError) -> None:
            rel = _rel(root, Path(e.filename)) if e.filename else "."
            problems.append(CardProblem(rel, f"cannot list folder: {e.strerror or e}"))

        for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=False):
            dirnames.sort()
            for fn in sorted(filenames):
                p = Path(dirpath) / fn
                rel = _rel(root, p)
                try:
                    st = p.lstat()
                except OSError as e:
                    problems.append(CardProblem(rel, f"cannot read: {e.strerror or e}"))
                    continue
                if not _is_regular(st.st_mode):
                    problems.append(CardProblem(rel, "not a regular file (symlink or device): left alone"))
                    continue
                files[rel] = CardFile(p, rel, st.st_size)
        return cls(root, files)

    def unclaimed(self) -> Iterator[CardFile]:
        for rel, f in self.files.items():
            if rel not in self.claimed:
                yield f

    def claim(self, f: CardFile | str) -> None:
        self.claimed.add(f if isinstance(f, str) else f.rel)

    def get(self, rel: str) -> CardFile | None:
        return self.files.get(rel)

    def find_ci(self, folder: str, name: str) -> CardFile | None:
        """The file ``folder/name`` matched case-insensitively (cards are FAT/exFAT; copies vary in case)."""
        want = (folder.rstrip("/") + "/" + name if folder else name).lower()
        rel = self._lower.get(want)
        return self.files[rel] if rel is not None else None

    def matching(self, pattern: re.Pattern[str], *, claimed: bool = False) -> list[CardFile]:
        """Files whose relative path matches ``pattern`` (use re.IGNORECASE), unclaimed unless asked."""
        pool: Iterable[CardFile] = self.files.values() if claimed else self.unclaimed()
        return [f for f in pool if pattern.search(f.rel)]


@dataclass
class CardBuilder:
    """What the parsers produce, collected into a :class:`Card`."""

    files: CardFiles
    card: Card

    def add_clip(self, clip: CardClip, members: Iterable[CardFile] = ()) -> CardClip:
        for m in members:
            self.files.claim(m)
        self.card.clips.append(clip)
        return clip

    def skip(self, f: CardFile, reason: str, clip: str | None = None) -> None:
        self.files.claim(f)
        self.card.skipped.append(SkippedFile(f.rel, reason, clip))

    def problem(self, rel: str, message: str) -> None:
        self.card.problems.append(CardProblem(rel, message))


def clip_file(f: CardFile, role: FileRole, channel: int | None = None, track_name: str | None = None) -> ClipFile:
    return ClipFile(path=f.path, rel=f.rel, role=role, size=f.size, channel=channel, track_name=track_name)


def role_for(f: CardFile) -> FileRole:
    return "audio" if f.suffix in AUDIO_EXTENSIONS else "av"


def camera_rate(text: str | None) -> tuple[Fraction | None, bool]:
    """A camera's rate label ("29.97p", "59.94i", "23.98pN", "25", "50i") as (frame rate, interlaced).

    Interlaced labels name the *field* rate, so "59.94i" is 30000/1001 frames per second.
    """
    if not text:
        return None, False
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([piPI]?)\s*[nN]?\s*", text)
    if not m:
        try:
            return parse_rate(text), False
        except ValueError:
            return None, False
    value, kind = m.group(1), m.group(2).lower()
    try:
        rate = STANDARD_RATES.get(value) or parse_rate(value)
    except ValueError:
        return None, False
    if value in ("23.98",):
        rate = Fraction(24000, 1001)
    if kind == "i":
        return rate / 2, True
    return rate, False


def normalise_tc(label: str, rate: Fraction | None, drop_frame: bool | None = None) -> tuple[str, bool] | None:
    """Re-format a camera's TC label canonically at ``rate`` (DF separator only where DF exists).

    Returns None when the label cannot exist at that rate, so a garbage sidecar
    value falls back to the container's timecode instead of poisoning the clip.
    """
    label = label.strip()
    if rate is None:
        if re.fullmatch(r"\d{2}[:;.,]\d{2}[:;.,]\d{2}[:;.,]\d{2,3}", label):
            return label, is_drop_frame_label(label)
        return None
    df = is_drop_frame_label(label) if drop_frame is None else drop_frame
    df = df and supports_drop_frame(rate)
    try:
        frames = tc_to_frames(label, rate, df)
    except ValueError:
        return None
    return frames_to_tc(frames, rate, df), df


def rate_str(rate: Fraction | None) -> str | None:
    return format_rate(rate) if rate else None


def stem_upper(f: CardFile) -> str:
    return f.path.stem.upper()


def _rel(root: Path, p: Path) -> str:
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return p.as_posix()


def _is_regular(mode: int) -> bool:
    return stat.S_ISREG(mode)
