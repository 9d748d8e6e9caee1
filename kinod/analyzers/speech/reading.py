"""How a speech record reads in the search index and on the clip page (see the analyzer contract)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kinod.analyzers.base import ReadContext, SearchEntry, UiSection
from kinod.analyzers.reading import as_list, items, num, span, summary, text


def search_entries(record: Mapping[str, Any], ctx: ReadContext) -> list[SearchEntry]:
    """One entry per segment, with its word timings (a hit narrows to the words) and speaker facet."""
    out: list[SearchEntry] = []
    for seg in items(record):
        said = text(seg.get("text"))
        if not said:
            continue
        words = [
            [text(w.get("word")), num(w.get("start_s")), num(w.get("end_s"))]
            for w in as_list(seg.get("words"))
            if isinstance(w, dict) and text(w.get("word"))
        ]
        start, end = span(seg, ctx.duration_s)
        speaker = text(seg.get("speaker"))
        facets = (("speaker", speaker),) if speaker else ()
        out.append(SearchEntry("words", start, end, said, speaker, words or None, facets))
    languages = [text(lang.get("language")) for lang in as_list(summary(record).get("languages"))
                 if isinstance(lang, dict) and text(lang.get("language"))]
    if languages:  # the languages spoken are clip facts ("de" finds every German clip)
        out.append(SearchEntry("clip", 0.0, ctx.duration_s, " ".join(languages)))
    return out


def ui_sections(record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]:
    """The transcript, word by word so the page can follow the player."""
    rows = []
    for seg in items(record):
        if not text(seg.get("text")):
            continue
        words = [
            {"w": str(w.get("word") or ""), "t": num(w.get("start_s")), "end": num(w.get("end_s"))}
            for w in as_list(seg.get("words"))
            if isinstance(w, dict) and str(w.get("word") or "").strip()
        ]
        start = num(seg.get("start_s"))
        rows.append({"t": start, "tc": ctx.tc(start), "speaker": seg.get("speaker"), "text": str(seg["text"]),
                     "words": words})
    return [UiSection("Transcript", "transcript", rows, order=60, key="transcript")]
