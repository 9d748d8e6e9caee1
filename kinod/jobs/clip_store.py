"""The job store's clips: one row per content fingerprint, and every place it was found.

``store.clips`` of :class:`kinod.jobs.store.JobStore`, a plain repository over the one
connection (:class:`kinod.jobs.db.Db`). A clip reads back as a
:class:`~kinod.jobs.clip_record.ClipRecord`, a place as a
:class:`~kinod.jobs.clip_record.PathRecord`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from kinod.jobs.clip_record import ClipRecord, PathRecord
from kinod.jobs.db import Db, like_prefix
from kinod.media.cards.model import ClipFiles


class ClipRepo:
    """Clip rows (``clips``) and the places each was found (``clip_paths``)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def upsert(
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
        with self.db.tx() as db:
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

    def get(self, fingerprint: str) -> ClipRecord | None:
        rows = self.db.query("SELECT * FROM clips WHERE fingerprint=?", (fingerprint,))
        return ClipRecord.from_row(rows[0]) if rows else None

    def by_path(self, path: str) -> ClipRecord | None:
        """The clip found at ``path``, with that place's own record (``at``: size, mtime, card)."""
        rows = self.db.query(
            """SELECT c.*, p.path AS path_at, p.size AS path_size, p.mtime_ns AS path_mtime_ns,
                      p.out_dir AS path_out_dir, p.card AS path_card, p.card_path AS path_card_path
                 FROM clip_paths p JOIN clips c ON c.fingerprint=p.fingerprint WHERE p.path=?""",
            (path,),
        )
        return ClipRecord.from_row(rows[0]) if rows else None

    def paths_of(self, fingerprint: str) -> list[PathRecord]:
        """Every place this content was found, the most recently seen first."""
        rows = self.db.query("SELECT * FROM clip_paths WHERE fingerprint=? ORDER BY updated DESC", (fingerprint,))
        return [PathRecord.from_row(r) for r in rows]

    def set_path_sidecar(self, path: str, sidecar: str | None) -> None:
        with self.db.tx() as db:
            db.execute("UPDATE clip_paths SET sidecar=?, updated=? WHERE path=?", (sidecar, time.time(), path))

    def drop_path(self, path: str) -> None:
        with self.db.tx() as db:
            db.execute("DELETE FROM clip_paths WHERE path=?", (path,))

    def set_state(self, fingerprint: str, state: str, error: str | None = None, **cols: Any) -> None:
        allowed = {"sidecar", "probe", "decode", "errors", "cache", "out_dir", "path"}
        sets, args = ["state=?", "last_error=?", "updated=?"], [state, error, time.time()]
        for k, v in cols.items():
            if k not in allowed:
                raise ValueError(f"unknown clip column {k}")
            sets.append(f"{k}=?")
            args.append(json.dumps(v) if k in ("probe", "decode", "errors") and v is not None else v)
            if k == "probe":
                sets.append("duration_s=?")
                args.append(v.get("duration_s") if isinstance(v, dict) else None)
        with self.db.tx() as db:
            db.execute(f"UPDATE clips SET {', '.join(sets)} WHERE fingerprint=?", (*args, fingerprint))

    def states(self) -> dict[str, int]:
        return {r["state"]: r["n"] for r in self.db.query("SELECT state, count(*) AS n FROM clips GROUP BY state")}

    # Maintenance (kinod retry / forget) -----------------------------------------------------
    def failed(self, under: str | None = None) -> list[ClipRecord]:
        sql = """SELECT DISTINCT c.* FROM clips c WHERE (c.state='failed'
                   OR EXISTS (SELECT 1 FROM jobs j WHERE j.fingerprint=c.fingerprint AND j.state='failed')
                   OR EXISTS (SELECT 1 FROM passes p WHERE p.fingerprint=c.fingerprint AND p.state='failed'))"""
        args: list[Any] = []
        if under:
            sql += " AND (c.path=? OR c.path LIKE ? ESCAPE '\\')"
            args += [under, like_prefix(under)]
        return [ClipRecord.from_row(r) for r in self.db.query(sql, args)]

    def forget(self, path: str) -> dict[str, int]:
        """Drop every record of clips at or below ``path`` and of cards there; outputs stay.

        Content also found elsewhere (a copy on another card) keeps its results.
        """
        prefix = like_prefix(path)
        with self.db.tx() as db:
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

    def unfinished(self) -> list[str]:
        """Clips whose work ended but whose sidecar was never written (a crash in between)."""
        rows = self.db.query(
            "SELECT fingerprint FROM clips WHERE state IN ('new','queued','running')"
            " AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.fingerprint=clips.fingerprint AND j.state IN"
            " ('queued','running')) AND NOT EXISTS (SELECT 1 FROM passes p WHERE p.fingerprint=clips.fingerprint"
            " AND p.state IN ('queued','running'))"
        )
        return [r["fingerprint"] for r in rows]

    def known(self) -> list[ClipRecord]:
        """Every clip that may need planning again after a config change."""
        rows = self.db.query("SELECT * FROM clips WHERE state NOT IN ('missing','cancelled','replaced')")
        return [ClipRecord.from_row(r) for r in rows]

    def path_sidecar(self, path: str) -> str | None:
        """The sidecar last written for the clip at ``path`` (None: none yet)."""
        rows = self.db.query("SELECT sidecar FROM clip_paths WHERE path=?", (path,))
        return rows[0]["sidecar"] if rows else None

    def fingerprints_under(self, target: str) -> list[str]:
        """Content fingerprints of every clip path at or below ``target`` (or of the card there)."""
        rows = self.db.query(
            "SELECT DISTINCT fingerprint FROM clip_paths WHERE path=? OR path LIKE ? OR card_path=?",
            (target, target + "/%", target),
        )
        return [r["fingerprint"] for r in rows]
