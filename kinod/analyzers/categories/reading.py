"""How a categories record reads in the search index and on the clip page (see the analyzer contract)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kinod.analyzers.base import ReadContext, SearchEntry, UiSection
from kinod.analyzers.reading import as_list, num, summary, text


def _paths(record: Mapping[str, Any]) -> list[list[str]]:
    out = []
    for top in as_list(summary(record).get("top")):
        if isinstance(top, dict) and isinstance(top.get("path"), list):
            out.append([text(p) for p in top["path"] if text(p)])
    return out


def search_entries(record: Mapping[str, Any], ctx: ReadContext) -> list[SearchEntry]:
    """Each top category over the whole clip; its full path and every level are ``category`` facets."""
    out = []
    for parts in _paths(record):
        if not parts:
            continue
        joined = " / ".join(parts)
        facets = (("category", "/".join(parts)), *(("category", p) for p in parts))
        out.append(SearchEntry("category", 0.0, ctx.duration_s, joined, joined, facets=facets))
    return out


def ui_sections(record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]:
    """Each top category with its score; marked uncertain when the analyzer was not sure."""
    uncertain = bool(summary(record).get("uncertain"))
    flag = " (uncertain)" if uncertain else ""
    rows = [
        {"text": " / ".join(str(p) for p in as_list(c.get("path")))
         + (f" {num(c.get('score')):.2f}" if c.get("score") is not None else "") + flag,
         "cls": "category uncertain" if uncertain else "category"}
        for c in as_list(summary(record).get("top")) if isinstance(c, dict)
    ]
    return [UiSection("Tags", "tags", rows, order=30, key="categories")]
