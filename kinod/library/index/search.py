"""Queries: the user's words → safe FTS5 → hits with a time range, source TC and a snippet.

The user types words, not FTS5 syntax: every word is quoted, so ``"``, ``*``, ``NEAR``,
``-`` and ``:`` are taken literally (as the tokenizer would split them) and no input can
make SQLite raise a syntax error. ``raw=True`` passes the query through for people who
want FTS5 operators; its syntax errors come back as :class:`SearchError`, never a
traceback. Very long input is cut to :data:`MAX_TERMS` words: nobody's query has more,
and FTS5 cost grows with every term.

Ranking is FTS5's bm25 (text weighs more than labels), plus a bonus when the words
appear as a phrase in a transcript, and the hit is narrowed to the matched words'
times so "ask not what your country" lands on the second it was said, not the start of
a 30-second segment.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

from kinod.library.index.db import IndexFileError, SearchIndex
from kinod.library.index.extract import tokens
from kinod.media.timecode import frames_to_tc, parse_rate, seconds_to_frame

MAX_TERMS = 32
MAX_RAW_CHARS = 2000
SNIPPET_OPEN, SNIPPET_CLOSE = "\x02", "\x03"
PHRASE_BONUS = 5.0
#: At most this many matches (the newest) are scored for one query; see _keyword.
MAX_RANKED = 20_000


class SearchError(ValueError):
    """A query that cannot run (bad --raw syntax, unreadable index); the message says why."""


@dataclass(frozen=True)
class SearchFilters:
    person: str | None = None
    tag: str | None = None
    category: str | None = None
    card: str | None = None
    since: str | None = None

    def any(self) -> bool:
        return any((self.person, self.tag, self.category, self.card, self.since))


@dataclass
class Hit:
    path: str
    name: str
    sidecar: str
    card: str | None
    kind: str
    start_s: float
    end_s: float
    start_tc: str | None
    end_tc: str | None
    snippet: str
    score: float
    fingerprint: str | None
    label: str = ""
    #: Cosine similarity to the query, for semantic hits.
    similarity: float | None = None
    entry_id: int = field(default=0, repr=False)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("entry_id")
        out["snippet"] = plain_snippet(self.snippet)
        return out


def plain_snippet(s: str) -> str:
    return s.replace(SNIPPET_OPEN, "[").replace(SNIPPET_CLOSE, "]")


def fts_expression(query: str, raw: bool = False) -> str | None:
    """The MATCH expression for a user query; None when it holds no searchable word."""
    if raw:
        q = query.strip()[:MAX_RAW_CHARS]
        return q or None
    words = list(dict.fromkeys(tokens(query)))[:MAX_TERMS]
    if not words:
        return None
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)


@lru_cache(maxsize=64)
def _rate(text: str) -> Fraction | None:
    try:
        return parse_rate(text)
    except (ValueError, ZeroDivisionError):
        return None


def _tc(seconds: float, row: sqlite3.Row) -> str | None:
    rate = _rate(row["rate"]) if row["rate"] else None
    if rate is None:
        return None
    try:
        frame = seconds_to_frame(Fraction(round(seconds * 1000), 1000), rate)
        return frames_to_tc(int(row["start_tc_frames"]) + frame, rate, bool(row["drop_frame"]))
    except (ValueError, ZeroDivisionError):
        return None


def _narrow(words_json: str | None, query_tokens: list[str]) -> tuple[float, float, bool] | None:
    """(start, end, is_phrase) of the matched words inside a transcript segment."""
    if not words_json or not query_tokens:
        return None
    try:
        words = json.loads(words_json)
    except ValueError:
        return None
    flat: list[tuple[str, float, float]] = []
    for w, start, end in words:
        for t in tokens(str(w)):
            flat.append((t, float(start), float(end)))
    n = len(query_tokens)
    for i in range(len(flat) - n + 1):
        if all(flat[i + k][0] == query_tokens[k] for k in range(n)):
            return flat[i][1], flat[i + n - 1][2], True
    wanted = set(query_tokens)
    matched = [f for f in flat if f[0] in wanted]
    if not matched:
        return None
    return matched[0][1], max(m[2] for m in matched), False


_FACET_SQL = " AND c.id IN (SELECT clip_id FROM facets WHERE kind=? AND value=?)"
_PERSON_SQL = " AND c.id IN (SELECT clip_id FROM facets WHERE kind='person' AND lower(value) LIKE ? ESCAPE '\\')"


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filters_sql(f: SearchFilters) -> tuple[str, list[Any]]:
    sql, args = "", []
    if f.person and f.person.strip():  # any part of a name or id: "obama" finds "Barack Obama"
        sql += _PERSON_SQL
        args.append("%" + _like(f.person.strip().casefold()) + "%")
    for kind, value in (("tag", f.tag), ("category", f.category)):
        if value and value.strip():
            sql += _FACET_SQL
            args += [kind, value.strip().casefold()]
    if f.card and f.card.strip():
        sql += " AND (lower(c.card)=? OR c.folder=? OR c.folder LIKE ? ESCAPE '\\')"
        card = f.card.strip()
        pattern = "%/" + card.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        args += [card.casefold(), card, pattern]
    if f.since and f.since.strip():
        sql += " AND c.recorded >= ?"
        args.append(f.since.strip())
    return sql, args


_SELECT = (
    "SELECT e.id, e.kind, e.start_s, e.end_s, e.text, e.label, e.words, c.path, c.name, c.sidecar, c.card,"
    " c.fingerprint, c.rate, c.start_tc_frames, c.drop_frame"
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

    ``semantic``: also find transcript segments, descriptions and scene summaries close
    in meaning (needs vectors: ``[search] semantic = true`` when the clips were indexed),
    ranked together with the keyword hits.
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
    return _keyword(index, expr, fsql, fargs, query, raw, limit * 2, show=limit)


def _query_tokens(query: str, raw: bool) -> list[str]:
    return tokens(query) if not raw else [t for t in tokens(query) if t not in {"and", "or", "not", "near"}]


def _fused(
    index: SearchIndex, query: str, expr: str | None, fsql: str, fargs: list[Any], raw: bool, limit: int
) -> list[Hit]:
    """Keyword and semantic hits ranked together (reciprocal rank fusion)."""
    from kinod.library.index.semantic import fuse, nearest

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
            hits[i] = _hit(by_id[i], _query_tokens(query, raw))
            hits[i].snippet = by_id[i]["text"][:200]
    out = []
    for i, h in hits.items():
        h.score = round(scores.get(i, 0.0) * 1000, 3)
        h.similarity = round(sims[i], 4) if i in sims else None
        out.append(h)
    out.sort(key=lambda h: -h.score)
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
    qtok = _query_tokens(query, raw)
    scored = sorted(((_hit(r, qtok, finish=False), r) for r in rows), key=lambda hr: -hr[0].score)
    shown = scored[: show or limit]
    for h, r in shown:  # the costly parts only for hits that are shown
        _finish(h, r)
        h.snippet = make_snippet(r["text"], qtok)
    return [h for h, _ in shown]


_WORD = re.compile(r"[^\W_]+")


def make_snippet(text: str, qtok: list[str], width: int = 24) -> str:
    """The text around the first matched word, matched words between SNIPPET_OPEN/CLOSE (as FTS5 snippet())."""
    wanted = set(qtok)
    spans = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    matched = [i for i, (_, _, w) in enumerate(spans) if any(t in wanted for t in tokens(w))]
    if not spans:
        return text[:200]
    first = matched[0] if matched else 0
    marked = set(matched)
    lo = max(0, first - width // 3)
    hi = min(len(spans), lo + width)
    out, pos = [], spans[lo][0]
    for i in range(lo, hi):
        s, e, _ = spans[i]
        out.append(text[pos:s])
        out.append(f"{SNIPPET_OPEN}{text[s:e]}{SNIPPET_CLOSE}" if i in marked else text[s:e])
        pos = e
    tail = text[pos:] if hi == len(spans) else "…"
    return ("…" if lo > 0 else "") + "".join(out) + tail


def _hit(r: sqlite3.Row, qtok: list[str], finish: bool = True) -> Hit:
    start, end = float(r["start_s"]), float(r["end_s"])
    score = -float(r["rank"])
    narrowed = _narrow(r["words"], qtok) if r["kind"] == "words" else None
    if narrowed is not None:
        start, end, phrase = narrowed
        if phrase and len(qtok) > 1:
            score += PHRASE_BONUS
    hit = Hit(
        path=r["path"], name=r["name"], sidecar=r["sidecar"], card=r["card"], kind=r["kind"],
        start_s=round(start, 3), end_s=round(end, 3), start_tc=None, end_tc=None,
        snippet=r["snip"] or r["text"][:200], score=round(score, 4), fingerprint=r["fingerprint"], label=r["label"],
        entry_id=int(r["id"]),
    )
    if finish:
        _finish(hit, r)
    return hit


def _finish(hit: Hit, r: sqlite3.Row) -> None:
    hit.start_tc, hit.end_tc = _tc(hit.start_s, r), _tc(hit.end_s, r)


def _browse(index: SearchIndex, f: SearchFilters, fsql: str, fargs: list[Any], limit: int) -> list[Hit]:
    """Entries of the filtered kind (a person's appearances, a tag's shots), or whole clips."""
    kind, value = next(((k, v) for k, v in (("person", f.person), ("tag", f.tag), ("category", f.category)) if v),
                       ("clip", None))
    sql = f"{_SELECT}, 0.0 AS rank, e.text AS snip FROM entries e JOIN clips c ON c.id = e.clip_id WHERE e.kind=?"
    args: list[Any] = [kind]
    if value:
        sql += " AND (lower(e.text) LIKE ? ESCAPE '\\' OR lower(e.label) LIKE ? ESCAPE '\\')"
        v = value.strip().casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        args += [f"%{v}%", f"%{v}%"]
    sql += f"{fsql} ORDER BY c.recorded DESC, c.path, e.start_s LIMIT ?"
    try:
        with index.connect() as db:
            rows = db.execute(sql, [*args, *fargs, limit]).fetchall()
    except (sqlite3.Error, IndexFileError) as e:
        raise SearchError(f"{index.path}: search failed: {e}") from None
    return [_hit(r, []) for r in rows]
