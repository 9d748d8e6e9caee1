"""Moment matching: a query's words spread over what is said, shown, tagged and who is on
screen at one moment of a clip match as one hit.

An editor types what they remember of a moment ("blue heron bakery", "Ann pasta",
"budget" said while "2026" is on screen), not which analyzer saw each word. A unit of
the query (a word, or a quoted phrase) may be found in any entry of the clip; the units
found in entries that overlap or lie within :data:`GAP_S` of each other make one
moment. Transcript entries are narrowed to the matched words' times first, so a
30-second segment does not make everything near it one moment.

Clip-wide facts (categories, camera, a slate's fields) are left out: they are true of
every moment and would join any two words of the clip.

Cost: each unit's clips are looked up through FTS5 with a cap; units found in more than
:data:`COMMON_CAP` entries ("the") do not narrow the candidates, but still have to be
found in the moment. Only :data:`MAX_CLIPS` candidate clips are read.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from kinod.library.index.extract import tokens
from kinod.library.index.hits import Hit, make_snippet, source_tc, word_times
from kinod.library.index.query import join_units, unit_in

#: Entries this close (seconds) or overlapping are one moment.
GAP_S = 3.0
#: Entry kinds that belong to a moment (not the clip-wide ones).
MOMENT_KINDS = ("words", "ocr", "tag", "person", "scene", "description", "marker")
COMMON_CAP = 5000
MAX_CLIPS = 300
#: Score a moment loses per second between its parts.
SPREAD_COST = 0.5

_KINDS_SQL = ",".join(f"'{k}'" for k in MOMENT_KINDS)
_SELECT = (
    "SELECT e.id, e.clip_id, e.kind, e.start_s, e.end_s, e.text, e.label, e.words,"
    " -bm25(entries_fts, 1.0, 0.4) AS score, c.path, c.name, c.sidecar, c.card, c.fingerprint, c.keyframe,"
    " c.rate, c.start_tc_frames, c.drop_frame"
    " FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid JOIN clips c ON c.id = e.clip_id"
)


@dataclass
class Found:
    """One unit found in one entry, at the time it was said or shown."""

    unit: int
    start: float
    end: float
    row: sqlite3.Row

    def distance(self, other: Found) -> float:
        return max(0.0, other.start - self.end, self.start - other.end)


def find_moments(db: sqlite3.Connection, found_units: list[tuple[str, ...]], fsql: str, fargs: list[Any],
                 limit: int) -> list[Hit]:
    """Hits that hold every unit across two or more entries of one moment, best first."""
    if len(found_units) < 2:
        return []
    clips = _candidate_clips(db, found_units)
    if not clips:
        return []
    expr = join_units(found_units, " OR ")
    marks = ",".join("?" * len(clips))
    rows = db.execute(
        f"{_SELECT} WHERE entries_fts MATCH ? AND e.kind IN ({_KINDS_SQL}) AND e.label != 'slate'"
        f" AND e.clip_id IN ({marks}){fsql}",
        [expr, *clips, *fargs],
    ).fetchall()
    by_clip: dict[int, list[Found]] = {}
    for r in rows:
        by_clip.setdefault(r["clip_id"], []).extend(_occurrences(r, found_units))
    hits: list[Hit] = []
    for occ in by_clip.values():
        hits += _clip_moments(occ, found_units)
    hits.sort(key=lambda h: (h.spread, -h.score))
    return hits[:limit]


def _candidate_clips(db: sqlite3.Connection, found_units: list[tuple[str, ...]]) -> list[int]:
    """Clips that hold every rare unit somewhere in a moment entry (common units are checked later)."""
    common = 0
    clips: set[int] | None = None
    for u in found_units:
        rows = db.execute(
            f"SELECT e.clip_id FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid"
            f" WHERE entries_fts MATCH ? AND e.kind IN ({_KINDS_SQL}) LIMIT ?",
            (join_units([u], " "), COMMON_CAP + 1),
        ).fetchall()
        if len(rows) > COMMON_CAP:
            common += 1
            continue
        ids = {r[0] for r in rows}
        clips = ids if clips is None else clips & ids
        if not clips:
            return []
    if clips is None:  # every unit is common: one entry must hold them (the plain search finds those)
        return []
    return sorted(clips)[-MAX_CLIPS:]


def _occurrences(r: sqlite3.Row, found_units: list[tuple[str, ...]]) -> list[Found]:
    """Where in the entry each unit is: the words' own times for a transcript, else the entry's range."""
    out = []
    if r["kind"] == "words" and r["words"]:
        flat = word_times(r["words"])
        toks = [t for t, _, _ in flat]
        for i, u in enumerate(found_units):
            n = len(u)
            for k in range(len(toks) - n + 1):
                if tuple(toks[k : k + n]) == u:
                    out.append(Found(i, flat[k][1], flat[k + n - 1][2], r))
                    break
        return out
    toks = tokens(r["text"])
    start, end = float(r["start_s"]), float(r["end_s"])
    return [Found(i, start, end, r) for i, u in enumerate(found_units) if unit_in(u, toks)]


def _clip_moments(occ: list[Found], found_units: list[tuple[str, ...]]) -> list[Hit]:
    """The tightest moments of one clip that hold every unit in two or more entries; one per moment."""
    occ.sort(key=lambda f: f.start)
    candidates: list[tuple[float, list[Found]]] = []
    for anchor in occ:
        chosen: dict[int, Found] = {anchor.unit: anchor}
        for f in occ:
            d = anchor.distance(f)
            if d > GAP_S:
                continue
            have = chosen.get(f.unit)
            if have is None or d < anchor.distance(have):
                chosen[f.unit] = f
        if len(chosen) < len(found_units):
            continue
        parts = list(chosen.values())
        if len({p.row["id"] for p in parts}) < 2:
            continue  # one entry holds them all: the plain search reports it
        spread = max(a.distance(b) for a in parts for b in parts)
        candidates.append((spread, parts))
    candidates.sort(key=lambda c: c[0])
    kept: list[Hit] = []
    for spread, parts in candidates:
        start, end = min(p.start for p in parts), max(p.end for p in parts)
        if any(start <= k.end_s + GAP_S and k.start_s <= end + GAP_S for k in kept):
            continue
        kept.append(_moment_hit(parts, spread, start, end, found_units))
    return kept


def _moment_hit(parts: list[Found], spread: float, start: float, end: float,
                found_units: list[tuple[str, ...]]) -> Hit:
    rows = {p.row["id"]: p.row for p in parts}
    ordered = sorted(rows.values(), key=lambda r: (float(r["start_s"]), r["id"]))
    qtok = [t for u in found_units for t in u]
    first = ordered[0]
    hit = Hit(
        path=first["path"], name=first["name"], sidecar=first["sidecar"], card=first["card"], kind="moment",
        start_s=round(start, 3), end_s=round(end, 3), start_tc=source_tc(start, first), end_tc=source_tc(end, first),
        snippet=" · ".join(make_snippet(r["text"], qtok, width=12) for r in ordered),
        score=round(sum(float(r["score"]) for r in ordered) - SPREAD_COST * spread, 4),
        fingerprint=first["fingerprint"], label="+".join(sorted({r["kind"] for r in ordered})),
        sources=sorted({r["kind"] for r in ordered}), keyframe=first["keyframe"], entry_id=int(first["id"]),
        spread=round(spread, 3),
    )
    return hit
