"""Queries: the user's words → safe FTS5 → hits with a time range, source TC and a snippet.

The query's parsing lives in :mod:`kinod.library.index.query` (every word quoted, so no
input is FTS5 syntax; quoted phrases); ``raw=True`` passes the query through for people
who want FTS5 operators; its syntax errors come back as :class:`SearchError`, never a
traceback.

Ranking is FTS5's bm25 (text weighs more than labels), plus a bonus when the words
appear as a phrase in a transcript, and the hit is narrowed to the matched words'
times so "ask not what your country" lands on the second it was said, not the start of
a 30-second segment. Words spread over several entries of one moment (said, shown,
tagged, on screen) are found by :mod:`kinod.library.index.moments`; hits rank closer
words first (a moment above a one-entry hit only when its words are closer), and hits
of one moment of a clip are reported once, with every source that matched.

Keyword search returns only keyword matches; hits close in meaning come only when
asked for (``semantic=True``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from kinod.library.index.db import IndexFileError, SearchIndex
from kinod.library.index.hits import (
    SNIPPET_CLOSE,
    SNIPPET_OPEN,
    Hit,
    make_snippet,
    narrow,
    plain_snippet,
    source_tc,
)
from kinod.library.index.moments import GAP_S, MOMENT_KINDS, find_moments
from kinod.library.index.query import MAX_RAW_CHARS, MAX_TERMS, fts_expression, query_tokens, units

__all__ = ["MAX_RAW_CHARS", "MAX_TERMS", "SNIPPET_CLOSE", "SNIPPET_OPEN", "Hit", "SearchError", "SearchFilters",
           "fts_expression", "make_snippet", "plain_snippet", "search"]

PHRASE_BONUS = 5.0
#: At most this many matches (the newest) are scored for one query; see _keyword.
MAX_RANKED = 20_000


class SearchError(ValueError):
    """A query that cannot run (bad --raw syntax, unreadable index, a bad filter); the message says why."""


@dataclass(frozen=True)
class SearchFilters:
    person: str | None = None
    tag: str | None = None
    category: str | None = None
    card: str | None = None
    since: str | None = None

    def any(self) -> bool:
        return any((self.person, self.tag, self.category, self.card, self.since))


def check_since(value: str | None) -> str | None:
    """The ``since`` filter as an ISO date; SearchError for anything that is not a date."""
    if not value or not value.strip():
        return None
    v = value.strip()
    try:
        if len(v) == 10:
            date.fromisoformat(v)
        else:
            datetime.fromisoformat(v)
    except ValueError:
        raise SearchError(f"--since {v[:40]!r} is not a date; use YYYY-MM-DD (e.g. 2026-01-31)") from None
    return v


_FACET_SQL = " AND c.id IN (SELECT clip_id FROM facets WHERE kind=? AND value=?)"
#: People are found by any part of their name ("obama" finds "Barack Obama"), case-insensitively.
_PERSON_SQL = " AND c.id IN (SELECT clip_id FROM facets WHERE kind='person' AND lower(value) LIKE ? ESCAPE '\\')"


def _like(value: str) -> str:
    v = value.strip().casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{v}%"


def _filters_sql(f: SearchFilters) -> tuple[str, list[Any]]:
    sql, args = "", []
    if f.person and f.person.strip():
        sql += _PERSON_SQL
        args.append(_like(f.person))
    for kind, value in (("tag", f.tag), ("category", f.category)):
        if value and value.strip():
            sql += _FACET_SQL
            args += [kind, value.strip().casefold()]
    if f.card and f.card.strip():
        sql += " AND (lower(c.card)=? OR c.folder=? OR c.folder LIKE ? ESCAPE '\\')"
        card = f.card.strip()
        pattern = "%/" + card.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        args += [card.casefold(), card, pattern]
    since = check_since(f.since)
    if since:
        sql += " AND c.recorded >= ?"
        args.append(since)
    return sql, args


_SELECT = (
    "SELECT e.id, e.kind, e.start_s, e.end_s, e.text, e.label, e.words, c.path, c.name, c.sidecar, c.card,"
    " c.fingerprint, c.keyframe, c.rate, c.start_tc_frames, c.drop_frame"
)


def search(
    index: SearchIndex,
    query: str,
    filters: SearchFilters | None = None,
    *,
    raw: bool = False,
    limit: int = 50,
    semantic: bool = False,
) -> list[Hit]:
    """Hits best first. An empty query with filters lists what the filters select.

    ``semantic``: also find transcript segments and descriptions close in meaning (needs
    vectors: ``[search] semantic = true`` when the clips were indexed), ranked together
    with the keyword hits. Without it, only keyword matches come back.
    """
    filters = filters or SearchFilters()
    limit = max(1, min(int(limit), 10_000))
    expr = fts_expression(query, raw)
    fsql, fargs = _filters_sql(filters)
    if expr is None and not (semantic and query.strip()):
        if not filters.any():
            return []
        return _browse(index, filters, fsql, fargs, limit)
    if semantic:
        return _fused(index, query, expr, fsql, fargs, raw, limit)
    hits = _keyword(index, expr, fsql, fargs, query, raw, limit * 2, show=limit * 2)
    if not raw:
        hits += _moments(index, query, fsql, fargs, limit)
    return one_per_moment(hits)[:limit]


def _moments(index: SearchIndex, query: str, fsql: str, fargs: list[Any], limit: int) -> list[Hit]:
    try:
        with index.connect() as db:
            return find_moments(db, units(query), fsql, fargs, limit)
    except (sqlite3.Error, IndexFileError) as e:
        raise SearchError(f"{index.path}: search failed: {e}") from None


def one_per_moment(hits: list[Hit]) -> list[Hit]:
    """Closest words first, then score; hits of one moment of a clip become the best of them, sources merged.

    A moment ranks above a one-entry hit only when its words are closer (whole seconds
    apart), never on a tie.
    """
    hits.sort(key=lambda h: (round(h.spread), h.kind == "moment", -h.score))
    kept: list[Hit] = []
    by_clip: dict[str, list[Hit]] = {}
    for h in hits:
        if not h.sources:
            h.sources = [h.kind]
        mergeable = h.kind == "moment" or (h.kind in MOMENT_KINDS and h.label != "slate")
        same = next((k for k in by_clip.get(h.path, []) if mergeable and _near(h, k)), None) if mergeable else None
        if same is not None:
            same.sources = sorted(set(same.sources) | set(h.sources))
            continue
        kept.append(h)
        if mergeable:
            by_clip.setdefault(h.path, []).append(h)
    return kept


def _near(a: Hit, b: Hit) -> bool:
    """Two hits of one moment: overlapping, or within a few seconds of each other."""
    return a.start_s <= b.end_s + GAP_S and b.start_s <= a.end_s + GAP_S


def _fused(
    index: SearchIndex, query: str, expr: str | None, fsql: str, fargs: list[Any], raw: bool, limit: int
) -> list[Hit]:
    """Keyword and semantic hits ranked together (reciprocal rank fusion)."""
    from kinod.library.index.semantic import CONFIDENT_SIMILARITY, fuse, nearest

    keyword = _keyword(index, expr, fsql, fargs, query, raw, limit * 2) if expr is not None else []
    try:
        with index.connect() as db:
            near = nearest(db, index.path, query, limit * 4)
            ids = [i for i, _ in near]
            rows = db.execute(
                f"{_SELECT}, 0.0 AS rank, e.text AS snip FROM entries e JOIN clips c ON c.id = e.clip_id"
                f" WHERE e.id IN ({','.join('?' * len(ids))}){fsql}",
                [*ids, *fargs],
            ).fetchall() if ids else []
    except (sqlite3.Error, IndexFileError) as e:
        raise SearchError(f"{index.path}: semantic search failed: {e}") from None
    except Exception as e:  # the embedder: a missing or wrong model package
        raise SearchError(f"semantic search unavailable: {e}") from None
    by_id = {r["id"]: r for r in rows}
    sims = dict(near)
    semantic_ids = [i for i in ids if i in by_id]
    scores = fuse([h.entry_id for h in keyword], semantic_ids)
    hits: dict[int, Hit] = {h.entry_id: h for h in keyword}
    for i in semantic_ids:
        if i not in hits:
            hits[i] = _hit(by_id[i], query_tokens(query, raw), finish=False)
            hits[i].snippet = by_id[i]["text"][:200]
            hits[i].sources = ["meaning"]
    out = []
    for i, h in hits.items():
        h.score = round(scores.get(i, 0.0) * 1000, 3)
        h.similarity = round(sims[i], 4) if i in sims else None
        h.weak = "meaning" in h.sources and sims.get(i, 0.0) < CONFIDENT_SIMILARITY
        out.append(h)
    out.sort(key=lambda h: -h.score)
    for h in out[:limit]:  # source TC only for the hits shown
        if h.entry_id in by_id and h.start_tc is None:
            _finish(h, by_id[h.entry_id])
    return out[:limit]


def _keyword(
    index: SearchIndex, expr: str, fsql: str, fargs: list[Any], query: str, raw: bool, limit: int,
    show: int | None = None,
) -> list[Hit]:
    """Keyword hits, best first.

    The ranking runs in a subquery that returns only row ids: SQLite computes every
    selected column for every match before it sorts, so fetching text (or calling
    snippet()) there costs seconds for a word that half the library contains.
    """
    join = " JOIN entries e ON e.id = entries_fts.rowid JOIN clips c ON c.id = e.clip_id" if fsql else ""
    sql = (
        f"WITH top AS (SELECT entries_fts.rowid AS rid, bm25(entries_fts, 1.0, 0.4) AS rank FROM entries_fts{join}"
        f" WHERE entries_fts MATCH ? AND entries_fts.rowid > ?{fsql} ORDER BY rank LIMIT ?)"
        f" {_SELECT}, top.rank AS rank, NULL AS snip"
        " FROM top JOIN entries e ON e.id = top.rid JOIN clips c ON c.id = e.clip_id ORDER BY top.rank"
    )
    try:
        with index.connect() as db:
            # A word in most of the library (the 'the' of a query) would have every match scored:
            # rank only the newest MAX_RANKED matches then (finding the cut-off is an index walk).
            cut = db.execute(
                "SELECT rowid FROM entries_fts WHERE entries_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                (expr, MAX_RANKED),
            ).fetchone()
            rows = db.execute(sql, [expr, cut[0] if cut else 0, *fargs, limit]).fetchall()
    except sqlite3.OperationalError as e:
        if raw:
            raise SearchError(
                f"query {query[:80]!r}: not valid FTS5 syntax ({e}); drop --raw to search the words"
            ) from None
        raise SearchError(f"{index.path}: search failed: {e}") from None
    except IndexFileError as e:
        raise SearchError(str(e)) from None
    qtok = query_tokens(query, raw)
    scored = sorted(((_hit(r, qtok, finish=False), r) for r in rows), key=lambda hr: -hr[0].score)
    shown = scored[: show or limit]
    for h, r in shown:  # the costly parts only for hits that are shown
        _finish(h, r)
        h.snippet = make_snippet(r["text"], qtok)
    return [h for h, _ in shown]


def _hit(r: sqlite3.Row, qtok: list[str], finish: bool = True) -> Hit:
    start, end = float(r["start_s"]), float(r["end_s"])
    score = -float(r["rank"])
    spread = 0.0
    narrowed = narrow(r["words"], qtok) if r["kind"] == "words" else None
    if narrowed is not None:
        start, end, phrase = narrowed
        if phrase and len(qtok) > 1:
            score += PHRASE_BONUS
        elif len(qtok) > 1:
            spread = end - start
    hit = Hit(
        path=r["path"], name=r["name"], sidecar=r["sidecar"], card=r["card"], kind=r["kind"],
        start_s=round(start, 3), end_s=round(end, 3), start_tc=None, end_tc=None,
        snippet=r["snip"] or r["text"][:200], score=round(score, 4), fingerprint=r["fingerprint"], label=r["label"],
        sources=[r["kind"]], keyframe=r["keyframe"], entry_id=int(r["id"]), spread=round(spread, 3),
    )
    if finish:
        _finish(hit, r)
    return hit


def _finish(hit: Hit, r: sqlite3.Row) -> None:
    hit.start_tc, hit.end_tc = source_tc(hit.start_s, r), source_tc(hit.end_s, r)


def _browse(index: SearchIndex, f: SearchFilters, fsql: str, fargs: list[Any], limit: int) -> list[Hit]:
    """Entries of the filtered kind (a person's appearances, a tag's shots), or whole clips."""
    kind, value = next(((k, v) for k, v in (("person", f.person), ("tag", f.tag), ("category", f.category)) if v),
                       ("clip", None))
    sql = f"{_SELECT}, 0.0 AS rank, e.text AS snip FROM entries e JOIN clips c ON c.id = e.clip_id WHERE e.kind=?"
    args: list[Any] = [kind]
    if value:
        sql += " AND (lower(e.text) LIKE ? ESCAPE '\\' OR lower(e.label) LIKE ? ESCAPE '\\')"
        args += [_like(value), _like(value)]
    sql += f"{fsql} ORDER BY c.recorded DESC, c.path, e.start_s LIMIT ?"
    try:
        with index.connect() as db:
            rows = db.execute(sql, [*args, *fargs, limit]).fetchall()
    except (sqlite3.Error, IndexFileError) as e:
        raise SearchError(f"{index.path}: search failed: {e}") from None
    return [_hit(r, []) for r in rows]
