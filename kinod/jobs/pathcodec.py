"""File names that are not UTF-8: kept losslessly through SQLite, shown escaped.

WHY: on Linux a path is bytes. Python gives an undecodable byte to us as a lone
surrogate (``os.fsdecode``, surrogateescape), and ``sqlite3`` refuses to bind such a
string ("surrogates not allowed"): one clip named in Latin-1 stopped the intake of
its whole card, at every restart. Rather than changing every column to BLOB, the
escaped bytes (U+DC80..U+DCFF) are stored as code points of the last private-use
plane (U+10FE80..U+10FEFF), which a real file name does not use, and turned back on
the way out, so every path read from the store is the exact path on disk again.
Valid UTF-8 paths are stored as before: old state files keep working.
"""

from __future__ import annotations

import sqlite3
from typing import Any

#: Surrogate escapes U+DC80..U+DCFF map to _PUA + (code - 0xDC00), i.e. U+10FE80..U+10FEFF.
_PUA = 0x10FE00
_PUA_LOW = chr(_PUA + 0x80)
_TO_DB = {c: _PUA + (c - 0xDC00) for c in range(0xDC80, 0xDD00)}
_FROM_DB = {v: k for k, v in _TO_DB.items()}


def to_db(text: str) -> str:
    """A string SQLite can store; lossless for surrogate-escaped bytes."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        mapped = text.translate(_TO_DB)
        # other lone surrogates cannot come from a file name: replace rather than fail
        return mapped.encode("utf-8", "replace").decode("utf-8")


def from_db(text: str) -> str:
    if text and max(text) >= _PUA_LOW:
        return text.translate(_FROM_DB)
    return text


def lossless_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> sqlite3.Row:
    """``row_factory``: sqlite3.Row with escaped bytes restored in every text value."""
    return sqlite3.Row(cursor, tuple(from_db(v) if type(v) is str else v for v in row))


def shown(text: str) -> str:
    """A path for people: undecodable bytes as ``\\xNN`` (never an encode error on print)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def printable(obj: Any) -> Any:
    """A copy of JSON-like data with undecodable bytes in strings shown as ``\\xNN``.

    For writers whose libraries refuse lone surrogates (OpenTimelineIO, XML): an NLE
    cannot relink a name that is not UTF-8 anyway, so the name is shown, not kept.
    """
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
            return obj
        except UnicodeEncodeError:
            return shown(obj)
    if isinstance(obj, dict):
        pairs = [(printable(k), printable(v)) for k, v in obj.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(pairs, obj.items(), strict=True)):
            return obj  # nothing to escape: no copy of a big sidecar
        return dict(pairs)
    if isinstance(obj, list | tuple):
        items = [printable(v) for v in obj]
        return obj if all(a is b for a, b in zip(items, obj, strict=True)) else items
    return obj


# Every str bound to a statement passes through to_db (registering an adapter for str
# makes sqlite3 consult adapters for the base types; the cost is one call per string).
sqlite3.register_adapter(str, to_db)
