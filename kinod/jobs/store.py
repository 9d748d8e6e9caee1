"""The durable job store: one SQLite file (WAL) that is the source of truth for work.

A job is one analyzer on one clip content. Its key hashes the content fingerprint,
the analyzer's name and version, its model's sha256 and its canonical config, so:

* nothing runs twice: a done key is never run again, whatever the clip is called now;
* an upgrade re-runs only what changed: bump one analyzer's version, or change one
  section of config, and only that analyzer's keys are new.

Finished analysis records are kept in the store too, so a sidecar can be rebuilt from
old and new results when only some analyzers re-ran.

Tables:

* ``clips``: one row per content fingerprint (its latest path, the clip value its card
  parser made, probe, cache state), read back as a :class:`~kinod.jobs.clip_record.ClipRecord`;
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

This module is the only one that writes SQL; the schema and the documented state
machines are in :mod:`kinod.jobs.schema`, the queue in :mod:`kinod.jobs.queue_store`
and the cards in :mod:`kinod.jobs.card_store` (mixins of :class:`JobStore`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kinod.jobs.card_store import CardStore
from kinod.jobs.clip_record import ClipRecord
from kinod.jobs.queue_store import QueueStore
from kinod.jobs.schema import (
    ACTIVE,
    ADDED_COLUMNS,
    FINAL,
    JOB_STATES_ORDER,
    PASS_PREFIX,
    POST_MIGRATION,
    SCHEMA,
    SCHEMA_VERSION,
    CardState,
    ClipState,
    JobSpec,
    JobState,
    PassState,
    StoreError,
    job_key,
    pass_key,
)
from kinod.media.cards.model import ClipFiles
from kinod.robust.pathcodec import lossless_row

__all__ = [
    "ACTIVE",
    "FINAL",
    "JOB_STATES_ORDER",
    "PASS_PREFIX",
    "CardState",
    "ClipRecord",
    "ClipState",
    "JobSpec",
    "JobState",
    "JobStore",
    "PassState",
    "StoreError",
    "job_key",
    "pass_key",
]


class JobStore(QueueStore, CardStore):
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
            self._db.row_factory = lossless_row  # issue 13: non-UTF-8 file names round-trip
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
        clip: ClipFiles | None = None,
    ) -> None:
        """Record a clip planned at ``path``; ``clip`` is its whole value (files, camera facts,
        card), kept with the row so every later plan of it reads the same files."""
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
                     plan=coalesce(excluded.plan, clips.plan), parts=coalesce(excluded.parts, clips.parts)""",
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
                    json.dumps(clip.to_json()) if clip is not None else None,
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

    def clip(self, fingerprint: str) -> ClipRecord | None:
        rows = self.query("SELECT * FROM clips WHERE fingerprint=?", (fingerprint,))
        return ClipRecord.from_row(rows[0]) if rows else None

    def clip_by_path(self, path: str) -> ClipRecord | None:
        """The clip found at ``path``, with that place's own record (``at``: size, mtime, card)."""
        rows = self.query(
            """SELECT c.*, p.path AS path_at, p.size AS path_size, p.mtime_ns AS path_mtime_ns,
                      p.out_dir AS path_out_dir, p.card AS path_card, p.card_path AS path_card_path
                 FROM clip_paths p JOIN clips c ON c.fingerprint=p.fingerprint WHERE p.path=?""",
            (path,),
        )
        return ClipRecord.from_row(rows[0]) if rows else None

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
    def failed_clips(self, under: str | None = None) -> list[ClipRecord]:
        sql = """SELECT DISTINCT c.* FROM clips c WHERE (c.state='failed'
                   OR EXISTS (SELECT 1 FROM jobs j WHERE j.fingerprint=c.fingerprint AND j.state='failed')
                   OR EXISTS (SELECT 1 FROM passes p WHERE p.fingerprint=c.fingerprint AND p.state='failed'))"""
        args: list[Any] = []
        if under:
            sql += " AND (c.path=? OR c.path LIKE ? ESCAPE '\\')"
            args += [under, _like_prefix(under)]
        return [ClipRecord.from_row(r) for r in self.query(sql, args)]

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
    def unfinished_clips(self) -> list[str]:
        """Clips whose work ended but whose sidecar was never written (a crash in between)."""
        rows = self.query(
            "SELECT fingerprint FROM clips WHERE state IN ('new','queued','running')"
            " AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.fingerprint=clips.fingerprint AND j.state IN"
            " ('queued','running')) AND NOT EXISTS (SELECT 1 FROM passes p WHERE p.fingerprint=clips.fingerprint"
            " AND p.state IN ('queued','running'))"
        )
        return [r["fingerprint"] for r in rows]

    def known_clips(self) -> list[ClipRecord]:
        """Every clip that may need planning again after a config change."""
        rows = self.query("SELECT * FROM clips WHERE state NOT IN ('missing','cancelled','replaced')")
        return [ClipRecord.from_row(r) for r in rows]

    def path_sidecar(self, path: str) -> str | None:
        """The sidecar last written for the clip at ``path`` (None: none yet)."""
        rows = self.query("SELECT sidecar FROM clip_paths WHERE path=?", (path,))
        return rows[0]["sidecar"] if rows else None

    def pass_error(self, fingerprint: str) -> str | None:
        rows = self.query("SELECT last_error FROM passes WHERE fingerprint=?", (fingerprint,))
        return rows[0]["last_error"] if rows else None

    def failed_tasks(self, limit: int) -> list[sqlite3.Row]:
        """Failed jobs and passes (analyzer, path, last_error, attempts), for ``kinod status``."""
        return self.query(
            """SELECT j.analyzer, j.path, j.last_error, j.attempts FROM jobs j WHERE j.state='failed'
               UNION ALL SELECT 'pass', p.path, p.last_error, p.attempts FROM passes p WHERE p.state='failed'
               LIMIT ?""",
            (limit,),
        )

    def fingerprints_under(self, target: str) -> list[str]:
        """Content fingerprints of every clip path at or below ``target`` (or of the card there)."""
        rows = self.query(
            "SELECT DISTINCT fingerprint FROM clip_paths WHERE path=? OR path LIKE ? OR card_path=?",
            (target, target + "/%", target),
        )
        return [r["fingerprint"] for r in rows]


def _like_prefix(path: str) -> str:
    esc = path.rstrip("/").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return esc + "/%"
