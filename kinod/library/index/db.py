"""The index file: schema, writes (one clip at a time, atomically) and the listings the UI reads.

One row per clip (keyed by the original's path, because the same content on two cards
is two places an editor can find it), one row per searchable entry with its time
range, an FTS5 table over the entries' text (external content, kept in step by
triggers), and facet rows (person, tag, category, card, speaker) for filters.

Connections are opened per use and the file is in WAL mode, so the daemon's writer
and any number of search/UI readers run side by side.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kinod.library.index.extract import ClipDoc, words_json
from kinod.library.index.semantic import VECTORS_DDL

INDEX_NAME = "search.sqlite"
SCHEMA_VERSION = "1"

_DDL = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS clips(
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    sidecar TEXT NOT NULL,
    folder TEXT NOT NULL,
    name TEXT NOT NULL,
    fingerprint TEXT,
    card TEXT,
    rate TEXT,
    start_tc_frames INTEGER NOT NULL DEFAULT 0,
    drop_frame INTEGER NOT NULL DEFAULT 0,
    duration_s REAL NOT NULL DEFAULT 0,
    recorded TEXT NOT NULL DEFAULT '',
    keyframe TEXT,
    problems INTEGER NOT NULL DEFAULT 0,
    sidecar_mtime REAL NOT NULL DEFAULT 0,
    indexed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS clips_folder ON clips(folder);
CREATE INDEX IF NOT EXISTS clips_sidecar ON clips(sidecar);
CREATE INDEX IF NOT EXISTS clips_recorded ON clips(recorded);
CREATE TABLE IF NOT EXISTS entries(
    id INTEGER PRIMARY KEY,
    clip_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    text TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    words TEXT
);
CREATE INDEX IF NOT EXISTS entries_clip ON entries(clip_id, kind);
CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5(
    text, label, content='entries', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS entries_ai AFTER INSERT ON entries BEGIN
    INSERT INTO entries_fts(rowid, text, label) VALUES (new.id, new.text, new.label);
END;
CREATE TRIGGER IF NOT EXISTS entries_ad AFTER DELETE ON entries BEGIN
    INSERT INTO entries_fts(entries_fts, rowid, text, label) VALUES ('delete', old.id, old.text, old.label);
END;
CREATE TABLE IF NOT EXISTS facets(
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    clip_id INTEGER NOT NULL,
    PRIMARY KEY(kind, value, clip_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS facets_clip ON facets(clip_id);
"""


#: Index files whose schema this process has created (the DDL runs once per file, not per clip).
_READY: set[Path] = set()


def person_name(text: str, pid: str) -> str:
    """A person entry's name: its text without the id (the text is "Name person-N", or the id alone)."""
    name = text.replace(pid, "").strip() if pid else text.strip()
    return name or pid


def index_path(state_dir: Path) -> Path:
    return Path(state_dir) / INDEX_NAME


class IndexFileError(RuntimeError):
    """The index file cannot be opened or written; the message names the file."""


