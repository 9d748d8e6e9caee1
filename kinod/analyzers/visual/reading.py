"""How a visual record reads in the search index and on the clip page (see the analyzer contract)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kinod.analyzers.base import ReadContext, SearchEntry, UiSection
from kinod.analyzers.reading import as_list, items, span, text


def search_entries(record: Mapping[str, Any], ctx: ReadContext) -> list[SearchEntry]:
    """Per shot: its tags and editorial words (also ``tag`` facets), and its description."""
    out = []
    for it in items(record):
        start, end = span(it, ctx.duration_s)
        labels = [text(t.get("label")) for t in as_list(it.get("tags")) if isinstance(t, dict) and text(t.get("label"))]
        editorial = [text(t) for t in as_list(it.get("editorial")) if text(t)]
        extra = [text(it.get(k)) for k in ("scale", "camera", "day_night") if text(it.get(k))]
        words = list(dict.fromkeys(labels + editorial + extra))
        facets = tuple(("tag", w) for w in labels + editorial)
        if words:
            out.append(SearchEntry("tag", start, end, " ".join(words), ", ".join(labels + editorial), facets=facets))
        elif facets:
            out.append(SearchEntry("tag", start, end, "", facets=facets))
        if text(it.get("description")):
            out.append(SearchEntry("description", start, end, text(it.get("description")), "shot"))
    return out


def ui_sections(record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]:
    """The tags seen, the most frequent first."""
    counts: dict[str, int] = {}
    for it in items(record):
        for t in as_list(it.get("tags")):
            if isinstance(t, dict) and t.get("label"):
                counts[str(t["label"])] = counts.get(str(t["label"]), 0) + 1
    rows = [{"text": t} for t in sorted(counts, key=lambda k: -counts[k])]
    return [UiSection("Tags", "tags", rows, order=31, key="tags")]
