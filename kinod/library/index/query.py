"""The user's words → the units a hit must hold, and the safe FTS5 expression for them.

The user types words, not FTS5 syntax: every word is quoted, so ``"``, ``*``, ``NEAR``,
``-`` and ``:`` are taken literally (as the tokenizer would split them) and no input can
make SQLite raise a syntax error. Words between a balanced pair of double quotes are
one unit, a phrase, and must appear in that order. Very long input is cut to
:data:`MAX_TERMS` words: nobody's query has more, and FTS5 cost grows with every term.
"""

from __future__ import annotations

import re

from kinod.library.index.extract import tokens

MAX_TERMS = 32
MAX_RAW_CHARS = 2000
_QUOTED = re.compile(r'"([^"]*)"')
_RAW_OPERATORS = frozenset({"and", "or", "not", "near"})


def units(query: str) -> list[tuple[str, ...]]:
    """Each quoted phrase and each other word as a token tuple, duplicates dropped, at most MAX_TERMS tokens."""
    found: list[tuple[str, ...]] = []
    pos = 0
    for m in _QUOTED.finditer(query):
        found += [(t,) for t in tokens(query[pos : m.start()])]
        phrase = tuple(tokens(m.group(1)))
        if phrase:
            found.append(phrase)
        pos = m.end()
    found += [(t,) for t in tokens(query[pos:])]
    out: list[tuple[str, ...]] = []
    budget = MAX_TERMS
    for u in dict.fromkeys(found):
        if budget <= 0:
            break
        out.append(u[:budget])
        budget -= len(u)
    return out


def fts_expression(query: str, raw: bool = False) -> str | None:
    """The MATCH expression for a user query (all units required); None when it holds no searchable word."""
    if raw:
        q = query.strip()[:MAX_RAW_CHARS]
        return q or None
    return join_units(units(query), " ")


def join_units(found: list[tuple[str, ...]], op: str) -> str | None:
    """Units as quoted FTS5 phrases joined by ``op`` (" " for all of them, " OR " for any)."""
    if not found:
        return None
    return op.join('"' + " ".join(u).replace('"', '""') + '"' for u in found)


def query_tokens(query: str, raw: bool) -> list[str]:
    """The query's words in order, for narrowing and snippets (FTS operators dropped from --raw queries)."""
    return tokens(query) if not raw else [t for t in tokens(query) if t not in _RAW_OPERATORS]


def unit_in(unit: tuple[str, ...], toks: list[str]) -> bool:
    """Whether the token list holds the unit (a phrase: its words in a row)."""
    n = len(unit)
    if n == 1:
        return unit[0] in toks
    return any(tuple(toks[i : i + n]) == unit for i in range(len(toks) - n + 1))
