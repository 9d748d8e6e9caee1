"""URL paths → files, only ever inside a configured root.

A path from a URL is untrusted: it may carry ``..`` (literally or percent-encoded, which
Starlette has already decoded), an absolute path, a NUL byte, a backslash, or lead
through a symlink to somewhere outside the root. Every one of those resolves to None
(the app answers 404); a path longer than :data:`MAX_PATH` is refused before it touches
the file system (the app answers 400).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

MAX_PATH = 1024


class PathTooLong(ValueError):
    """The URL path is longer than any real library path."""


def clean_rel(rel: str) -> PurePosixPath | None:
    """The relative path as parts, or None when it could step outside its root."""
    if len(rel) > MAX_PATH:
        raise PathTooLong(f"path of {len(rel)} characters (at most {MAX_PATH})")
    if not rel or "\x00" in rel or "\\" in rel or rel.startswith("/"):
        return None
    parts = PurePosixPath(rel).parts
    if any(p in ("..", ".", "") for p in parts) or any(len(p) > 255 for p in parts):
        return None
    return PurePosixPath(*parts)


def resolve_inside(root: Path, rel: str) -> Path | None:
    """The existing file or folder ``root/rel`` after resolving symlinks, if it is still inside ``root``."""
    clean = clean_rel(rel)
    if clean is None:
        return None
    try:
        base = Path(root).resolve(strict=True)
        target = (base / clean).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return target if target == base or target.is_relative_to(base) else None


def is_inside_any(path: Path, roots: Iterable[Path]) -> bool:
    """Whether ``path`` (symlinks resolved) lies inside one of ``roots``."""
    try:
        target = Path(path).resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    for root in roots:
        try:
            base = Path(root).resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if target.is_relative_to(base):
            return True
    return False


def rel_to(root: Path, path: Path) -> str | None:
    """``path`` relative to ``root`` as a URL path, or None when it is outside."""
    try:
        return Path(path).absolute().relative_to(Path(root).absolute()).as_posix()
    except ValueError:
        return None
