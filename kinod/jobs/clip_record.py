"""A clip row of the job store as a value: what kinod knows of one content fingerprint.

The store hands these out instead of raw SQLite rows so that every reader sees the
same typed facts: the clip itself (:class:`~kinod.media.cards.model.ClipFiles`: its
files in order, the camera's facts, its card), its state, and the JSON columns
already parsed. Planning again, resuming after a full disk and ``kinod retry`` read
the clip from here, so a spanned recording or a P2 clip with audio essences is
planned as the card parser found it, never as its first file alone.

A state file written before the clip value was stored (``parts`` NULL, or without
the card) still reads: the clip is then the file at ``path``, on the card of the
row's own columns.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kinod.media.cards.model import ClipFiles


@dataclass(frozen=True)
class PathRecord:
    """One place the content was found (a ``clip_paths`` row): a copy on two cards has two."""

    path: Path
    size: int | None
    mtime_ns: int | None
    out_dir: Path | None
    card: str | None
    card_path: str | None
    #: The sidecar last written at this place (None: none yet).
    sidecar: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> PathRecord:
        """A ``clip_paths`` row."""
        out_dir = Path(row["out_dir"]) if row["out_dir"] else None
        return cls(
            Path(row["path"]), row["size"], row["mtime_ns"], out_dir, row["card"], row["card_path"], row["sidecar"]
        )


@dataclass(frozen=True)
class ClipRecord:
    """The ``clips`` row of one content fingerprint; ``at`` is the place it was looked up by
    (:meth:`kinod.jobs.clip_store.ClipRepo.by_path`), None for a lookup by fingerprint."""

    fingerprint: str
    clip: ClipFiles
    state: str
    size: int | None = None
    last_error: str | None = None
    sidecar: str | None = None
    out_dir: Path | None = None
    mtime_ns: int | None = None
    card_rank: float = 0.0
    #: ``none``, ``ready`` (the analysis cache is there) or ``deleted``.
    cache: str = "none"
    probe: dict[str, Any] | None = None
    decode: dict[str, Any] | None = None
    errors: list[dict[str, Any]] | None = None
    #: analyzer -> job key, as last planned.
    plan: dict[str, str] | None = None
    updated: float = 0.0
    at: PathRecord | None = None

    @property
    def path(self) -> Path:
        """The clip's first file: the path its sidecar is named after."""
        return self.clip.first

    @property
    def card(self) -> str | None:
        return self.clip.card

    @property
    def card_path(self) -> str | None:
        return self.clip.card_path

    @classmethod
    def from_row(cls, row: sqlite3.Row | Mapping[str, Any]) -> ClipRecord:
        keys = row.keys()
        at = None
        if "path_size" in keys:
            at = PathRecord(
                Path(row["path_at"]), row["path_size"], row["path_mtime_ns"],
                Path(row["path_out_dir"]) if row["path_out_dir"] else None, row["path_card"], row["path_card_path"],
            )  # fmt: skip
        return cls(
            fingerprint=row["fingerprint"],
            clip=clip_value(row["path"], row["parts"], row["card"], row["card_path"]),
            state=row["state"],
            size=row["size"],
            last_error=row["last_error"],
            sidecar=row["sidecar"],
            out_dir=Path(row["out_dir"]) if row["out_dir"] else None,
            mtime_ns=row["mtime_ns"],
            card_rank=float(row["card_rank"] or 0.0),
            cache=row["cache"] or "none",
            probe=_json(row["probe"]),
            decode=_json(row["decode"]),
            errors=_json(row["errors"]),
            plan=_json(row["plan"]),
            updated=row["updated"],
            at=at,
        )

    def with_paths(self, swap: Callable[[str], str]) -> ClipRecord:
        """The same record with its paths passed through ``swap`` (a worker's own mount points)."""
        at = self.at
        if at is not None:
            at = replace(
                at, path=Path(swap(str(at.path))), out_dir=Path(swap(str(at.out_dir))) if at.out_dir else None,
                card_path=swap(at.card_path) if at.card_path else None,
            )  # fmt: skip
        out_dir = Path(swap(str(self.out_dir))) if self.out_dir else None
        return replace(self, clip=self.clip.with_paths(swap), out_dir=out_dir, at=at)


def clip_value(path: str, parts: str | None, card: str | None, card_path: str | None) -> ClipFiles:
    """The clip of a row: its stored value, else (an older row) the file at ``path`` alone.

    The row's card columns fill in what an older value lacks. A stored value that does
    not start at the row's path (written by a version that changed one without the
    other) is not trusted: the file alone is what that version would have read.
    """
    value = None
    if parts:
        try:
            value = ClipFiles.from_json(json.loads(parts))
        except (ValueError, TypeError, KeyError, IndexError):
            value = None
    if value is None or str(value.first) != path:
        value = ClipFiles.alone(Path(path))
    return value.on_card(value.card or card, value.card_path or card_path)


def _json(text: str | None) -> Any:
    return json.loads(text) if text else None
