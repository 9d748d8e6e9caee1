"""How an ocr record reads in the search index and on the clip page (see the analyzer contract)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kinod.analyzers.base import ReadContext, SearchEntry, UiSection
from kinod.analyzers.reading import items, num, span, summary, text


def search_entries(record: Mapping[str, Any], ctx: ReadContext) -> list[SearchEntry]:
    """Each text read, over the range it was on screen; a slate's fields over the whole clip."""
    out = []
    for it in items(record):
        if it.get("kind") == "burned_in_tc":  # changes every frame and matches any timecode search
            continue
        if text(it.get("text")):
            start, end = span(it, ctx.duration_s)
            out.append(SearchEntry("ocr", start, end, text(it.get("text"))))
    slate = summary(record).get("slate")
    if isinstance(slate, dict) and slate:
        fields = " ".join(f"{k} {text(v)}" for k, v in slate.items() if text(v))
        if fields:
            out.append(SearchEntry("ocr", 0.0, ctx.duration_s, fields, "slate"))
    return out


def ui_sections(record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]:
    rows = [
        {"t": num(it.get("start_s")), "tc": ctx.tc(num(it.get("start_s"))), "text": str(it.get("text"))}
        for it in items(record)
        if it.get("text") and it.get("kind") != "burned_in_tc"
    ]
    return [UiSection("On-screen text", "list", rows, order=50, key="ocr")]
