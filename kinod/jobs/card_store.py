"""The job store's cards: what the watcher handed on and how far each card got.

A mixin of :class:`kinod.jobs.store.JobStore`; card states are :class:`kinod.jobs.schema.CardState`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from kinod.jobs.queue_store import _Db


class CardStore(_Db):
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
