"""The job store's cards: what the watcher handed on and how far each card got.

``store.cards`` of :class:`kinod.jobs.store.JobStore`, a plain repository over the one
connection (:class:`kinod.jobs.db.Db`); card states are :class:`kinod.jobs.schema.CardState`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kinod.jobs.db import Db


@dataclass(frozen=True)
class CardEta:
    """A card's clips counted, and the seconds left at the rate its clips have gone so far."""

    clips: int
    finished: int
    #: Clips with a task started: the last one started is clip ``started`` of ``clips``.
    started: int
    eta_s: float | None

    @property
    def position(self) -> int:
        """The number of the clip started last (clip 3 of 9)."""
        return min(self.clips, max(self.finished, self.started))


@dataclass(frozen=True)
class CardRecord:
    """A card as the card lifecycle (:mod:`kinod.run.cards`) reads it."""

    key: str
    path: str
    state: str
    last_error: str | None
    loose: bool
    #: The stored MHL verification (``Verification.to_record``), if it ran.
    verification: dict[str, Any] | None
    name: str | None = None
    root: str | None = None
    #: When the watcher first saw it, when it was ready, when it finished (epoch seconds).
    seen: float | None = None
    ready: float | None = None
    done: float | None = None
    clips: int = 0

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> CardRecord:
        ver = json.loads(r["verification"]) if r["verification"] else None
        return cls(
            r["key"], r["path"], r["state"], r["last_error"], bool(r["loose"]), ver,
            name=r["name"], root=r["root"], seen=r["seen"], ready=r["ready"], done=r["done"],
            clips=int(r["clips"] or 0),
        )  # fmt: skip


