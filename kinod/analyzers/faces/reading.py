"""How a faces record reads in the search index and on the clip page (see the analyzer contract)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kinod.analyzers.base import ReadContext, SearchEntry, UiSection
from kinod.analyzers.reading import as_list, items, num, span, summary, text


def search_entries(record: Mapping[str, Any], ctx: ReadContext) -> list[SearchEntry]:
    """Each track of a known person, by name and id (both also ``person`` facets)."""
    names: dict[str, str] = {}
    for p in as_list(summary(record).get("people")):
        if isinstance(p, dict) and text(p.get("id")):
            names[text(p.get("id"))] = text(p.get("name"))
    out = []
    for it in items(record):
        pid = text(it.get("person"))
        name = text(it.get("person_name")) or names.get(pid, "")
        if not pid and not name:
            continue
        start, end = span(it, ctx.duration_s)
        facets = tuple(("person", v) for v in (name, pid) if v)
        out.append(SearchEntry("person", start, end, " ".join(x for x in (name, pid) if x), pid, facets=facets))
    return out


def ui_sections(record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]:
    """One card per person: best image, first appearance, number of tracks."""
    tracks = items(record)
    rows = []
    for p in as_list(summary(record).get("people")):
        if not isinstance(p, dict) or not p.get("id"):
            continue
        mine = [t for t in tracks if t.get("person") == p["id"]]
        first = min((num(t.get("start_s")) for t in mine), default=0.0)
        img = ctx.link(str(p["best_image"])) if p.get("best_image") else None
        rows.append({"id": str(p["id"]), "name": p.get("name"), "img": img, "t": first, "tracks": len(mine)})
    return [UiSection("People", "people", rows, order=20, key="people")]