class SearchIndex:
    """The search index at ``path``; cheap to create, opens a connection per ``connect()``."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if not readonly and (self.path not in _READY or not self.path.exists()):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.connect() as db:
                db.executescript(_DDL + VECTORS_DDL)
                db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            _READY.add(self.path)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        try:
            if self.readonly:
                db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10, check_same_thread=False)
            else:
                db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as e:
            raise IndexFileError(f"{self.path}: cannot open the search index: {e}") from None
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        finally:
            db.close()

    def exists(self) -> bool:
        return self.path.is_file()

    # Writes ------------------------------------------------------------------------------
    def upsert(self, doc: ClipDoc, sidecar_mtime: float = 0.0) -> int:
        """Replace everything indexed for ``doc.path`` with ``doc``; returns the number of entries."""
        with self.connect() as db:
            return self._upsert(db, doc, sidecar_mtime)

    def upsert_many(self, docs: Iterable[tuple[ClipDoc, float]], batch: int = 500) -> int:
        """Bulk form for rebuilds: one connection, one commit per ``batch`` clips (a commit costs a sync)."""
        n = 0
        with self.connect() as db:
            for doc, mtime in docs:
                self._upsert(db, doc, mtime)
                n += 1
                if n % batch == 0:
                    db.commit()
        return n

    def _upsert(self, db: sqlite3.Connection, doc: ClipDoc, sidecar_mtime: float) -> int:
        self._delete(db, "path", doc.path)
        cur = db.execute(
            "INSERT INTO clips(path, sidecar, folder, name, fingerprint, card, rate, start_tc_frames, drop_frame,"
            " duration_s, recorded, keyframe, problems, sidecar_mtime, indexed_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                doc.path, doc.sidecar, str(Path(doc.sidecar).parent), doc.name, doc.fingerprint, doc.card,
                doc.rate, doc.start_tc_frames, int(doc.drop_frame), doc.duration_s, doc.recorded, doc.keyframe,
                doc.problems, sidecar_mtime, time.time(),
            ),
        )
        clip_id = cur.lastrowid
        db.executemany(
            "INSERT INTO entries(clip_id, kind, start_s, end_s, text, label, words) VALUES (?,?,?,?,?,?,?)",
            [(clip_id, e.kind, e.start_s, e.end_s, e.text, e.label, words_json(e.words)) for e in doc.entries],
        )
        db.executemany(
            "INSERT OR IGNORE INTO facets(kind, value, clip_id) VALUES (?,?,?)",
            [(k, v, clip_id) for k, v in sorted(doc.facets)],
        )
        if any(e.vector for e in doc.entries):
            ids = [r[0] for r in db.execute("SELECT id FROM entries WHERE clip_id=? ORDER BY id", (clip_id,))]
            db.executemany(
                "INSERT INTO vectors(entry_id, clip_id, vec) VALUES (?,?,?)",
                [(i, clip_id, e.vector) for i, e in zip(ids, doc.entries, strict=True) if e.vector],
            )
        return len(doc.entries)

    def forget(self, *, path: str | None = None, sidecar: str | None = None) -> int:
        """Drop a clip by its original's path or its sidecar's path; returns how many clips went."""
        with self.connect() as db:
            if path is not None:
                return self._delete(db, "path", path)
            if sidecar is not None:
                return self._delete(db, "sidecar", sidecar)
        return 0

    @staticmethod
    def _delete(db: sqlite3.Connection, column: str, value: str) -> int:
        ids = [r[0] for r in db.execute(f"SELECT id FROM clips WHERE {column}=?", (value,))]
        for clip_id in ids:
            db.execute("DELETE FROM entries WHERE clip_id=?", (clip_id,))
            db.execute("DELETE FROM facets WHERE clip_id=?", (clip_id,))
            db.execute("DELETE FROM vectors WHERE clip_id=?", (clip_id,))
            db.execute("DELETE FROM clips WHERE id=?", (clip_id,))
        return len(ids)

    def clear(self) -> None:
        with self.connect() as db:
            db.execute("DELETE FROM entries")
            db.execute("DELETE FROM facets")
            db.execute("DELETE FROM vectors")
            db.execute("DELETE FROM clips")
            db.execute("INSERT INTO entries_fts(entries_fts) VALUES ('rebuild')")

    def optimize(self) -> None:
        with self.connect() as db:
            db.execute("INSERT INTO entries_fts(entries_fts) VALUES ('optimize')")

    # Reads -------------------------------------------------------------------------------
    def sidecar_mtimes(self) -> dict[str, float]:
        with self.connect() as db:
            return {r["sidecar"]: r["sidecar_mtime"] for r in db.execute("SELECT sidecar, sidecar_mtime FROM clips")}

    def folders(self) -> list[dict[str, Any]]:
        """One row per output folder (a card): clip count, duration, problems, a keyframe."""
        with self.connect() as db:
            rows = db.execute(
                "SELECT folder, count(*) AS clips, sum(duration_s) AS duration_s, sum(problems) AS problems,"
                " max(card) AS card, max(indexed_at) AS indexed_at FROM clips GROUP BY folder"
                " ORDER BY sum(problems) > 0 DESC, max(indexed_at) DESC"
            ).fetchall()
            return [dict(r) for r in rows]

    def folder_details(self) -> dict[str, dict[str, Any]]:
        """Per output folder: first and last recording date, a poster keyframe (and its clip's sidecar), people."""
        out: dict[str, dict[str, Any]] = {}
        with self.connect() as db:
            for r in db.execute(
                "SELECT folder, min(nullif(recorded, '')) AS first, max(nullif(recorded, '')) AS last FROM clips"
                " GROUP BY folder"
            ):
                out[r["folder"]] = {"first": r["first"], "last": r["last"], "poster": None, "poster_sidecar": None,
                                    "people": []}
            for r in db.execute(
                "SELECT folder, name, keyframe, sidecar FROM clips WHERE keyframe IS NOT NULL ORDER BY name DESC"
            ):
                # A bare file name is a thumbnail in the clip's keyframes folder (as the shots analyzer writes it).
                rel = r["keyframe"] if "/" in r["keyframe"] else f"keyframes/{r['name']}/{r['keyframe']}"
                out[r["folder"]].update(poster=rel, poster_sidecar=r["sidecar"])
            for r in db.execute(
                "SELECT DISTINCT c.folder AS folder, e.text AS text, e.label AS pid FROM entries e"
                " JOIN clips c ON c.id = e.clip_id WHERE e.kind='person' ORDER BY e.text"
            ):
                out[r["folder"]]["people"].append(person_name(r["text"], r["pid"]))
        for d in out.values():
            d["people"] = list(dict.fromkeys(d["people"]))
        return out

    def people(self) -> list[dict[str, Any]]:
        """Everyone on screen in the library: name (or id), id, clips, and a clip that shows them (for a face)."""
        with self.connect() as db:
            rows = db.execute(
                "SELECT e.label AS pid, e.text AS text, count(DISTINCT e.clip_id) AS clips, max(c.sidecar) AS sidecar"
                " FROM entries e JOIN clips c ON c.id = e.clip_id WHERE e.kind='person'"
                " GROUP BY e.label, e.text ORDER BY clips DESC, e.text"
            ).fetchall()
        return [{"id": r["pid"], "name": person_name(r["text"], r["pid"]), "clips": r["clips"],
                 "sidecar": r["sidecar"]} for r in rows]

    def facet_values(self, limit: int = 40) -> dict[str, list[tuple[str, int]]]:
        """The filter values that exist (tags, categories, cards), most clips first."""
        out: dict[str, list[tuple[str, int]]] = {}
        with self.connect() as db:
            for kind in ("tag", "category"):
                rows = db.execute(
                    "SELECT value, count(*) AS n FROM facets WHERE kind=? GROUP BY value ORDER BY n DESC, value"
                    " LIMIT ?", (kind, limit),
                ).fetchall()
                out[kind] = [(r["value"], r["n"]) for r in rows]
            rows = db.execute(  # cards as they are spelled (the facet is case-folded)
                "SELECT card, count(*) AS n FROM clips WHERE card IS NOT NULL GROUP BY card ORDER BY card LIMIT ?",
                (limit,),
            ).fetchall()
            out["card"] = [(r["card"], r["n"]) for r in rows]
            first, last = db.execute(
                "SELECT min(nullif(recorded, '')), max(nullif(recorded, '')) FROM clips"
            ).fetchone()
        out["dates"] = [(d[:10], 0) for d in (first, last) if d]
        return out

    def clips_in(self, folder: str) -> list[dict[str, Any]]:
        with self.connect() as db:
            rows = db.execute(
                "SELECT * FROM clips WHERE folder=? ORDER BY problems > 0 DESC, name", (folder,)
            ).fetchall()
            return [dict(r) for r in rows]

    def clip_by_sidecar(self, sidecar: str) -> dict[str, Any] | None:
        with self.connect() as db:
            row = db.execute("SELECT * FROM clips WHERE sidecar=?", (sidecar,)).fetchone()
            return dict(row) if row else None

    def stats(self) -> dict[str, int]:
        with self.connect() as db:
            clips = db.execute("SELECT count(*) FROM clips").fetchone()[0]
            entries = db.execute("SELECT count(*) FROM entries").fetchone()[0]
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {"clips": clips, "entries": entries, "bytes": size}