class CardRepo:
    """Card rows: upserted by the watcher and the card lifecycle, read by status, metrics, the UI."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def upsert(
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
        with self.db.tx() as db:
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

    def set_state(self, key: str, state: str) -> None:
        now = time.time()
        with self.db.tx() as db:
            db.execute(
                "UPDATE cards SET state=?, done=CASE WHEN ? IN ('done','failed') THEN ? ELSE done END, updated=?"
                " WHERE key=?",
                (state, state, now, now, key),
            )

    def files(self) -> dict[str, dict[str, tuple[int, int]]]:
        """Card key -> the file list handed on last time (seeds the watcher)."""
        out: dict[str, dict[str, tuple[int, int]]] = {}
        for r in self.db.query("SELECT key, files FROM cards WHERE files IS NOT NULL"):
            out[r["key"]] = {k: (int(v[0]), int(v[1])) for k, v in json.loads(r["files"]).items()}
        return out

    def rank(self, key: str) -> float:
        rows = self.db.query("SELECT ready FROM cards WHERE key=?", (key,))
        return float(rows[0]["ready"] or 0) if rows else 0.0

    def progress(self, card_path: str) -> dict[str, int]:
        rows = self.db.query(
            """SELECT c.state AS state, count(*) AS n FROM clip_paths p JOIN clips c ON c.fingerprint=p.fingerprint
                WHERE p.card_path=? GROUP BY c.state""",
            (card_path,),
        )
        return {r["state"]: r["n"] for r in rows}

    def eta(self, card_path: str, now: float | None = None) -> CardEta:
        """How far a card got and when it should be done, from the rate of its own work so far.

        Each of the card's tasks (a clip's pass, each model job) weighs its clip's duration.
        The rate is the weight finished over the time since the card's first task started,
        so it holds what work costs here (other jobs sharing the machine included); the ETA
        is the weight left at that rate. Tasks, not clips: the model analyzers run after
        every clip's pass, so no clip may finish until late while the work goes on. None
        until a task is done.
        """
        p = self.progress(card_path)
        total = sum(p.values())
        waiting = sum(p.get(s, 0) for s in ("new", "queued", "running"))
        rows = self.db.query(
            """SELECT min(e.at) AS first, count(DISTINCT e.fingerprint) AS started FROM job_events e
                JOIN clip_paths p ON e.fingerprint=p.fingerprint WHERE p.card_path=? AND e.event='started'""",
            (card_path,),
        )
        first, started = (rows[0]["first"], rows[0]["started"]) if rows else (None, 0)
        eta = None
        if first is not None and waiting:
            done, left = self._work(card_path)
            if done > 0:
                eta = ((now or time.time()) - first) / done * left
        return CardEta(total, total - waiting, started or 0, 0.0 if not waiting and total else eta)

    def _work(self, card_path: str) -> tuple[float, float]:
        """Seconds of footage of the card's tasks finished and still to run (a pass and each model job)."""
        rows = self.db.query(
            """SELECT t.state IN ('queued', 'running') AS left,
                      sum(coalesce(json_extract(c.probe, '$.duration_s'), 1.0)) AS seconds
                 FROM (SELECT fingerprint, state FROM passes
                       UNION ALL SELECT fingerprint, state FROM jobs WHERE kind='model') t
                 JOIN clips c ON c.fingerprint=t.fingerprint
                 JOIN clip_paths p ON p.fingerprint=t.fingerprint
                WHERE p.card_path=? GROUP BY 1""",
            (card_path,),
        )
        by = {bool(r["left"]): float(r["seconds"] or 0.0) for r in rows}
        return by.get(False, 0.0), by.get(True, 0.0)

    def cancelled_paths(self, card_path: str) -> list[str]:
        """Paths of the card's clips whose work was cancelled (a file that changed or went away)."""
        rows = self.db.query(
            """SELECT p.path AS path FROM clip_paths p JOIN clips c ON c.fingerprint=p.fingerprint
                WHERE p.card_path=? AND c.state='cancelled'""",
            (card_path,),
        )
        return [r["path"] for r in rows]

    def all(self) -> list[CardRecord]:
        """Every card, the most recently ready first."""
        rows = self.db.query("SELECT * FROM cards ORDER BY coalesce(ready, seen) DESC")
        return [CardRecord.from_row(r) for r in rows]

    def get(self, key: str) -> CardRecord | None:
        """A card's state as the lifecycle needs it, or None when it is not known."""
        rows = self.db.query("SELECT * FROM cards WHERE key=?", (key,))
        return CardRecord.from_row(rows[0]) if rows else None

    def key_at(self, card_path: str) -> str | None:
        """The key of the card at a folder (the most recently updated one)."""
        rows = self.db.query("SELECT key FROM cards WHERE path=? ORDER BY updated DESC LIMIT 1", (card_path,))
        return rows[0]["key"] if rows else None

    def keys_at(self, card_path: str) -> list[str]:
        return [r["key"] for r in self.db.query("SELECT key FROM cards WHERE path=?", (card_path,))]

    def sidecars(self, card_path: str) -> list[Path]:
        """The sidecars written for a card's clips (what its report and timelines are made of)."""
        rows = self.db.query(
            "SELECT sidecar FROM clip_paths WHERE card_path=? AND sidecar IS NOT NULL ORDER BY path", (card_path,)
        )
        return [Path(r["sidecar"]) for r in rows]

    def set_verification(self, key: str, verification: dict[str, Any] | None) -> None:
        """Keep a card's MHL verification (and recorded hashes) so a restart still reports it."""
        with self.db.tx() as db:
            db.execute(
                "UPDATE cards SET verification=?, updated=? WHERE key=?",
                (json.dumps(verification) if verification is not None else None, time.time(), key),
            )

    def states(self) -> dict[str, int]:
        return {r["state"]: r["n"] for r in self.db.query("SELECT state, count(*) AS n FROM cards GROUP BY state")}

    def reread_unreadable(self) -> int:
        """Cards that failed because files could not be read: settle them again (``kinod retry``)."""
        with self.db.tx() as db:
            return int(
                db.execute(
                    "UPDATE cards SET files=NULL, state='settling' WHERE last_error IS NOT NULL AND state='failed'"
                ).rowcount
            )

    def job_states(self, limit: int = 50, recent_s: float = 86400.0) -> list[tuple[str, str, int]]:
        """(card name, job state, count) for cards still busy or done in the last ``recent_s``."""
        since = time.time() - recent_s
        rows = self.db.query(
            """SELECT coalesce(cd.name, cd.path) AS card, j.state AS state, count(*) AS n
                 FROM cards cd JOIN clip_paths c ON c.card_path=cd.path JOIN jobs j ON j.fingerprint=c.fingerprint
                WHERE cd.key IN (SELECT key FROM cards WHERE state NOT IN ('done','failed') OR coalesce(done,0) > ?
                                 ORDER BY coalesce(ready, seen) DESC LIMIT ?)
                GROUP BY cd.key, j.state""",
            (since, limit),
        )
        return [(r["card"], r["state"], r["n"]) for r in rows]

    def busy(self, recent_s: float = 86400.0, limit: int = 50) -> list[dict[str, Any]]:
        """Cards still in work or finished in the last ``recent_s``, each with its own job and clip counts.

        Keyed by the card's folder, so a page can find the card's output folder; the
        counts are this card's only (a library page and the card page show the same).
        """
        since = time.time() - recent_s
        cards = self.db.query(
            """SELECT key, path, coalesce(name, path) AS name, root, state FROM cards
                WHERE state NOT IN ('done','failed') OR coalesce(done,0) > ?
                ORDER BY coalesce(ready, seen) DESC LIMIT ?""",
            (since, limit),
        )
        out = []
        for c in cards:
            jobs = self.db.query(
                """SELECT j.state AS state, count(*) AS n FROM clip_paths p JOIN jobs j ON j.fingerprint=p.fingerprint
                    WHERE p.card_path=? GROUP BY j.state""",
                (c["path"],),
            )
            out.append({"key": c["key"], "path": c["path"], "name": c["name"], "root": c["root"], "state": c["state"],
                        "jobs": {r["state"]: r["n"] for r in jobs}, "clips": self.progress(c["path"])})
        return out
