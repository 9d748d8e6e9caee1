"""How an ocr record reads in the search index and on the clip page (see the analyzer contract)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kinod.analyzers.base import ReadContext, SearchEntry, UiSection
from kinod.analyzers.reading import items, num, span, summary, text


def search_entries(record: Mapping[str, Any], ctx: ReadContext) -> list[SearchEntry]:
    """Each line of text read, over the range it was on screen; a slate's fields over the whole clip.

    Items read side by side on one line at the same time ("BLUE", "HERON BAKERY") are one
    entry, left to right, so the sign's full text is found as a phrase.
    """
    out = []
    shown = [it for it in items(record) if it.get("kind") != "burned_in_tc"]  # a TC matches any TC search
    for line in lines(shown, ctx.duration_s):
        start, end = min(s for s, _, _ in line), max(e for _, e, _ in line)
        out.append(SearchEntry("ocr", start, end, " ".join(t for _, _, t in line)))
    slate = summary(record).get("slate")
    if isinstance(slate, dict) and slate:
        fields = " ".join(f"{k} {text(v)}" for k, v in slate.items() if text(v))
        if fields:
            out.append(SearchEntry("ocr", 0.0, ctx.duration_s, fields, "slate"))
    return out


def _box(it: Mapping[str, Any]) -> tuple[float, float, float, float] | None:
    b = it.get("box")
    if isinstance(b, list | tuple) and len(b) == 4:
        return num(b[0]), num(b[1]), num(b[2]), num(b[3])
    return None


def _same_line(a: Mapping[str, Any], b: Mapping[str, Any], duration: float) -> bool:
    """Read at overlapping times, with vertical centres within half a line's height of each other."""
    (sa, ea), (sb, eb) = span(a, duration), span(b, duration)
    ba, bb = _box(a), _box(b)
    if ba is None or bb is None or sa > eb or sb > ea:
        return False
    height = max(ba[3], bb[3], 1.0)
    return abs((ba[1] + ba[3] / 2) - (bb[1] + bb[3] / 2)) <= height / 2


def lines(its: list[dict[str, Any]], duration: float) -> list[list[tuple[float, float, str]]]:
    """Items grouped into lines ((start, end, text) left to right); an item without a box is its own line."""
    groups: list[list[dict[str, Any]]] = []
    for it in its:
        if not text(it.get("text")):
            continue
        home = next((g for g in groups if all(_same_line(it, o, duration) for o in g)), None)
        if home is None:
            groups.append([it])
        else:
            home.append(it)
    out = []
    for g in groups:
        g.sort(key=lambda it: (_box(it) or (0.0,))[0])
        out.append([(*span(it, duration), text(it.get("text"))) for it in g])
    return out


def ui_sections(record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]:
    rows = [
        {"t": num(it.get("start_s")), "tc": ctx.tc(num(it.get("start_s"))), "text": str(it.get("text"))}
        for it in items(record)
        if it.get("text") and it.get("kind") != "burned_in_tc"
    ]
    return [UiSection("On-screen text", "list", rows, order=50, key="ocr")]
