"""The durable job store: one SQLite file (WAL) that is the source of truth for work.

A job is one analyzer on one clip content. Its key hashes the content fingerprint,
the analyzer's name and version, its model's sha256 and its canonical config, so:

* nothing runs twice: a done key is never run again, whatever the clip is called now;
* an upgrade re-runs only what changed: bump one analyzer's version, or change one
  section of config, and only that analyzer's keys are new.

Finished analysis records are kept in the store too, so a sidecar can be rebuilt from
old and new results when only some analyzers re-ran.

Tables:

* ``clips``: one row per content fingerprint (its latest path, probe, cache state);
* ``clip_paths``: every place that content was found (a copy on two cards is analysed
  once and gets a sidecar in both places; a renamed clip moves its row);
* ``jobs``: one row per analyzer job, ``queued -> running -> done | failed | cancelled``;
  ``running`` carries a lease (owner, expiry) that a heartbeat renews, so work held
  by a dead daemon goes back to ``queued``;
* ``passes``: the per-clip decode pass that runs the clip's pending *stream* jobs and
  leaves the analysis cache (leased like a job; it is plumbing, not a result);
* ``cards``: what the watcher handed on (its file list, so a restart does not settle
  the whole library again) and how far it got;
* ``job_events``: an append-only log of every transition (who started what, OOM
  retries), so "each job completed exactly once" can be checked, not hoped for.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
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
CREATE TABLE IF NOT EXISTS passes (
    fingerprint TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued','running','done','failed','cancelled')),
    priority INTEGER NOT NULL DEFAULT 0,
    cpu INTEGER NOT NULL DEFAULT 1,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    lease_owner TEXT,
    lease_until REAL,
    card_rank REAL NOT NULL DEFAULT 0,
    note TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    started REAL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS passes_state ON passes(state, priority);
CREATE TABLE IF NOT EXISTS cards (
    key TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    path TEXT NOT NULL,
    name TEXT,
    loose INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    seen REAL,
    ready REAL,
    done REAL,
    clips INTEGER NOT NULL DEFAULT 0,
    files TEXT,
    last_error TEXT,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS job_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT,
    analyzer TEXT,
    event TEXT NOT NULL,
    owner TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS job_events_key ON job_events(key);
CREATE TABLE IF NOT EXISTS clip_paths (
    path TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    out_dir TEXT,
    card TEXT,
    card_path TEXT,
    size INTEGER,
    mtime_ns INTEGER,
    sidecar TEXT,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS clip_paths_fp ON clip_paths(fingerprint);
CREATE INDEX IF NOT EXISTS clip_paths_card ON clip_paths(card_path);
"""
#: Columns added after schema 1, with their SQL type: ALTER TABLE adds them to old files.
ADDED_COLUMNS: dict[str, dict[str, str]] = {
    "clips": {
        "mtime_ns": "INTEGER",
        "card_path": "TEXT",
        "out_dir": "TEXT",
        "probe": "TEXT",
        "decode": "TEXT",
        "errors": "TEXT",
        "cache": "TEXT NOT NULL DEFAULT 'none'",
        "plan": "TEXT",
        "card_rank": "REAL NOT NULL DEFAULT 0",
        # a spanned recording's files in order (JSON list of paths); NULL: the one file at path
        "parts": "TEXT",
    },
    "jobs": {
        "kind": "TEXT NOT NULL DEFAULT 'stream'",
        "cpu": "INTEGER NOT NULL DEFAULT 1",
        "gpu": "INTEGER NOT NULL DEFAULT 0",
        "gpu_mem_mb": "INTEGER NOT NULL DEFAULT 0",
        "options": "TEXT",
        "note": "TEXT",
        "card_rank": "REAL NOT NULL DEFAULT 0",
        "started": "REAL",
        "finished": "REAL",
        "queued_at": "REAL",
    },
    "passes": {
        # frames decoded so far by a running pass: progress for people and a condition tests can wait on
        "frames_done": "INTEGER NOT NULL DEFAULT 0",
    },
}
POST_MIGRATION = """
CREATE INDEX IF NOT EXISTS clips_card ON clips(card_path);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs(state, kind, priority, card_rank);
"""
SCHEMA_VERSION = "2"
ACTIVE = ("queued", "running")
JOB_STATES_ORDER = ("queued", "running", "done", "failed", "cancelled")
FINAL = ("done", "failed", "cancelled")
PASS_PREFIX = "pass:"


def job_key(fingerprint: str, analyzer: str, version: str, config_hash: str, model_sha256: str | None) -> str:
    parts = [fingerprint, analyzer, version, model_sha256 or "", config_hash]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def pass_key(fingerprint: str) -> str:
    return PASS_PREFIX + fingerprint


