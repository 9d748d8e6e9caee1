"""The state file's one connection: opening and migrating it, transactions, reads, meta, events.

:class:`Db` owns the SQLite connection and the lock that serialises it; the
repositories (:mod:`kinod.jobs.queue_store`, :mod:`kinod.jobs.card_store`,
:mod:`kinod.jobs.clip_store`) hold a :class:`Db` and speak SQL through it, so there
is one place where a connection is made and one lock for every thread.

Every text value read back goes through :func:`kinod.jobs.pathcodec.lossless_row`,
so a file name that is not UTF-8 round-trips through the store byte for byte.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kinod.jobs.pathcodec import lossless_row
from kinod.jobs.schema import ADDED_COLUMNS, POST_MIGRATION, SCHEMA, SCHEMA_VERSION, StoreError


@dataclass(frozen=True)
class JobEvent:
    """One ``job_events`` row: a transition of a job or pass (who, when, why)."""

    id: int
    at: float
    key: str
    fingerprint: str | None
    analyzer: str | None
    event: str
    owner: str | None
    detail: str | None


class Db:
    """Thread-safe access to the state file. One connection, serialised by a lock."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._lock = threading.RLock()
        try:
            self._db = _connect(path, readonly)
            if not readonly:
                self._migrate()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{path}: cannot open the state file: {e}") from None
        if sqlite3.sqlite_version_info < (3, 35):  # UPDATE ... RETURNING
            raise StoreError(f"{path}: SQLite {sqlite3.sqlite_version} is too old; kinod needs 3.35 or later")

    def _migrate(self) -> None:
        with self._lock:
            self._db.executescript(SCHEMA)  # executescript manages its own transaction
            for table, cols in ADDED_COLUMNS.items():
                have = {r["name"] for r in self._db.execute(f"PRAGMA table_info({table})")}
                for col, decl in cols.items():
                    if col not in have:
                        self._db.execute(f"ALTER TABLE {table} ADD COLUMN {col} {decl}")
            self._db.executescript(POST_MIGRATION)
        with self.tx() as db:
            db.execute("INSERT OR IGNORE INTO meta(k, v) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            db.execute("UPDATE meta SET v=? WHERE k='schema_version' AND v<?", (SCHEMA_VERSION, SCHEMA_VERSION))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: writers queue here, not at commit)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, tuple(args)))

    def meta(self, key: str) -> str | None:
        rows = self.query("SELECT v FROM meta WHERE k=?", (key,))
        return rows[0]["v"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO meta(k, v) VALUES (?,?) ON CONFLICT(k) DO UPDATE SET v=excluded.v", (key, value))

    def events(self, key: str | None = None) -> list[JobEvent]:
        """The transition log, oldest first (of one job or pass key, or of everything)."""
        if key is None:
            rows = self.query("SELECT * FROM job_events ORDER BY id")
        else:
            rows = self.query("SELECT * FROM job_events WHERE key=? ORDER BY id", (key,))
        return [JobEvent(**dict(r)) for r in rows]


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if readonly:
        if not path.is_file():
            raise StoreError(f"{path}: no state file here (has kinod run on this state.dir?)")
        uri = f"file:{path}?mode=ro"
        db = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False, isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    db.row_factory = lossless_row  # non-UTF-8 file names round-trip
    db.execute("PRAGMA busy_timeout=30000")
    if not readonly:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    return db


def event(
    db: sqlite3.Connection,
    key: str,
    event: str,
    fingerprint: str | None = None,
    analyzer: str | None = None,
    owner: str | None = None,
    detail: str | None = None,
) -> None:
    """Append one transition to ``job_events`` (inside the caller's transaction)."""
    db.execute(
        "INSERT INTO job_events(at, key, fingerprint, analyzer, event, owner, detail) VALUES (?,?,?,?,?,?,?)",
        (time.time(), key, fingerprint, analyzer, event, owner, detail),
    )


def like_prefix(path: str) -> str:
    """A LIKE pattern for everything below ``path`` (wildcards in the name escaped with ``\\``)."""
    esc = path.rstrip("/").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return esc + "/%"
