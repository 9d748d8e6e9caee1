"""What a search returns: a hit on a clip's timeline, its source TC and its snippet.

Shared by the single-entry search (:mod:`kinod.library.index.search`) and moment
matching (:mod:`kinod.library.index.moments`), so both report hits the same way.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

from kinod.library.index.extract import tokens
from kinod.media.timecode import frames_to_tc, parse_rate, seconds_to_frame

SNIPPET_OPEN, SNIPPET_CLOSE = "\x02", "\x03"


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
    #: A semantic hit under the confident similarity (close in meaning, but not by much).
    weak: bool = False
    #: Which kinds of entry matched (``["ocr", "words"]`` for a moment said and shown).
    sources: list[str] = field(default_factory=list)
    #: The clip's keyframe (relative to its output folder), for thumbnails.
    keyframe: str | None = None
    entry_id: int = field(default=0, repr=False)
    #: Seconds between the matched words (0 when they are one phrase or one item); ranks closer first.
    spread: float = field(default=0.0, repr=False)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("entry_id")
        out.pop("spread")
        out["snippet"] = plain_snippet(self.snippet)
        return out


def plain_snippet(s: str) -> str:
    return s.replace(SNIPPET_OPEN, "[").replace(SNIPPET_CLOSE, "]")


@lru_cache(maxsize=64)
def _rate(text: str) -> Fraction | None:
    try:
        return parse_rate(text)
    except (ValueError, ZeroDivisionError):
        return None


def source_tc(seconds: float, row: sqlite3.Row) -> str | None:
    """Source TC of a time in the clip whose row (rate, start_tc_frames, drop_frame) is given."""
    rate = _rate(row["rate"]) if row["rate"] else None
    if rate is None:
        return None
    try:
        frame = seconds_to_frame(Fraction(round(seconds * 1000), 1000), rate)
        return frames_to_tc(int(row["start_tc_frames"]) + frame, rate, bool(row["drop_frame"]))
    except (ValueError, ZeroDivisionError):
        return None


def word_times(words_json: str | None) -> list[tuple[str, float, float]]:
    """A transcript entry's words as (token, start, end); word pieces split as the tokenizer does."""
    if not words_json:
        return []
    try:
        words = json.loads(words_json)
    except ValueError:
        return []
    flat: list[tuple[str, float, float]] = []
    for w, start, end in words:
        for t in tokens(str(w)):
            flat.append((t, float(start), float(end)))
    return flat


def narrow(words_json: str | None, query_tokens: list[str]) -> tuple[float, float, bool] | None:
    """(start, end, is_phrase) of the matched words inside a transcript segment."""
    if not query_tokens:
        return None
    flat = word_times(words_json)
    n = len(query_tokens)
    for i in range(len(flat) - n + 1):
        if all(flat[i + k][0] == query_tokens[k] for k in range(n)):
            return flat[i][1], flat[i + n - 1][2], True
    wanted = set(query_tokens)
    matched = [f for f in flat if f[0] in wanted]
    if not matched:
        return None
    return matched[0][1], max(m[2] for m in matched), False


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
