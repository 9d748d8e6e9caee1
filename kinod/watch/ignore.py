"""Which names the watcher looks at, which it ignores, and which mean "still copying".

Three kinds of names show up in a watch root besides footage:

* **system droppings** (``.DS_Store``, ``._*`` AppleDouble files, ``Thumbs.db``,
  ``.Trashes``, ``.Spotlight-V100``, ...): never footage, never a sign of anything,
  so they are ignored completely (they do not even wake a card up);
* **temp names** of copies in flight (``*.part``, ``*.tmp``, ``.~lock*``, rsync's
  ``.name.XXXXXX``, browsers' ``*.crdownload``): not footage either, but while one
  exists inside a card the card is *not* complete, whatever its sizes say;
* everything else, filtered by the root's own include/exclude globs.

Globs are matched against the path relative to the watch root, with ``/`` as the
separator, so ``exclude = ["*/Proxies/*"]`` works on every card.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

#: Names (files or folders) that operating systems and NAS boxes leave behind.
SYSTEM_NAMES = frozenset(
    {
        ".DS_Store",
        "Thumbs.db",
        "ehthumbs.db",
        "desktop.ini",
        ".Trashes",
        ".Trash",
        ".Spotlight-V100",
        ".fseventsd",
        ".TemporaryItems",
        ".DocumentRevisions-V100",
        ".apdisk",
        "@eaDir",  # Synology thumbnails
        "#recycle",
        "$RECYCLE.BIN",
        "System Volume Information",
        "lost+found",
    }
)

#: Extensions of the files that are footage (video and sound); everything else in a card is
#: metadata, manifests or paperwork.
MEDIA_EXTENSIONS = frozenset(
    {
        ".mov",
        ".mp4",
        ".m4v",
        ".mxf",
        ".mts",
        ".m2ts",
        ".avi",
        ".mkv",
        ".webm",
        ".mpg",
        ".mpeg",
        ".ts",
        ".3gp",
        ".dv",
        ".r3d",
        ".braw",
        ".ari",
        ".wav",
        ".bwf",
        ".aif",
        ".aiff",
        ".flac",
        ".mp3",
        ".m4a",
        ".aac",
        ".ogg",
        ".opus",
    }
)

#: rsync writes ``.<name>.XXXXXX`` (six random characters) and renames at the end.
_RSYNC_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{6}$")
_TEMP_SUFFIXES = (".part", ".tmp", ".temp", ".crdownload", ".partial", ".download", ".filepart")


def is_system_name(name: str) -> bool:
    """True for OS droppings: ignored everywhere, they never wake a card."""
    return name in SYSTEM_NAMES or name.startswith("._")


def is_temp_name(name: str) -> bool:
    """True for the names copies in flight use: a card holding one is not complete."""
    lower = name.lower()
    if lower.endswith(_TEMP_SUFFIXES) or name.startswith(".~lock") or name.startswith("~$"):
        return True
    return bool(_RSYNC_TEMP.match(name))


def is_media_name(path: Path) -> bool:
    """True for a footage file name (by extension), never for hidden files or AppleDouble."""
    name = path.name
    if name.startswith("."):
        return False
    return path.suffix.lower() in MEDIA_EXTENSIONS


def is_hidden_dir(name: str) -> bool:
    """Hidden folders are not walked (caches, ``.git``), except ASC MHL's ``ascmhl`` which is not hidden anyway."""
    return name.startswith(".") or is_system_name(name)


@dataclass(frozen=True)
class RootFilter:
    """A watch root's include/exclude globs, matched against root-relative POSIX paths."""

    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()

    @classmethod
    def of(cls, include: Sequence[str], exclude: Sequence[str]) -> RootFilter:
        return cls(tuple(include) or ("*",), tuple(exclude))

    def accepts(self, rel: PurePosixPath | str) -> bool:
        text = str(rel)
        name = text.rsplit("/", 1)[-1]
        if any(fnmatch.fnmatchcase(text, p) or fnmatch.fnmatchcase(name, p) for p in self.exclude):
            return False
        return any(fnmatch.fnmatchcase(text, p) or fnmatch.fnmatchcase(name, p) for p in self.include)


def relative_posix(path: Path, root: Path) -> PurePosixPath:
    return PurePosixPath(path.relative_to(root).as_posix())