@dataclass(frozen=True)
class JobSpec:
    key: str
    fingerprint: str
    analyzer: str
    version: str
    config_hash: str
    model_sha256: str | None
    path: str
    kind: str = "stream"
    priority: int = 0
    cpu: int = 1
    gpu: int = 0
    gpu_mem_mb: int = 0


class StoreError(RuntimeError):
    """The state file cannot be opened or is not ours; the message names it."""


class JobStore:
    """Thread-safe access to the state file. One connection, serialised by a lock."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._lock = threading.RLock()
        try:
            if readonly:
                if not path.is_file():
                    raise StoreError(f"{path}: no state file here (has kinod run on this state.dir?)")
                self._db = sqlite3.connect(
                    f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False, isolation_level=None
                )
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout=30000")
            if not readonly:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
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

    @staticmethod
    def _event(
        db: sqlite3.Connection,
        key: str,
        event: str,
        fingerprint: str | None = None,
        analyzer: str | None = None,
        owner: str | None = None,
        detail: str | None = None,
    ) -> None:
        db.execute(
            "INSERT INTO job_events(at, key, fingerprint, analyzer, event, owner, detail) VALUES (?,?,?,?,?,?,?)",
            (time.time(), key, fingerprint, analyzer, event, owner, detail),
        )

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
        *,
        mtime_ns: int | None = None,
        card_path: str | None = None,
        out_dir: str | None = None,
        card_rank: float | None = None,
        plan: dict[str, str] | None = None,
        parts: list[str] | None = None,
    ) -> None:
        with self.tx() as db:
            db.execute(
                """INSERT INTO clips(fingerprint, path, size, card, state, sidecar, last_error, updated,
                                     mtime_ns, card_path, out_dir, card_rank, plan, parts)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,coalesce(?,0),?,?)
                   ON CONFLICT(fingerprint) DO UPDATE SET path=excluded.path, size=excluded.size,
                     card=coalesce(excluded.card, clips.card), state=excluded.state,
                     sidecar=coalesce(excluded.sidecar, clips.sidecar), last_error=excluded.last_error,
                     updated=excluded.updated, mtime_ns=coalesce(excluded.mtime_ns, clips.mtime_ns),
                     card_path=coalesce(excluded.card_path, clips.card_path),
                     out_dir=coalesce(excluded.out_dir, clips.out_dir),
                     card_rank=CASE WHEN ? IS NULL THEN clips.card_rank ELSE excluded.card_rank END,
                     plan=coalesce(excluded.plan, clips.plan), parts=excluded.parts""",
                (
                    fingerprint,
                    path,
                    size,
                    card,
                    state,
                    sidecar,
                    error,
                    time.time(),
                    mtime_ns,
                    card_path,
                    out_dir,
                    card_rank,
                    json.dumps(plan) if plan is not None else None,
                    json.dumps(parts) if parts is not None and len(parts) > 1 else None,
                    card_rank,
                ),
            )
            db.execute(
                """INSERT INTO clip_paths(path, fingerprint, out_dir, card, card_path, size, mtime_ns, updated)
                   VALUES (?,?,?,?,?,?,?,?)
                   ON CONFLICT(path) DO UPDATE SET fingerprint=excluded.fingerprint,
                     out_dir=coalesce(excluded.out_dir, clip_paths.out_dir),
                     card=coalesce(excluded.card, clip_paths.card),
                     card_path=coalesce(excluded.card_path, clip_paths.card_path), size=excluded.size,
                     mtime_ns=coalesce(excluded.mtime_ns, clip_paths.mtime_ns), updated=excluded.updated""",
                (path, fingerprint, out_dir, card, card_path, size, mtime_ns, time.time()),
            )
            # A moved or renamed clip keeps its jobs: point them at the new path.
            db.execute("UPDATE jobs SET path=? WHERE fingerprint=? AND path<>?", (path, fingerprint, path))
            db.execute("UPDATE passes SET path=? WHERE fingerprint=? AND path<>?", (path, fingerprint, path))

    def clip(self, fingerprint: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM clips WHERE fingerprint=?", (fingerprint,))
        return rows[0] if rows else None

    def clip_by_path(self, path: str) -> sqlite3.Row | None:
        """The clip found at ``path`` (clips row, with that path's own size and mtime)."""
        rows = self.query(
            """SELECT c.*, p.size AS path_size, p.mtime_ns AS path_mtime_ns, p.out_dir AS path_out_dir,
                      p.card AS path_card, p.card_path AS path_card_path
                 FROM clip_paths p JOIN clips c ON c.fingerprint=p.fingerprint WHERE p.path=?""",
            (path,),
        )
        return rows[0] if rows else None

    def paths_of(self, fingerprint: str) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM clip_paths WHERE fingerprint=? ORDER BY updated DESC", (fingerprint,))

    def set_path_sidecar(self, path: str, sidecar: str | None) -> None:
        with self.tx() as db:
            db.execute("UPDATE clip_paths SET sidecar=?, updated=? WHERE path=?", (sidecar, time.time(), path))

    def drop_path(self, path: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM clip_paths WHERE path=?", (path,))

    def set_clip_state(self, fingerprint: str, state: str, error: str | None = None, **cols: Any) -> None:
        allowed = {"sidecar", "probe", "decode", "errors", "cache", "out_dir", "path"}
        sets, args = ["state=?", "last_error=?", "updated=?"], [state, error, time.time()]
        for k, v in cols.items():
            if k not in allowed:
                raise ValueError(f"unknown clip column {k}")
            sets.append(f"{k}=?")
            args.append(json.dumps(v) if k in ("probe", "decode", "errors") and v is not None else v)
        with self.tx() as db:
            db.execute(f"UPDATE clips SET {', '.join(sets)} WHERE fingerprint=?", (*args, fingerprint))

    def clip_states(self) -> dict[str, int]:
        return {r["state"]: r["n"] for r in self.query("SELECT state, count(*) AS n FROM clips GROUP BY state")}

    # Jobs: planning --------------------------------------------------------------------
    def done_records(self, keys: dict[str, str]) -> dict[str, dict[str, Any]]:
        """For analyzer -> key, the stored analysis records of the keys that are done."""
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        rows = self.query(f"SELECT key, record FROM jobs WHERE state='done' AND key IN ({marks})", tuple(keys.values()))
        by_key = {r["key"]: r["record"] for r in rows}
        return {name: json.loads(by_key[k]) for name, k in keys.items() if by_key.get(k)}

    def job_states(self, keys: Iterable[str]) -> dict[str, str]:
        keys = list(keys)
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        return {r["key"]: r["state"] for r in self.query(f"SELECT key, state FROM jobs WHERE key IN ({marks})", keys)}

    def enqueue(
        self, specs: Sequence[JobSpec], *, card_rank: float = 0.0, force: bool = False, owner: str | None = None
    ) -> list[str]:
        """Queue jobs that are not done (or all of them with ``force``); returns the keys queued.

        Queued and running jobs are left alone (enqueueing twice is harmless); cancelled
        ones come back; failed ones only with ``force`` (else ``kinod retry``).
        """
        now = time.time()
        queued: list[str] = []
        with self.tx() as db:
            for s in specs:
                row = db.execute("SELECT state FROM jobs WHERE key=?", (s.key,)).fetchone()
                if row is None:
                    db.execute(
                        """INSERT INTO jobs(key, fingerprint, analyzer, version, config_hash, model_sha256, path,
                              state, priority, attempts, created, updated, kind, cpu, gpu, gpu_mem_mb, card_rank,
                              queued_at)
                           VALUES (?,?,?,?,?,?,?,'queued',?,0,?,?,?,?,?,?,?,?)""",
                        (
                            s.key,
                            s.fingerprint,
                            s.analyzer,
                            s.version,
                            s.config_hash,
                            s.model_sha256,
                            s.path,
                            s.priority,
                            now,
                            now,
                            s.kind,
                            s.cpu,
                            s.gpu,
                            s.gpu_mem_mb,
                            card_rank,
                            now,
                        ),
                    )
                elif row["state"] == "cancelled" or (force and row["state"] in ("done", "failed")):
                    db.execute(
                        """UPDATE jobs SET state='queued', attempts=0, last_error=NULL, options=NULL, note=NULL, path=?,
                             priority=?, kind=?, cpu=?, gpu=?, gpu_mem_mb=?, card_rank=?, queued_at=?, updated=?,
                             lease_owner=NULL, lease_until=NULL WHERE key=?""",
                        (s.path, s.priority, s.kind, s.cpu, s.gpu, s.gpu_mem_mb, card_rank, now, now, s.key),
                    )
                else:
                    continue
                queued.append(s.key)
                self._event(db, s.key, "queued", s.fingerprint, s.analyzer, owner)
        return queued

    def enqueue_pass(
        self, fingerprint: str, path: str, *, priority: int = 0, cpu: int = 1, card_rank: float = 0.0
    ) -> bool:
        """Make sure a pass is queued or running for this clip; True if one was queued now."""
        now = time.time()
        with self.tx() as db:
            row = db.execute("SELECT state FROM passes WHERE fingerprint=?", (fingerprint,)).fetchone()
            if row is not None and row["state"] in ACTIVE:
                return False
            db.execute(
                """INSERT INTO passes(fingerprint, path, state, priority, cpu, attempts, card_rank, created, updated)
                   VALUES (?,?,'queued',?,?,0,?,?,?)
                   ON CONFLICT(fingerprint) DO UPDATE SET state='queued', path=excluded.path, attempts=0,
                     priority=excluded.priority, cpu=excluded.cpu, card_rank=excluded.card_rank, last_error=NULL,
                     note=NULL, lease_owner=NULL, lease_until=NULL, updated=excluded.updated""",
                (fingerprint, path, priority, cpu, card_rank, now, now),
            )
            self._event(db, pass_key(fingerprint), "queued", fingerprint, "pass")
        return True

    # Jobs: the queue -------------------------------------------------------------------
    def next_tasks(
        self,
        limit: int,
        *,
        newest_first: bool,
        exclude: Iterable[str] = (),
        fingerprints: Iterable[str] | None = None,
    ) -> list[sqlite3.Row]:
        """The best ``limit`` runnable tasks: queued passes, and queued model jobs whose cache is ready.

        Order: priority (passes first), then card (newest or oldest first), then age.
        """
        order = "DESC" if newest_first else "ASC"
        excluded = set(exclude)
        scope, args = "", []
        if fingerprints is not None:
            fps = list(fingerprints)
            scope = f" WHERE fingerprint IN ({','.join('?' * len(fps))})"
            args = fps
        rows = self.query(
            f"""SELECT * FROM (
                  SELECT 'pass' AS kind, 'pass:' || p.fingerprint AS key, p.fingerprint, p.path, 'pass' AS analyzer,
                         p.priority, p.card_rank, p.created, p.attempts, NULL AS options, p.cpu, 0 AS gpu,
                         0 AS gpu_mem_mb
                    FROM passes p WHERE p.state='queued'
                  UNION ALL
                  SELECT 'model', j.key, j.fingerprint, j.path, j.analyzer, j.priority, j.card_rank, j.created,
                         j.attempts, j.options, j.cpu, j.gpu, j.gpu_mem_mb
                    FROM jobs j JOIN clips c ON c.fingerprint=j.fingerprint
                   WHERE j.state='queued' AND j.kind='model' AND c.cache='ready'){scope}
                ORDER BY priority ASC, card_rank {order}, created ASC LIMIT ?""",
            (*args, limit + len(excluded)),
        )
        return [r for r in rows if r["key"] not in excluded][:limit]

    def claim(self, key: str, owner: str, lease_seconds: float) -> list[sqlite3.Row] | None:
        """Take a queued task under a lease. Returns the job rows it covers, or None if it was not queued.

        A pass covers the clip's queued stream jobs (they run inside it); a model task
        covers its own job row.
        """
        now = time.time()
        until = now + lease_seconds
        with self.tx() as db:
            if key.startswith(PASS_PREFIX):
                fp = key[len(PASS_PREFIX) :]
                cur = db.execute(
                    """UPDATE passes SET state='running', lease_owner=?, lease_until=?, attempts=attempts+1,
                         frames_done=0, started=?, updated=? WHERE fingerprint=? AND state='queued'""",
                    (owner, until, now, now, fp),
                )
                if cur.rowcount != 1:
                    return None
                rows = db.execute(
                    """UPDATE jobs SET state='running', lease_owner=?, lease_until=?, attempts=attempts+1, started=?,
                         updated=? WHERE fingerprint=? AND kind='stream' AND state='queued' RETURNING key, analyzer""",
                    (owner, until, now, now, fp),
                ).fetchall()
                db.executemany(
                    "INSERT INTO job_events(at, key, fingerprint, analyzer, event, owner) VALUES (?,?,?,?,'started',?)",
                    [(now, key, fp, "pass", owner)] + [(now, r["key"], fp, r["analyzer"], owner) for r in rows],
                )
                return rows
            row = db.execute(
                """UPDATE jobs SET state='running', lease_owner=?, lease_until=?, attempts=attempts+1, started=?,
                     updated=? WHERE key=? AND state='queued' RETURNING key, fingerprint, analyzer""",
                (owner, until, now, now, key),
            ).fetchone()
            if row is None:
                return None
            self._event(db, key, "started", row["fingerprint"], row["analyzer"], owner)
            return [row]

    def needs_cache(self, fingerprint: str) -> bool:
        """True when model jobs of this clip wait and its analysis cache is not ready."""
        rows = self.query(
            """SELECT EXISTS (SELECT 1 FROM jobs WHERE fingerprint=? AND kind='model' AND state IN ('queued','running'))
                      AND coalesce((SELECT cache FROM clips WHERE fingerprint=?), 'none') <> 'ready' AS need""",
            (fingerprint, fingerprint),
        )
        return bool(rows[0]["need"])

    def heartbeat(self, owner: str, lease_seconds: float) -> int:
        """Renew every lease this owner holds; returns how many rows it touched."""
        until = time.time() + lease_seconds
        with self.tx() as db:
            n = db.execute(
                "UPDATE jobs SET lease_until=? WHERE lease_owner=? AND state='running'", (until, owner)
            ).rowcount
            n += db.execute(
                "UPDATE passes SET lease_until=? WHERE lease_owner=? AND state='running'", (until, owner)
            ).rowcount
        return n

    def release_leases(
        self,
        *,
        owners: Iterable[str] | None = None,
        expired_before: float | None = None,
        max_attempts: int | None = None,
        reason: str = "lease expired",
        count_attempt: bool = True,
        not_owner: str | None = None,
    ) -> list[str]:
        """Put running work of dead owners (or with expired leases) back in the queue.

        Work that has already used ``max_attempts`` attempts fails instead: a clip that
        crashes the daemon every time must not crash it for ever.
        """
        conds, args = [], []
        if owners is not None:
            owners = list(owners)
            if not owners:
                return []
            conds.append(f"lease_owner IN ({','.join('?' * len(owners))})")
            args += owners
        if expired_before is not None:
            conds.append("lease_until < ?")
            args.append(expired_before)
        if not_owner is not None:  # our own leases are renewed by us; a late heartbeat is not a dead worker
            conds.append("coalesce(lease_owner, '') <> ?")
            args.append(not_owner)
        where = " AND ".join(["state='running'", *conds])
        now = time.time()
        back: list[str] = []
        with self.tx() as db:
            for table in ("passes", "jobs"):
                keycol = "'pass:' || fingerprint" if table == "passes" else "key"
                rows = list(
                    db.execute(
                        f"SELECT {keycol} AS key, fingerprint, attempts, lease_owner FROM {table} WHERE {where}", args
                    )
                )
                for r in rows:
                    give_up = max_attempts is not None and count_attempt and r["attempts"] >= max_attempts
                    state = "failed" if give_up else "queued"
                    err = f"{reason} ({r['attempts']} attempt(s)); given up" if give_up else reason
                    dec = "" if count_attempt else ", attempts=max(attempts-1, 0)"
                    col = "fingerprint" if table == "passes" else "key"
                    val = r["fingerprint"] if table == "passes" else r["key"]
                    db.execute(
                        f"""UPDATE {table} SET state=?, last_error=?, lease_owner=NULL, lease_until=NULL,
                              updated=?{dec} WHERE {col}=?""",
                        (state, err, now, val),
                    )
                    self._event(
                        db, r["key"], "failed" if give_up else "requeued", r["fingerprint"], None, r["lease_owner"], err
                    )
                    back.append(r["key"])
        return back

    # --- issue 17: a restarted coordinator adopts the tasks its predecessor had in flight ---
    def adopt_leases(self, keys: Iterable[str], owner: str, lease_seconds: float) -> set[str]:
        """Move running leases of ``keys`` (job keys or ``pass:<fp>``) to ``owner``; returns those moved.

        Work sent to remote workers keeps running when the coordinator dies; the next
        coordinator takes it over (and collects its results) instead of running it again.
        """
        until = time.time() + lease_seconds
        moved: set[str] = set()
        with self.tx() as db:
            for key in keys:
                if key.startswith(PASS_PREFIX):
                    fp = key[len(PASS_PREFIX) :]
                    n = db.execute(
                        "UPDATE passes SET lease_owner=?, lease_until=? WHERE fingerprint=? AND state='running'",
                        (owner, until, fp),
                    ).rowcount
                    db.execute(
                        """UPDATE jobs SET lease_owner=?, lease_until=? WHERE fingerprint=? AND kind='stream'
                             AND state='running'""",
                        (owner, until, fp),
                    )
                else:
                    n = db.execute(
                        "UPDATE jobs SET lease_owner=?, lease_until=? WHERE key=? AND state='running'",
                        (owner, until, key),
                    ).rowcount
                if n:
                    moved.add(key)
        return moved

    # --- end issue 17 ---

    def running_owners(self) -> set[str]:
        rows = self.query(
            "SELECT DISTINCT lease_owner FROM jobs WHERE state='running' UNION "
            "SELECT DISTINCT lease_owner FROM passes WHERE state='running'"
        )
        return {r["lease_owner"] for r in rows if r["lease_owner"]}

    def set_pass_progress(self, fingerprint: str, frames_done: int) -> None:
        """How far a running pass has decoded (written a few times a second at most)."""
        with self.tx() as db:
            db.execute(
                "UPDATE passes SET frames_done=? WHERE fingerprint=? AND state='running'", (frames_done, fingerprint)
            )

    # Jobs: outcomes --------------------------------------------------------------------
    def finish_pass(
        self,
        fingerprint: str,
        owner: str,
        *,
        state: str,
        error: str | None,
        records: dict[str, tuple[str, dict[str, Any]]],
        failures: dict[str, tuple[str, str]],
        clip: dict[str, Any],
        note: str | None = None,
        count_attempt: bool = True,
    ) -> None:
        """Record a pass: its own state, each stream job it carried, and the clip facts it learnt.

        ``records``/``failures`` map analyzer -> (job key, record | message). ``state``
        is ``done``, ``failed`` (for good), ``queued`` (another attempt) or ``cancelled``.
        """
        now = time.time()
        key = pass_key(fingerprint)
        with self.tx() as db:
            dec = "" if count_attempt else ", attempts=max(attempts-1, 0)"
            db.execute(
                f"""UPDATE passes SET state=?, last_error=?, note=coalesce(?, note), lease_owner=NULL,
                      lease_until=NULL, finished=?, updated=?{dec} WHERE fingerprint=?""",
                (state, error, note, now, now, fingerprint),
            )
            self._event(
                db,
                key,
                "done" if state == "done" else ("requeued" if state == "queued" else state),
                fingerprint,
                "pass",
                owner,
                error or note,
            )
            for jkey, rec in records.values():
                self._set_job(db, jkey, "done", None, owner, record=rec)
            for jkey, msg in failures.values():
                self._set_job(db, jkey, "failed" if state != "cancelled" else "cancelled", msg, owner)
            # Stream jobs the pass held but did not report (it failed or was stopped) follow the pass.
            follow = "queued" if state == "queued" else state
            rest = list(
                db.execute(
                    "SELECT key FROM jobs WHERE fingerprint=? AND kind='stream' AND state='running' AND lease_owner=?",
                    (fingerprint, owner),
                )
            )
            for r in rest:
                self._set_job(
                    db,
                    r["key"],
                    follow if follow != "done" else "failed",
                    error or "the decode pass ended without a result",
                    owner,
                    count_attempt=count_attempt,
                )
            if clip:
                sets, args = ["updated=?"], [now]
                for col in ("probe", "decode", "errors"):
                    if col in clip:
                        sets.append(f"{col}=?")
                        args.append(json.dumps(clip[col]))
                if clip.get("cache"):
                    sets.append("cache='ready'")
                db.execute(f"UPDATE clips SET {', '.join(sets)} WHERE fingerprint=?", (*args, fingerprint))
            if state in ("failed", "cancelled"):
                # Model jobs cannot run without the cache this pass should have left.
                reason = f"no analysis cache: {error}" if state == "failed" else (error or "cancelled")
                for r in db.execute(
                    "SELECT key FROM jobs WHERE fingerprint=? AND kind='model' AND state='queued'", (fingerprint,)
                ).fetchall():
                    self._set_job(db, r["key"], state, reason, owner)

    def finish_job(
        self,
        key: str,
        owner: str,
        *,
        state: str,
        error: str | None = None,
        record: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
        note: str | None = None,
        count_attempt: bool = True,
    ) -> None:
        """Record a model job's outcome (``queued`` = try again, with ``options``)."""
        with self.tx() as db:
            self._set_job(
                db, key, state, error, owner, record=record, options=options, note=note, count_attempt=count_attempt
            )

    def _set_job(
        self,
        db: sqlite3.Connection,
        key: str,
        state: str,
        error: str | None,
        owner: str | None,
        *,
        record: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
        note: str | None = None,
        count_attempt: bool = True,
    ) -> None:
        now = time.time()
        dec = "" if count_attempt else ", attempts=max(attempts-1, 0)"
        row = db.execute(
            f"""UPDATE jobs SET state=?, last_error=?, record=coalesce(?, record), options=coalesce(?, options),
                  note=CASE WHEN ? IS NULL THEN note WHEN note IS NULL THEN ? ELSE note || '; ' || ? END,
                  lease_owner=NULL, lease_until=NULL, finished=?, updated=?{dec}
                WHERE key=? RETURNING fingerprint, analyzer""",
            (
                state,
                error,
                json.dumps(record) if record is not None else None,
                json.dumps(options) if options is not None else None,
                note,
                note,
                note,
                now,
                now,
                key,
            ),
        ).fetchone()
        event = "requeued" if state == "queued" else state
        self._event(
            db, key, event, row["fingerprint"] if row else None, row["analyzer"] if row else None, owner, error or note
        )

    def cancel_fingerprints(self, fingerprints: Iterable[str], reason: str) -> list[str]:
        """Cancel queued work of these clips (running work is stopped by its executor first)."""
        fps = list(fingerprints)
        out: list[str] = []
        if not fps:
            return out
        marks = ",".join("?" * len(fps))
        now = time.time()
        with self.tx() as db:
            for r in db.execute(f"SELECT key FROM jobs WHERE state='queued' AND fingerprint IN ({marks})", fps):
                self._set_job(db, r["key"], "cancelled", reason, None)
                out.append(r["key"])
            for r in db.execute(
                f"SELECT fingerprint FROM passes WHERE state='queued' AND fingerprint IN ({marks})", fps
            ):
                db.execute(
                    "UPDATE passes SET state='cancelled', last_error=?, updated=? WHERE fingerprint=?",
                    (reason, now, r["fingerprint"]),
                )
                self._event(db, pass_key(r["fingerprint"]), "cancelled", r["fingerprint"], "pass", None, reason)
                out.append(pass_key(r["fingerprint"]))
        return out

    def is_settled(self, fingerprint: str) -> bool:
        """True when nothing of this clip is queued or running (time to write its sidecar)."""
        rows = self.query(
            """SELECT (SELECT count(*) FROM jobs WHERE fingerprint=? AND state IN ('queued','running'))
                    + (SELECT count(*) FROM passes WHERE fingerprint=? AND state IN ('queued','running')) AS n""",
            (fingerprint, fingerprint),
        )
        return int(rows[0]["n"]) == 0

    def jobs_of(self, fingerprint: str) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM jobs WHERE fingerprint=? ORDER BY kind, analyzer", (fingerprint,))

    # Cards ------------------------------------------------------------------------------
    def upsert_card(
        self,
        key: str,
        *,
        root: str,
        path: str,
        name: str | None,
        loose: bool,
        state: str,
        files: dict[str, Any] | None = None,
        clips: int | None = None,
        error: str | None = None,
    ) -> None:
        now = time.time()
        ready = now if state == "ready" else None
        done = now if state in ("done", "failed") else None
        with self.tx() as db:
            db.execute(
                """INSERT INTO cards(key, root, path, name, loose, state, seen, ready, done, clips, files, last_error,
                                     updated)
                   VALUES (?,?,?,?,?,?,?,?,?,coalesce(?,0),?,?,?)
                   ON CONFLICT(key) DO UPDATE SET state=excluded.state,
                     ready=coalesce(excluded.ready, cards.ready), done=excluded.done,
                     clips=coalesce(?, cards.clips), files=coalesce(excluded.files, cards.files),
                     last_error=excluded.last_error, updated=excluded.updated""",
                (
                    key,
                    root,
                    path,
                    name,
                    int(loose),
                    state,
                    now,
                    ready,
                    done,
                    clips,
                    json.dumps(files) if files is not None else None,
                    error,
                    now,
                    clips,
                ),
            )

    def set_card_state(self, key: str, state: str) -> None:
        now = time.time()
        with self.tx() as db:
            db.execute(
                "UPDATE cards SET state=?, done=CASE WHEN ? IN ('done','failed') THEN ? ELSE done END, updated=?"
                " WHERE key=?",
                (state, state, now, now, key),
            )

    def card_files(self) -> dict[str, dict[str, tuple[int, int]]]:
        """Card key -> the file list handed on last time (seeds the watcher)."""
        out: dict[str, dict[str, tuple[int, int]]] = {}
        for r in self.query("SELECT key, files FROM cards WHERE files IS NOT NULL"):
            out[r["key"]] = {k: (int(v[0]), int(v[1])) for k, v in json.loads(r["files"]).items()}
        return out

    def card_rank(self, key: str) -> float:
        rows = self.query("SELECT ready FROM cards WHERE key=?", (key,))
        return float(rows[0]["ready"] or 0) if rows else 0.0

    def card_progress(self, card_path: str) -> dict[str, int]:
        rows = self.query(
            """SELECT c.state AS state, count(*) AS n FROM clip_paths p JOIN clips c ON c.fingerprint=p.fingerprint
                WHERE p.card_path=? GROUP BY c.state""",
            (card_path,),
        )
        return {r["state"]: r["n"] for r in rows}

    def cards(self) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM cards ORDER BY coalesce(ready, seen) DESC")

    # Reporting ----------------------------------------------------------------------------
    def counts(self) -> dict[tuple[str, str], int]:
        rows = self.query("SELECT analyzer, state, count(*) AS n FROM jobs GROUP BY analyzer, state")
        out = {(r["analyzer"], r["state"]): r["n"] for r in rows}
        for r in self.query("SELECT state, count(*) AS n FROM passes GROUP BY state"):
            out[("pass", r["state"])] = r["n"]
        return out

    def oldest_queued_age(self, now: float | None = None) -> float:
        rows = self.query(
            """SELECT min(t) AS t FROM (SELECT min(coalesce(queued_at, created)) AS t FROM jobs WHERE state='queued'
                                        UNION ALL SELECT min(updated) FROM passes WHERE state='queued')"""
        )
        t = rows[0]["t"] if rows else None
        return max(0.0, (now or time.time()) - t) if t else 0.0

    def card_job_states(self, limit: int = 50, recent_s: float = 86400.0) -> list[tuple[str, str, int]]:
        """(card name, job state, count) for cards still busy or done in the last ``recent_s``."""
        since = time.time() - recent_s
        rows = self.query(
            """SELECT coalesce(cd.name, cd.path) AS card, j.state AS state, count(*) AS n
                 FROM cards cd JOIN clip_paths c ON c.card_path=cd.path JOIN jobs j ON j.fingerprint=c.fingerprint
                WHERE cd.key IN (SELECT key FROM cards WHERE state NOT IN ('done','failed') OR coalesce(done,0) > ?
                                 ORDER BY coalesce(ready, seen) DESC LIMIT ?)
                GROUP BY cd.key, j.state""",
            (since, limit),
        )
        return [(r["card"], r["state"], r["n"]) for r in rows]

    def events(self, key: str | None = None) -> list[sqlite3.Row]:
        if key is None:
            return self.query("SELECT * FROM job_events ORDER BY id")
        return self.query("SELECT * FROM job_events WHERE key=? ORDER BY id", (key,))

    # Maintenance (kinod retry / forget) -----------------------------------------------------
    def failed_clips(self, under: str | None = None) -> list[sqlite3.Row]:
        sql = """SELECT DISTINCT c.* FROM clips c WHERE (c.state='failed'
                   OR EXISTS (SELECT 1 FROM jobs j WHERE j.fingerprint=c.fingerprint AND j.state='failed')
                   OR EXISTS (SELECT 1 FROM passes p WHERE p.fingerprint=c.fingerprint AND p.state='failed'))"""
        args: list[Any] = []
        if under:
            sql += " AND (c.path=? OR c.path LIKE ? ESCAPE '\\')"
            args += [under, _like_prefix(under)]
        return self.query(sql, args)

    def reset_failed(self, fingerprint: str) -> int:
        """Failed jobs of a clip become cancelled (so planning queues them again with fresh attempts)."""
        with self.tx() as db:
            n = 0
            for r in db.execute(
                "SELECT key FROM jobs WHERE fingerprint=? AND state='failed'", (fingerprint,)
            ).fetchall():
                self._set_job(db, r["key"], "cancelled", "retry requested", "kinod retry")
                n += 1
            db.execute("UPDATE passes SET state='cancelled' WHERE fingerprint=? AND state='failed'", (fingerprint,))
        return n

    def forget(self, path: str) -> dict[str, int]:
        """Drop every record of clips at or below ``path`` and of cards there; outputs stay.

        Content also found elsewhere (a copy on another card) keeps its results.
        """
        prefix = _like_prefix(path)
        with self.tx() as db:
            where = "path=? OR path LIKE ? ESCAPE '\\' OR card_path=?"
            fps = {
                r["fingerprint"]
                for r in db.execute(f"SELECT fingerprint FROM clip_paths WHERE {where}", (path, prefix, path))
            }
            fps |= {
                r["fingerprint"]
                for r in db.execute(f"SELECT fingerprint FROM clips WHERE {where}", (path, prefix, path))
            }
            paths = db.execute(f"DELETE FROM clip_paths WHERE {where}", (path, prefix, path)).rowcount
            jobs = clips = 0
            for fp in fps:
                if db.execute("SELECT 1 FROM clip_paths WHERE fingerprint=? LIMIT 1", (fp,)).fetchone():
                    continue
                jobs += db.execute("DELETE FROM jobs WHERE fingerprint=?", (fp,)).rowcount
                db.execute("DELETE FROM passes WHERE fingerprint=?", (fp,))
                db.execute("DELETE FROM job_events WHERE fingerprint=?", (fp,))
                clips += db.execute("DELETE FROM clips WHERE fingerprint=?", (fp,)).rowcount
            cards = db.execute(
                "DELETE FROM cards WHERE path=? OR path LIKE ? ESCAPE '\\' OR key=?", (path, prefix, path)
            ).rowcount
            # a card that holds the forgotten path is looked at again by the watcher
            db.execute("UPDATE cards SET files=NULL WHERE ? LIKE path || '/%'", (path,))
        return {"paths": paths, "clips": clips, "jobs": jobs, "cards": cards}


def _like_prefix(path: str) -> str:
    esc = path.rstrip("/").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return esc + "/%"
