"""What one transition of a job or pass writes: the rows it moves, in the caller's transaction.

:class:`kinod.jobs.queue_store.QueueRepo` opens the transaction; these functions are
the writes inside it (queueing a job, giving back held work, an outcome), kept apart so
the queue's API reads on its own page and the bookkeeping of one transition (job row,
pass row, event, clip facts) reads on this one.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from kinod.jobs.db import event
from kinod.jobs.schema import JobSpec, pass_key


def record_pass(
    db: sqlite3.Connection,
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
    """Write a pass's outcome: its own state, each stream job it carried, the clip facts it learnt.

    ``records``/``failures`` map analyzer -> (job key, record | message). ``state``
    is ``done``, ``failed`` (for good), ``queued`` (another attempt) or ``cancelled``.
    """
    now = time.time()
    key = pass_key(fingerprint)
    dec = "" if count_attempt else ", attempts=max(attempts-1, 0)"
    db.execute(
        f"""UPDATE passes SET state=?, last_error=?, note=coalesce(?, note), lease_owner=NULL,
              lease_until=NULL, finished=?, updated=?{dec} WHERE fingerprint=?""",
        (state, error, note, now, now, fingerprint),
    )
    event(
        db,
        key,
        "done" if state == "done" else ("requeued" if state == "queued" else state),
        fingerprint,
        "pass",
        owner,
        error or note,
    )
    for jkey, rec in records.values():
        set_job(db, jkey, "done", None, owner, record=rec)
    for jkey, msg in failures.values():
        set_job(db, jkey, "failed" if state != "cancelled" else "cancelled", msg, owner)
    # Stream jobs the pass held but did not report (it failed or was stopped) follow the pass.
    follow = "queued" if state == "queued" else state
    rest = list(
        db.execute(
            "SELECT key FROM jobs WHERE fingerprint=? AND kind='stream' AND state='running' AND lease_owner=?",
            (fingerprint, owner),
        )
    )
    for r in rest:
        set_job(
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
        if isinstance(clip.get("probe"), dict):
            sets.append("duration_s=?")
            args.append(clip["probe"].get("duration_s"))
        if clip.get("cache"):
            sets.append("cache='ready'")
        db.execute(f"UPDATE clips SET {', '.join(sets)} WHERE fingerprint=?", (*args, fingerprint))
    if state in ("failed", "cancelled"):
        # Model jobs cannot run without the cache this pass should have left.
        reason = f"no analysis cache: {error}" if state == "failed" else (error or "cancelled")
        for r in db.execute(
            "SELECT key FROM jobs WHERE fingerprint=? AND kind='model' AND state='queued'", (fingerprint,)
        ).fetchall():
            set_job(db, r["key"], state, reason, owner)


def set_job(
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
    """Move one job to ``state`` (its record, options and note kept unless given) and log it."""
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
    what = "requeued" if state == "queued" else state
    event(
        db, key, what, row["fingerprint"] if row else None, row["analyzer"] if row else None, owner, error or note
    )


def cancel_queued(db: sqlite3.Connection, fps: list[str], reason: str) -> list[str]:
    """Cancel queued work of these clips (running work is stopped by its executor first)."""
    marks = ",".join("?" * len(fps))
    now = time.time()
    out: list[str] = []
    for r in db.execute(f"SELECT key FROM jobs WHERE state='queued' AND fingerprint IN ({marks})", fps).fetchall():
        set_job(db, r["key"], "cancelled", reason, None)
        out.append(r["key"])
    for r in db.execute(
        f"SELECT fingerprint FROM passes WHERE state='queued' AND fingerprint IN ({marks})", fps
    ).fetchall():
        db.execute(
            "UPDATE passes SET state='cancelled', last_error=?, updated=? WHERE fingerprint=?",
            (reason, now, r["fingerprint"]),
        )
        event(db, pass_key(r["fingerprint"]), "cancelled", r["fingerprint"], "pass", None, reason)
        out.append(pass_key(r["fingerprint"]))
    return out


def reset_failed(db: sqlite3.Connection, fingerprint: str) -> int:
    """Failed jobs of a clip become cancelled (so planning queues them again with fresh attempts)."""
    n = 0
    for r in db.execute("SELECT key FROM jobs WHERE fingerprint=? AND state='failed'", (fingerprint,)).fetchall():
        set_job(db, r["key"], "cancelled", "retry requested", "kinod retry")
        n += 1
    db.execute("UPDATE passes SET state='cancelled' WHERE fingerprint=? AND state='failed'", (fingerprint,))
    return n


def queue_job(db: sqlite3.Connection, s: JobSpec, *, card_rank: float, force: bool, now: float) -> bool:
    """Queue one job unless it is queued, running, done or failed (the last two come back with ``force``)."""
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
        return True
    if row["state"] == "cancelled" or (force and row["state"] in ("done", "failed")):
        db.execute(
            """UPDATE jobs SET state='queued', attempts=0, last_error=NULL, options=NULL, note=NULL, path=?,
                 priority=?, kind=?, cpu=?, gpu=?, gpu_mem_mb=?, card_rank=?, queued_at=?, updated=?,
                 lease_owner=NULL, lease_until=NULL WHERE key=?""",
            (s.path, s.priority, s.kind, s.cpu, s.gpu, s.gpu_mem_mb, card_rank, now, now, s.key),
        )
        return True
    return False


def requeue_held(
    db: sqlite3.Connection,
    where: str,
    args: list[Any],
    max_attempts: int | None,
    reason: str,
    count_attempt: bool,
) -> list[str]:
    """Running passes and jobs matching ``where`` go back to the queue (or fail, out of attempts)."""
    now = time.time()
    back: list[str] = []
    for table in ("passes", "jobs"):
        keycol = "'pass:' || fingerprint" if table == "passes" else "key"
        rows = list(
            db.execute(f"SELECT {keycol} AS key, fingerprint, attempts, lease_owner FROM {table} WHERE {where}", args)
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
            event(db, r["key"], "failed" if give_up else "requeued", r["fingerprint"], None, r["lease_owner"], err)
            back.append(r["key"])
    return back
