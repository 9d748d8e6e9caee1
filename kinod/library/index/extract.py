"""Sidecar → index rows: what of a clip's results becomes searchable, and at which times.

What an analysis contributes is the analyzer's own business: each installed analyzer
says how its record becomes entries (``search_entries``) and how its marker categories
are indexed (:class:`~kinod.contracts.MarkerCategorySpec`), found through
:mod:`kinod.contracts.catalog`, so this module names no analyzer and a plugin's results are
searchable as soon as it is installed. Sidecars are read defensively: a record that is
odd, or an analyzer hook that raises on it, is skipped, never failing the clip, because
one odd record must not make a whole clip unfindable.

Every entry carries a time range in seconds of the clip's own timeline; clip-wide facts
(categories, camera metadata, errors) span the whole clip.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from kinod.contracts import catalog
from kinod.contracts.declarations import ReadContext, SearchEntry

#: Entry kinds of kinod's own analyzers, as ``kinod search --json`` reports them (a plugin may add its own).
KINDS = ("words", "ocr", "tag", "person", "category", "scene", "description", "problem", "marker", "clip")
log = structlog.get_logger(__name__)
_TOKEN = re.compile(r"[^\W_]+")


def tokens(text: str) -> list[str]:
    """Words as FTS5's unicode61 tokenizer (remove_diacritics 2) sees them, case-folded."""
    if text.isascii():
        return _TOKEN.findall(text.lower())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _TOKEN.findall(plain)


@dataclass
class Entry:
    kind: str
    start_s: float
    end_s: float
    text: str
    label: str = ""
    #: Speech only: [[word, start_s, end_s], ...] so a hit can be narrowed to the words that matched.
    words: list[list[Any]] | None = None
    #: Semantic search only: the MiniLM vector as float16 bytes (kinod.library.index.semantic).
    vector: bytes | None = None


@dataclass
class ClipDoc:
    path: str
    sidecar: str
    name: str
    fingerprint: str | None
    card: str | None
    rate: str | None
    start_tc_frames: int
    drop_frame: bool
    duration_s: float
    recorded: str
    keyframe: str | None
    problems: int
    entries: list[Entry] = field(default_factory=list)
    facets: set[tuple[str, str]] = field(default_factory=set)


def _f(v: Any, default: float = 0.0) -> float:
    try:
        out = float(v)
    except (TypeError, ValueError):
        return default
    return out if out == out and abs(out) != float("inf") else default


def _s(v: Any) -> str:
    return "" if v is None else str(v).strip()


def _duration(sidecar: dict[str, Any]) -> float:
    probe = sidecar.get("probe") if isinstance(sidecar.get("probe"), dict) else {}
    return _f(probe.get("duration_s"))


def clip_doc(sidecar: dict[str, Any], sidecar_file: Path) -> ClipDoc:
    """Everything searchable in one sidecar. Raises ValueError only when it has no source path."""
    source = sidecar.get("source") if isinstance(sidecar.get("source"), dict) else {}
    path = _s(source.get("path"))
    if not path:
        raise ValueError(f"{sidecar_file}: sidecar has no source.path")
    timeline = sidecar.get("timeline") if isinstance(sidecar.get("timeline"), dict) else {}
    probe = sidecar.get("probe") if isinstance(sidecar.get("probe"), dict) else {}
    analyses = sidecar.get("analyses") if isinstance(sidecar.get("analyses"), dict) else {}
    duration = _duration(sidecar)
    doc = ClipDoc(
        path=path,
        sidecar=str(sidecar_file),
        name=_s(source.get("name")) or Path(path).name,
        fingerprint=_s(source.get("fingerprint")) or None,
        card=_s(source.get("card")) or None,
        rate=_s(timeline.get("rate")) or None,
        start_tc_frames=int(_f(timeline.get("start_tc_frames"))),
        drop_frame=bool(timeline.get("drop_frame")),
        duration_s=duration,
        recorded=_s(probe.get("creation_date")) or _s(sidecar.get("generated_at")),
        keyframe=None,
        problems=0,
    )
    if doc.card:
        doc.facets.add(("card", doc.card.casefold()))
    clip_facts = _analyses(doc, analyses, duration)
    _markers(doc, sidecar, duration)
    _clip_facts(doc, probe, clip_facts, duration)
    for err in sidecar.get("errors") or []:
        if isinstance(err, dict) and _s(err.get("message")):
            doc.entries.append(Entry("problem", 0.0, duration, _s(err.get("message")), _s(err.get("stage"))))
    doc.problems = sum(1 for e in doc.entries if e.kind == "problem")
    return doc


