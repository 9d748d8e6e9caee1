"""The job store's queue: planning jobs and passes, leasing them, recording their outcomes.

``store.queue`` of :class:`kinod.jobs.store.JobStore`: a plain repository over the one
connection (:class:`kinod.jobs.db.Db`). The states it moves jobs and passes through
are :class:`kinod.jobs.schema.JobState`; the writes of an outcome are in
:mod:`kinod.jobs.queue_writes`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from kinod.jobs import queue_writes
from kinod.jobs.db import Db, event
from kinod.jobs.rows import ClaimedJob, FailedTask, JobRow, QueuedTask
from kinod.jobs.schema import ACTIVE, PASS_PREFIX, JobSpec, pass_key


class QueueRepo:
    """Jobs and passes: what is planned, what runs under whose lease, how it ended."""

    def __init__(self, db: Db) -> None:
        self.db = db

    # Jobs: planning --------------------------------------------------------------------
    def done_records(self, keys: dict[str, str]) -> dict[str, dict[str, Any]]:
        """For analyzer -> key, the stored analysis records of the keys that are done."""
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        sql = f"SELECT key, record FROM jobs WHERE state='done' AND key IN ({marks})"
        rows = self.db.query(sql, tuple(keys.values()))
        by_key = {r["key"]: r["record"] for r in rows}
        return {name: json.loads(by_key[k]) for name, k in keys.items() if by_key.get(k)}

    def job_states(self, keys: Iterable[str]) -> dict[str, str]:
        keys = list(keys)
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        rows = self.db.query(f"SELECT key, state FROM jobs WHERE key IN ({marks})", keys)
        return {r["key"]: r["state"] for r in rows}

    def enqueue(
        self, specs: Sequence[JobSpec], *, card_rank: float = 0.0, force: bool = False, owner: str | None = None
    ) -> list[str]:
        """Queue jobs that are not done (or all of them with ``force``); returns the keys queued.

        Queued and running jobs are left alone (enqueueing twice is harmless); cancelled
        ones come back; failed ones only with ``force`` (else ``kinod retry``).
        """
        now = time.time()
        queued: list[str] = []
        with self.db.tx() as db:
            for s in specs:
                if queue_writes.queue_job(db, s, card_rank=card_rank, force=force, now=now):
                    queued.append(s.key)
                    event(db, s.key, "queued", s.fingerprint, s.analyzer, owner)
        return queued

    def enqueue_pass(
        self, fingerprint: str, path: str, *, priority: int = 0, cpu: int = 1, card_rank: float = 0.0
    ) -> bool:
        """Make sure a pass is queued or running for this clip; True if one was queued now."""
        now = time.time()
        with self.db.tx() as db:
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
            event(db, pass_key(fingerprint), "queued", fingerprint, "pass")
        return True

    # Jobs: the queue -------------------------------------------------------------------
    def next_tasks(
        self,
        limit: int,
        *,
        newest_first: bool,
        exclude: Iterable[str] = (),
        fingerprints: Iterable[str] | None = None,
    ) -> list[QueuedTask]:
        """The best ``limit`` runnable tasks: queued passes, and queued model jobs whose cache is ready.

        Order: passes first, then card (newest or oldest first). Passes keep their arrival
        order. Model jobs go clip by clip, the longest clip first, and by priority within a
        clip (a job before the jobs that read its result). Clip by clip, each clip's sidecar
        lands as soon as its own jobs are done rather than all at the end of the card.
        Longest first keeps both cores busy to the end: a long clip's faces or speech job
        started last would run alone while the other slot has nothing left to do.
        """
        order = "DESC" if newest_first else "ASC"
        excluded = set(exclude)
        scope, args = "", []
        if fingerprints is not None:
            fps = list(fingerprints)
            scope = f" WHERE fingerprint IN ({','.join('?' * len(fps))})"
            args = fps
        rows = self.db.query(
            f"""SELECT * FROM (
                  SELECT 'pass' AS kind, 'pass:' || p.fingerprint AS key, p.fingerprint, p.path, 'pass' AS analyzer,
                         p.priority, p.card_rank, p.created, p.attempts, NULL AS options, p.cpu, 0 AS gpu,
                         0 AS gpu_mem_mb, '' AS version, '' AS config_hash, NULL AS model_sha256, c.parts, c.card,
                         0.0 AS duration_s
                    FROM passes p LEFT JOIN clips c ON c.fingerprint=p.fingerprint WHERE p.state='queued'
                  UNION ALL
                  SELECT 'model', j.key, j.fingerprint, j.path, j.analyzer, j.priority, j.card_rank, j.created,
                         j.attempts, j.options, j.cpu, j.gpu, j.gpu_mem_mb, j.version, j.config_hash,
                         j.model_sha256, c.parts, c.card, coalesce(c.duration_s, 0.0)
                    FROM jobs j JOIN clips c ON c.fingerprint=j.fingerprint
                   WHERE j.state='queued' AND j.kind='model' AND c.cache='ready'){scope}
                ORDER BY kind = 'model', card_rank {order}, duration_s DESC,
                         CASE WHEN kind = 'model' THEN fingerprint ELSE '' END, priority ASC, created ASC
                LIMIT ?""",
            (*args, limit + len(excluded)),
        )
        return [QueuedTask.from_row(r) for r in rows if r["key"] not in excluded][:limit]

    def claim(self, key: str, owner: str, lease_seconds: float) -> list[ClaimedJob] | None:
        """Take a queued task under a lease. Returns the job rows it covers, or None if it was not queued.

        A pass covers the clip's queued stream jobs (they run inside it); a model task
        covers its own job row.
        """
        now = time.time()
        until = now + lease_seconds
        with self.db.tx() as db:
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
                return [ClaimedJob(r["key"], r["analyzer"]) for r in rows]
            row = db.execute(
                """UPDATE jobs SET state='running', lease_owner=?, lease_until=?, attempts=attempts+1, started=?,
                     updated=? WHERE key=? AND state='queued' RETURNING key, fingerprint, analyzer""",
                (owner, until, now, now, key),
            ).fetchone()
            if row is None:
                return None
            event(db, key, "started", row["fingerprint"], row["analyzer"], owner)
            return [ClaimedJob(row["key"], row["analyzer"])]

    def needs_cache(self, fingerprint: str) -> bool:
        """True when model jobs of this clip wait and its analysis cache is not ready."""
        rows = self.db.query(
            """SELECT EXISTS (SELECT 1 FROM jobs WHERE fingerprint=? AND kind='model' AND state IN ('queued','running'))
                      AND coalesce((SELECT cache FROM clips WHERE fingerprint=?), 'none') <> 'ready' AS need""",
            (fingerprint, fingerprint),
        )
        return bool(rows[0]["need"])

    def heartbeat(self, owner: str, lease_seconds: float) -> int:
        """Renew every lease this owner holds; returns how many rows it touched."""
        until = time.time() + lease_seconds
        with self.db.tx() as db:
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
        with self.db.tx() as db:
            return queue_writes.requeue_held(db, where, args, max_attempts, reason, count_attempt)

    def adopt_leases(self, keys: Iterable[str], owner: str, lease_seconds: float) -> set[str]:
        """Move running leases of ``keys`` (job keys or ``pass:<fp>``) to ``owner``; returns those moved.

        Work sent to remote workers keeps running when the coordinator dies; the next
        coordinator takes it over (and collects its results) instead of running it again.
        """
        until = time.time() + lease_seconds
        moved: set[str] = set()
        with self.db.tx() as db:
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

    def running_owners(self) -> set[str]:
        rows = self.db.query(
            "SELECT DISTINCT lease_owner FROM jobs WHERE state='running' UNION "
            "SELECT DISTINCT lease_owner FROM passes WHERE state='running'"
        )
        return {r["lease_owner"] for r in rows if r["lease_owner"]}

    def set_pass_progress(self, fingerprint: str, frames_done: int) -> None:
        """How far a running pass has decoded (written a few times a second at most)."""
        with self.db.tx() as db:
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
        with self.db.tx() as db:
            queue_writes.record_pass(
                db,
                fingerprint,
                owner,
                state=state,
                error=error,
                records=records,
                failures=failures,
                clip=clip,
                note=note,
                count_attempt=count_attempt,
            )

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
        with self.db.tx() as db:
            queue_writes.set_job(
                db, key, state, error, owner, record=record, options=options, note=note, count_attempt=count_attempt
            )

    def cancel_fingerprints(self, fingerprints: Iterable[str], reason: str) -> list[str]:
        """Cancel queued work of these clips (running work is stopped by its executor first)."""
        fps = list(fingerprints)
        if not fps:
            return []
        with self.db.tx() as db:
            return queue_writes.cancel_queued(db, fps, reason)

    def reset_failed(self, fingerprint: str) -> int:
        """Failed jobs of a clip become cancelled (so planning queues them again with fresh attempts)."""
        with self.db.tx() as db:
            return queue_writes.reset_failed(db, fingerprint)

    def is_settled(self, fingerprint: str) -> bool:
        """True when nothing of this clip is queued or running (time to write its sidecar)."""
        rows = self.db.query(
            """SELECT (SELECT count(*) FROM jobs WHERE fingerprint=? AND state IN ('queued','running'))
                    + (SELECT count(*) FROM passes WHERE fingerprint=? AND state IN ('queued','running')) AS n""",
            (fingerprint, fingerprint),
        )
        return int(rows[0]["n"]) == 0

    def jobs_of(self, fingerprint: str) -> list[JobRow]:
        rows = self.db.query("SELECT * FROM jobs WHERE fingerprint=? ORDER BY kind, analyzer", (fingerprint,))
        return [JobRow.from_row(r) for r in rows]

    def replace_record(self, key: str, record: dict[str, Any]) -> None:
        """Rewrite a done job's stored record (a person named or forgotten after the analysis)."""
        with self.db.tx() as db:
            db.execute("UPDATE jobs SET record=? WHERE key=? AND state='done'", (json.dumps(record), key))

    # Reporting ----------------------------------------------------------------------------
    def counts(self) -> dict[tuple[str, str], int]:
        """(analyzer, state) -> jobs; passes count as analyzer ``pass``."""
        rows = self.db.query("SELECT analyzer, state, count(*) AS n FROM jobs GROUP BY analyzer, state")
        out = {(r["analyzer"], r["state"]): r["n"] for r in rows}
        for r in self.db.query("SELECT state, count(*) AS n FROM passes GROUP BY state"):
            out[("pass", r["state"])] = r["n"]
        return out

    def oldest_queued_age(self, now: float | None = None) -> float:
        rows = self.db.query(
            """SELECT min(t) AS t FROM (SELECT min(coalesce(queued_at, created)) AS t FROM jobs WHERE state='queued'
                                        UNION ALL SELECT min(updated) FROM passes WHERE state='queued')"""
        )
        t = rows[0]["t"] if rows else None
        return max(0.0, (now or time.time()) - t) if t else 0.0

    def pass_error(self, fingerprint: str) -> str | None:
        rows = self.db.query("SELECT last_error FROM passes WHERE fingerprint=?", (fingerprint,))
        return rows[0]["last_error"] if rows else None

    def failed_tasks(self, limit: int) -> list[FailedTask]:
        """Failed jobs and passes (analyzer, path, last_error, attempts), for ``kinod status``."""
        rows = self.db.query(
            """SELECT j.analyzer, j.path, j.last_error, j.attempts FROM jobs j WHERE j.state='failed'
               UNION ALL SELECT 'pass', p.path, p.last_error, p.attempts FROM passes p WHERE p.state='failed'
               LIMIT ?""",
            (limit,),
        )
        return [FailedTask(r["analyzer"], r["path"], r["last_error"], r["attempts"]) for r in rows]
