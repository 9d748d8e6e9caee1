"""Semantic search: MiniLM vectors of transcripts, descriptions and scene summaries.

Optional (``[search] semantic = true``): when on, each clip's transcript segments,
shot descriptions and scene summaries get a 384-d unit vector (float16, 768 bytes) in
the ``vectors`` table beside their FTS rows, computed as the clip is indexed. A query is
embedded once and compared with every stored vector by one matrix product; the
matrix is read from SQLite once per process and reread only when the table changed,
so a warm server answers from memory. Semantic and keyword hits are ranked together by
reciprocal rank fusion, which needs no calibration between bm25 and cosine scores.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kinod.library.index.extract import ClipDoc

#: Entry kinds that get a vector: what people describe in their own words.
SEMANTIC_KINDS = frozenset({"words", "scene", "description"})
#: Cosine similarity below which a semantic neighbour is not a hit: about where unrelated
#: texts lie (their mean + 1.5 sd over the benchmark library is 0.15), low enough that a
#: speech found by the situation it was given in ("a politician giving a speech" for
#: JFK's "ask not what your country...", 0.18) still comes back. Calibrated by
#: ``benchmarks/search.py`` on its labelled queries.
MIN_SIMILARITY = 0.15
#: At or above this, a semantic hit is a confident one; below it the hit is shown as weak.
#: The benchmark's best trade-off of recall@10 + MRR against hits for queries that nothing
#: in the library answers (0.35: recall@10 0.92, MRR 0.87, 2 of 10 such queries with a hit).
CONFIDENT_SIMILARITY = 0.35
RRF_K = 60.0

VECTORS_DDL = """
CREATE TABLE IF NOT EXISTS vectors(
    entry_id INTEGER PRIMARY KEY,
    clip_id INTEGER NOT NULL,
    vec BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS vectors_clip ON vectors(clip_id);
"""


def attach_vectors(doc: ClipDoc) -> int:
    """Embed the doc's semantic entries in place; returns how many got a vector."""
    from kinod.analyzers.text_embed import embed
    wanted = [e for e in doc.entries if e.kind in SEMANTIC_KINDS and e.text.strip()]
    if not wanted:
        return 0
    vecs = embed([e.text for e in wanted])
    for e, v in zip(wanted, vecs, strict=True):
        e.vector = v.astype(np.float16).tobytes()
    return len(wanted)


class _Matrix:
    """Every stored vector of one index file, in memory, with its entry ids."""

    def __init__(self) -> None:
        self.key: tuple[int, int, float] | None = None
        self.ids = np.zeros(0, dtype=np.int64)
        self.mat = np.zeros((0, 384), dtype=np.float32)


_CACHE: dict[Path, _Matrix] = {}
_LOCK = threading.Lock()


def _matrix(db: sqlite3.Connection, path: Path) -> _Matrix:
    # What changes when any clip is (re)indexed or dropped, read from indexes in microseconds
    # (a count(*) of the vectors table walks all of it on every query).
    newest = db.execute("SELECT coalesce(max(entry_id), 0) FROM vectors").fetchone()[0]
    clips = db.execute("SELECT count(*), coalesce(max(indexed_at), 0) FROM clips").fetchone()
    key = (int(newest), int(clips[0]), float(clips[1]))
    with _LOCK:
        m = _CACHE.setdefault(path, _Matrix())
        if m.key != key:
            rows = db.execute("SELECT entry_id, vec FROM vectors ORDER BY entry_id").fetchall()
            m.ids = np.array([r[0] for r in rows], dtype=np.int64)
            buf = b"".join(r[1] for r in rows)
            m.mat = np.frombuffer(buf, dtype=np.float16).reshape(len(rows), -1).astype(np.float32) if rows else (
                np.zeros((0, 384), dtype=np.float32))
            m.key = key
        return m


def nearest(db: sqlite3.Connection, path: Path, query: str, k: int,
            min_similarity: float = MIN_SIMILARITY) -> list[tuple[int, float]]:
    """(entry id, cosine similarity) of the ``k`` stored texts closest in meaning to ``query``.

    Only those at least ``min_similarity`` (the benchmark asks for all of them to calibrate).
    """
    from kinod.analyzers.text_embed import embed
    m = _matrix(db, path)
    if not len(m.ids) or not query.strip():
        return []
    q = embed([query[:2000]])[0]
    sims = m.mat @ q
    k = min(k, len(sims))
    top = np.argpartition(-sims, k - 1)[:k]
    top = top[np.argsort(-sims[top])]
    return [(int(m.ids[i]), float(sims[i])) for i in top if sims[i] >= min_similarity]


def fuse(keyword: Sequence[int], semantic: Sequence[int]) -> dict[int, float]:
    """Reciprocal rank fusion of two ranked lists of entry ids (higher is better)."""
    out: dict[int, float] = {}
    for ranked in (keyword, semantic):
        for rank, entry in enumerate(ranked):
            out[entry] = out.get(entry, 0.0) + 1.0 / (RRF_K + rank + 1)
    return out
