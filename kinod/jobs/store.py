"""The durable job store: one SQLite file (WAL) that is the source of truth for work.

A job is one analyzer on one clip content. Its key hashes the content fingerprint,
the analyzer's name and version, its model's sha256 and its canonical config, so:

* nothing runs twice: a done key is never run again, whatever the clip is called now;
* an upgrade re-runs only what changed: bump one analyzer's version, or change one
  section of config, and only that analyzer's keys are new.

Finished analysis records are kept in the store too, so a sidecar can be rebuilt from
old and new results when only some analyzers re-ran.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS clips (
    fingerprint TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    size INTEGER,
    card TEXT,
    state TEXT NOT NULL DEFAULT 'new',
    sidecar TEXT,
    last_error TEXT,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS clips_path ON clips(path);
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    analyzer TEXT NOT NULL,
    version TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    model_sha256 TEXT,
    path TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued','running','done','failed','cancelled')),
    priority INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    lease_owner TEXT,
    lease_until REAL,
    record TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, priority);
CREATE INDEX IF NOT EXISTS jobs_fp ON jobs(fingerprint);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
"""
SCHEMA_VERSION = "1"


def job_key(fingerprint: str, analyzer: str, version: str, config_hash: str, model_sha256: str | None) -> str:
    parts = [fingerprint, analyzer, version, model_sha256 or "", config_hash]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class JobSpec:
    key: str
    fingerprint: str
    analyzer: str
    version: str
    config_hash: str
    model_sha256: str | None
    path: str


class JobStore:
    """Thread-safe access to the state file. One connection, serialised by a lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        with self._lock:
            self._db.executescript(SCHEMA)  # executescript manages its own transaction
        with self.tx() as db:
            db.execute("INSERT OR IGNORE INTO meta(k, v) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, args))

    # Clips -------------------------------------------------------------------------
    def upsert_clip(
        self,
        fingerprint: str,
        path: str,
        size: int | None,
        card: str | None,
        state: str,
        sidecar: str | None = None,
        error: str | None = None,
    ) -> None:
        with self.tx() as db:
            db.execute(
                """INSERT INTO clips(fingerprint, path, size, card, state, sidecar, last_error, updated)
                   VALUES (?,?,?,?,?,?,?,?)
                   ON CONFLICT(fingerprint) DO UPDATE SET path=excluded.path, size=excluded.size,
                     card=coalesce(excluded.card, clips.card), state=excluded.state,
                     sidecar=coalesce(excluded.sidecar, clips.sidecar), last_error=excluded.last_error,
                     updated=excluded.updated""",
                (fingerprint, path, size, card, state, sidecar, error, time.time()),
            )
            # A moved or renamed clip keeps its jobs: point them at the new path.
            db.execute("UPDATE jobs SET path=? WHERE fingerprint=? AND path<>?", (path, fingerprint, path))

    def clip(self, fingerprint: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM clips WHERE fingerprint=?", (fingerprint,))
        return rows[0] if rows else None

    # Jobs --------------------------------------------------------------------------
    def done_records(self, keys: dict[str, str]) -> dict[str, dict[str, Any]]:
        """For analyzer -> key, the stored analysis records of the keys that are done."""
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        rows = self.query(f"SELECT key, record FROM jobs WHERE state='done' AND key IN ({marks})", tuple(keys.values()))
        by_key = {r["key"]: r["record"] for r in rows}
        return {name: json.loads(by_key[k]) for name, k in keys.items() if by_key.get(k)}

    def record_done(self, spec: JobSpec, record: dict[str, Any]) -> None:
        now = time.time()
        with self.tx() as db:
            db.execute(
                """INSERT INTO jobs(key, fingerprint, analyzer, version, config_hash, model_sha256, path, state,
                                    attempts, record, created, updated)
                   VALUES (?,?,?,?,?,?,?,'done',1,?,?,?)
                   ON CONFLICT(key) DO UPDATE SET state='done', record=excluded.record, last_error=NULL,
                     attempts=jobs.attempts+1, lease_owner=NULL, lease_until=NULL, updated=excluded.updated""",
                (
                    spec.key,
                    spec.fingerprint,
                    spec.analyzer,
                    spec.version,
                    spec.config_hash,
                    spec.model_sha256,
                    spec.path,
                    json.dumps(record),
                    now,
                    now,
                ),
            )

    def record_failed(self, spec: JobSpec, error: str) -> None:
        now = time.time()
        with self.tx() as db:
            db.execute(
                """INSERT INTO jobs(key, fingerprint, analyzer, version, config_hash, model_sha256, path, state,
                                    attempts, last_error, created, updated)
                   VALUES (?,?,?,?,?,?,?,'failed',1,?,?,?)
                   ON CONFLICT(key) DO UPDATE SET state='failed', last_error=excluded.last_error,
                     attempts=jobs.attempts+1, lease_owner=NULL, lease_until=NULL, updated=excluded.updated""",
                (
                    spec.key,
                    spec.fingerprint,
                    spec.analyzer,
                    spec.version,
                    spec.config_hash,
                    spec.model_sha256,
                    spec.path,
                    error,
                    now,
                    now,
                ),
            )

    def counts(self) -> dict[tuple[str, str], int]:
        rows = self.query("SELECT analyzer, state, count(*) AS n FROM jobs GROUP BY analyzer, state")
        return {(r["analyzer"], r["state"]): r["n"] for r in rows}
