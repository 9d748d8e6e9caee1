"""The job store's queue rows as values: what ``store.queue`` hands out instead of SQLite rows.

Typed and frozen, so a reader sees attributes it can check (``task.card_rank``, not
``row["card_rank"]``) and cannot change what another reader holds; JSON columns are
parsed here, once. Clip rows are :mod:`kinod.jobs.clip_record`, card rows
:class:`kinod.jobs.card_store.CardRecord`, events :class:`kinod.jobs.db.JobEvent`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class QueuedTask:
    """A runnable task as the scheduler reads it: a queued pass, or a queued model job whose cache is ready."""

    #: ``pass`` or ``model``.
    kind: str
    key: str
    fingerprint: str
    path: str
    analyzer: str
    priority: int
    card_rank: float
    created: float
    attempts: int
    #: Options of the last attempt (``device``: cpu after an out-of-memory), {} when none.
    options: dict[str, Any]
    cpu: int
    gpu: int
    gpu_mem_mb: int
    version: str
    config_hash: str
    model_sha256: str | None
    #: The clip value as stored (``ClipFiles.to_json`` text), None for rows of older versions.
    parts: str | None
    card: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> QueuedTask:
        return cls(
            kind=row["kind"],
            key=row["key"],
            fingerprint=row["fingerprint"],
            path=row["path"],
            analyzer=row["analyzer"],
            priority=int(row["priority"]),
            card_rank=float(row["card_rank"] or 0.0),
            created=float(row["created"]),
            attempts=int(row["attempts"]),
            options=json.loads(row["options"]) if row["options"] else {},
            cpu=int(row["cpu"]),
            gpu=int(row["gpu"]),
            gpu_mem_mb=int(row["gpu_mem_mb"]),
            version=row["version"] or "",
            config_hash=row["config_hash"] or "",
            model_sha256=row["model_sha256"],
            parts=row["parts"],
            card=row["card"],
        )


@dataclass(frozen=True)
class ClaimedJob:
    """A job row a claim moved to ``running``: the model job itself, or a stream job inside a pass."""

    key: str
    analyzer: str


@dataclass(frozen=True)
class JobRow:
    """One ``jobs`` row: an analyzer on one clip content, its state and (when done) its record."""

    key: str
    fingerprint: str
    analyzer: str
    kind: str
    path: str
    state: str
    attempts: int
    last_error: str | None
    #: The stored analysis record, parsed (None until done).
    record: dict[str, Any] | None
    note: str | None
    version: str
    config_hash: str
    model_sha256: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> JobRow:
        return cls(
            key=row["key"],
            fingerprint=row["fingerprint"],
            analyzer=row["analyzer"],
            kind=row["kind"],
            path=row["path"],
            state=row["state"],
            attempts=int(row["attempts"]),
            last_error=row["last_error"],
            record=json.loads(row["record"]) if row["record"] else None,
            note=row["note"],
            version=row["version"],
            config_hash=row["config_hash"],
            model_sha256=row["model_sha256"],
        )


@dataclass(frozen=True)
class FailedTask:
    """A failed job or pass for ``kinod status`` (its field names are the JSON keys there)."""

    analyzer: str
    path: str
    last_error: str | None
    attempts: int
