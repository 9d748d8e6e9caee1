"""The job store's queue: planning jobs and passes, leasing them, recording their outcomes.

A mixin of :class:`kinod.jobs.store.JobStore` (one connection, one lock); the states
it moves jobs and passes through are :class:`kinod.jobs.schema.JobState`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from kinod.jobs.schema import ACTIVE, PASS_PREFIX, JobSpec, pass_key


class _Db:
    """What the mixins use of :class:`kinod.jobs.store.JobStore` (declared for type checkers)."""

    def tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    def _event(
        self,
        db: sqlite3.Connection,
        key: str,
        event: str,
        fingerprint: str | None,
        analyzer: str | None,
        owner: str | None,
        detail: str | None = None,
    ) -> None:
        raise NotImplementedError


class QueueStore(_Db):
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
                         0 AS gpu_mem_mb, '' AS version, '' AS config_hash, NULL AS model_sha256, c.parts, c.card
                    FROM passes p LEFT JOIN clips c ON c.fingerprint=p.fingerprint WHERE p.state='queued'
                  UNION ALL
                  SELECT 'model', j.key, j.fingerprint, j.path, j.analyzer, j.priority, j.card_rank, j.created,
                         j.attempts, j.options, j.cpu, j.gpu, j.gpu_mem_mb, j.version, j.config_hash,
                         j.model_sha256, c.parts, c.card
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
