"""Atomic file writes: a reader (an NLE, a sync job) never sees half a file.

Write to a temp name in the same folder, fsync, rename over the target, then fsync
the folder so the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        # a file name that is not UTF-8 (lone surrogates) is written \u-escaped:
        # the JSON stays valid UTF-8 and json.loads gives the exact name back
        raw = (json.dumps(data, indent=2, ensure_ascii=True, sort_keys=False) + "\n").encode("ascii")
    atomic_write_bytes(path, raw)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- names that fit the file system, temp names kinod can recognise ---------------
#: Linux and most NAS file systems: a name is at most 255 bytes.
DEFAULT_NAME_MAX = 255
TEMP_SUFFIX = ".tmp"
#: mkstemp adds 8 random characters between prefix and suffix.
_TEMP_OVERHEAD = 1 + 1 + 8 + len(TEMP_SUFFIX)
#: Room kept after an output's base name for its longest suffix (``.resolve.edl``, ``.kino.json``).
OUTPUT_SUFFIX_RESERVE = 16
#: What an (orphaned) temp file of :func:`atomic_write_bytes` looks like.
TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$", re.DOTALL)


@functools.lru_cache(maxsize=64)
def name_max(folder: str) -> int:
    """NAME_MAX of the file system holding ``folder`` (its nearest existing ancestor)."""
    p = Path(folder)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return int(os.pathconf(p, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return DEFAULT_NAME_MAX


def _cut_utf8(raw: bytes, limit: int) -> bytes:
    """At most ``limit`` bytes of ``raw`` without splitting a UTF-8 sequence."""
    cut = raw[:limit]
    while cut and (cut[-1] & 0xC0) == 0x80:
        cut = cut[:-1]
    if cut and cut[-1] >= 0xC0:  # a lead byte whose continuation was cut off
        cut = cut[:-1]
    return cut


def fit_name(name: str, folder: Path | None = None, reserve: int = OUTPUT_SUFFIX_RESERVE) -> str:
    """``name`` if it leaves ``reserve`` bytes for a suffix under NAME_MAX, else a stable short form.

    WHY: a clip named with 230-255 bytes is legal, but ``<name>.kino.json`` is not, and
    the write failed with ``File name too long`` (the clip stayed queued for ever). The
    short form keeps the start of the name and its extension and adds a hash of the
    whole name, so it is stable across runs and unique; the original name is in the
    sidecar (``source.name``).
    """
    limit = (name_max(str(folder)) if folder is not None else DEFAULT_NAME_MAX) - reserve
    raw = os.fsencode(name)
    if len(raw) <= limit:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:12]
    stem, dot, ext = raw.rpartition(b".")
    ext_part = b"." + ext if dot and stem and len(ext) <= 8 else b""
    if not ext_part:
        stem = raw
    keep = _cut_utf8(stem, limit - len(ext_part) - 1 - len(digest))
    return os.fsdecode(keep + b"~" + digest.encode() + ext_part)


def temp_prefix(path: Path) -> str:
    """mkstemp prefix for a temp file beside ``path`` whose whole name fits NAME_MAX."""
    room = name_max(str(path.parent)) - _TEMP_OVERHEAD
    raw = os.fsencode(path.name)
    if len(raw) > room:
        raw = _cut_utf8(raw, room)
    return "." + os.fsdecode(raw) + "."