def _analyses(doc: ClipDoc, analyses: dict[str, Any], duration: float) -> list[str]:
    """Each installed analyzer's entries from its record; returns the texts for the clip-wide entry."""
    ctx = ReadContext(duration_s=duration, clip_name=doc.name)
    clip_facts: list[str] = []
    for name, reader in catalog.readers().items():
        record = analyses.get(name)
        if not isinstance(record, dict):
            continue
        try:
            if doc.keyframe is None:
                doc.keyframe = reader.keyframe(record) or None
            entries = reader.search_entries(record, ctx)
        except Exception as e:  # a third-party hook must not make the clip unfindable
            log.warning("analyzer could not read its record for the index", analyzer=name, path=doc.path, error=str(e))
            continue
        for e in entries:
            _add(doc, e, clip_facts)
    return clip_facts


def _add(doc: ClipDoc, e: SearchEntry, clip_facts: list[str]) -> None:
    for facet, value in e.facets:
        if _s(value):
            doc.facets.add((facet, _s(value).casefold()))
    if not _s(e.text):
        return
    if e.kind == "clip":
        clip_facts.append(_s(e.text))
        return
    doc.entries.append(Entry(e.kind, e.start_s, e.end_s, e.text, e.label, e.words))


def _markers(doc: ClipDoc, sidecar: dict[str, Any], duration: float) -> None:
    for m in sidecar.get("markers") or []:
        if not isinstance(m, dict):
            continue
        category = _s(m.get("category"))
        spec = catalog.category(category)
        if spec.search_kind is None:  # its analysis items are indexed instead
            continue
        start = _f(m.get("seconds"))
        rate = _rate(doc.rate)
        length = _f(m.get("duration_frames")) / rate if rate else 0.0
        text = " ".join(x for x in (_s(m.get("name")), _s(m.get("comment"))) if x)
        if not text:
            continue
        end = min(start + length, duration) if duration else start + length
        doc.entries.append(Entry(spec.search_kind, start, end, text, category))
        if spec.facet and _s(m.get("name")):
            doc.facets.add((spec.facet, _s(m.get("name")).casefold()))


def _rate(rate: str | None) -> float:
    if not rate:
        return 0.0
    num, _, den = rate.partition("/")
    try:
        return float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return 0.0


def _clip_facts(doc: ClipDoc, probe: dict[str, Any], from_analyses: list[str], duration: float) -> None:
    """Camera metadata and names: searchable as one clip-wide entry ("FX6", "A001", a serial).

    ``from_analyses`` holds the clip-wide facts analyzers add (the languages spoken).
    """
    bits = [doc.name, doc.card or ""]
    bits += [_s(probe.get(k)) for k in ("camera_make", "camera_model", "camera_serial", "reel", "clip_name", "codec")]
    if probe.get("width") and probe.get("height"):
        bits.append(f"{_s(probe.get('width'))}x{_s(probe.get('height'))}")
    bits += from_analyses
    text = " ".join(b for b in bits if b)
    if text:
        doc.entries.append(Entry("clip", 0.0, duration, text, "camera"))


def words_json(words: list[list[Any]] | None) -> str | None:
    return json.dumps(words, separators=(",", ":"), ensure_ascii=False) if words else None
