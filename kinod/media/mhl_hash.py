"""The hashes Media Hash Lists carry, computed in one read of each file.

Split from :mod:`kinod.media.mhl` so the manifest reader and the verifier share one
hashing layer: every hash a file needs is fed from the same 8 MiB blocks, and each
format's spelling of a digest (legacy little-endian xxhash64, decimal xxh32, C4 ids)
is compared the way that format writes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import xxhash

BLOCK = 8 * 1024 * 1024
C4_CHARSET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


class MHLError(ValueError):
    """A manifest cannot be read; names it."""


class _C4:
    """C4 id (SMPTE ST 2114): SHA-512 in base 58, ``c4`` + 88 characters."""

    def __init__(self) -> None:
        self._h = hashlib.sha512()

    def update(self, data: bytes, /) -> None:
        self._h.update(data)

    def hexdigest(self) -> str:
        return c4_of_digest(self._h.digest())


def c4_of_digest(digest: bytes) -> str:
    n = int.from_bytes(digest, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = C4_CHARSET[r] + out
    return "c4" + out.rjust(88, "1")


def new_hasher(algo: str) -> Hasher:
    """A hasher by ASC MHL name (``xxh64le`` is the legacy little-endian spelling of xxh64)."""
    factories: dict[str, Callable[[], Any]] = {
        "md5": hashlib.md5,
        "sha1": hashlib.sha1,
        "xxh32": xxhash.xxh32,
        "xxh64": xxhash.xxh64,
        "xxh64le": xxhash.xxh64,
        "xxh3": xxhash.xxh3_64,
        "xxh128": xxhash.xxh3_128,
        "c4": _C4,
    }
    try:
        return factories[algo]()  # type: ignore[no-any-return]
    except KeyError:
        raise MHLError(f"unsupported hash format {algo!r}") from None


def _digest(algo: str, h: Hasher) -> str:
    d = h.hexdigest()
    if algo == "xxh64le":
        return bytes.fromhex(d)[::-1].hex()
    return d


def hash_file(path: Path, algos: Iterable[str], progress: Callable[[int], None] | None = None) -> dict[str, str]:
    """Hex digests of ``path`` for every algorithm in ``algos``, reading the file once."""
    hashers = {a: new_hasher(a) for a in dict.fromkeys(algos)}
    with open(path, "rb") as fh:
        while chunk := fh.read(BLOCK):
            for h in hashers.values():
                h.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return {a: _digest(a, h) for a, h in hashers.items()}


def same_hash(algo: str, expected: str, actual: str) -> bool:
    """Compare as the format writes it: hex case-insensitively; legacy xxh32 may be decimal."""
    e = expected.strip()
    if algo == "c4":
        return e == actual
    if algo == "xxh32" and e.isdigit() and len(e) != 8:
        return int(e) == int(actual, 16)
    return e.lower() == actual.lower()
