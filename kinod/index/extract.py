"""Sidecar → index rows: what of a clip's results becomes searchable, and at which times.

Sidecars are read defensively: analyses that are absent, of an older shape, or half
written by a third-party analyzer are skipped item by item, never failing the clip,
because one odd record must not make a whole clip unfindable. Analyses other helpers
add (faces, visual, ocr, scenes, categories) follow the agreed shapes in the design
notes; anything missing is simply not indexed.

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

#: Entry kinds, as ``kinod search --json`` reports them.
KINDS = ("words", "ocr", "tag", "person", "category", "scene", "problem", "marker", "clip")
#: Marker categories whose markers are already indexed from their analysis.
_COVERED_MARKERS = frozenset({"shot", "speech"})
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
    #: Semantic search only: the MiniLM vector as float16 bytes (kinod.index.semantic).
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


def _items(analyses: dict[str, Any], name: str) -> list[dict[str, Any]]:
    a = analyses.get(name)
    if not isinstance(a, dict) or not isinstance(a.get("items"), list):
        return []
    return [it for it in a["items"] if isinstance(it, dict)]


def _summary(analyses: dict[str, Any], name: str) -> dict[str, Any]:
    a = analyses.get(name)
    s = a.get("summary") if isinstance(a, dict) else None
    return s if isinstance(s, dict) else {}


def _range(it: dict[str, Any], duration: float) -> tuple[float, float]:
    start = _f(it.get("start_s"))
    end = _f(it.get("end_s"), start)
    return max(0.0, start), max(start, min(end, duration) if duration > 0 else end)


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
        keyframe=_first_keyframe(analyses),
        problems=0,
    )
    if doc.card:
        doc.facets.add(("card", doc.card.casefold()))
    _speech(doc, analyses, duration)
    _ocr(doc, analyses, duration)
    _visual(doc, analyses, duration)
    _faces(doc, analyses, duration)
    _scenes(doc, analyses, duration)
    _categories(doc, analyses, duration)
    _markers(doc, sidecar, duration)
    _clip_facts(doc, source, probe, analyses, duration)
    for err in sidecar.get("errors") or []:
        if isinstance(err, dict) and _s(err.get("message")):
            doc.entries.append(Entry("problem", 0.0, duration, _s(err.get("message")), _s(err.get("stage"))))
    doc.problems = sum(1 for e in doc.entries if e.kind == "problem")
    return doc


def _first_keyframe(analyses: dict[str, Any]) -> str | None:
    for it in _items(analyses, "shots"):
        if _s(it.get("thumbnail")):
            return _s(it.get("thumbnail"))
    return None


def _speech(doc: ClipDoc, analyses: dict[str, Any], duration: float) -> None:
    for seg in _items(analyses, "speech"):
        text = _s(seg.get("text"))
        if not text:
            continue
        words = [
            [_s(w.get("word")), _f(w.get("start_s")), _f(w.get("end_s"))]
            for w in seg.get("words") or []
            if isinstance(w, dict) and _s(w.get("word"))
        ]
        start, end = _range(seg, duration)
        doc.entries.append(Entry("words", start, end, text, _s(seg.get("speaker")), words or None))
        if _s(seg.get("speaker")):
            doc.facets.add(("speaker", _s(seg.get("speaker")).casefold()))


def _ocr(doc: ClipDoc, analyses: dict[str, Any], duration: float) -> None:
    for it in _items(analyses, "ocr"):
        if _s(it.get("text")):
            start, end = _range(it, duration)
            doc.entries.append(Entry("ocr", start, end, _s(it.get("text"))))
    slate = _summary(analyses, "ocr").get("slate")
    if isinstance(slate, dict) and slate:
        text = " ".join(f"{k} {_s(v)}" for k, v in slate.items() if _s(v))
        if text:
            doc.entries.append(Entry("ocr", 0.0, duration, text, "slate"))


def _visual(doc: ClipDoc, analyses: dict[str, Any], duration: float) -> None:
    for it in _items(analyses, "visual"):
        start, end = _range(it, duration)
        labels = [_s(t.get("label")) for t in it.get("tags") or [] if isinstance(t, dict) and _s(t.get("label"))]
        editorial = [_s(t) for t in it.get("editorial") or [] if _s(t)]
        extra = [_s(it.get(k)) for k in ("scale", "camera", "day_night") if _s(it.get(k))]
        words = list(dict.fromkeys(labels + editorial + extra))
        if words:
            doc.entries.append(Entry("tag", start, end, " ".join(words), ", ".join(labels + editorial)))
        for w in labels + editorial:
            doc.facets.add(("tag", w.casefold()))
        if _s(it.get("description")):
            doc.entries.append(Entry("scene", start, end, _s(it.get("description")), "description"))


def _faces(doc: ClipDoc, analyses: dict[str, Any], duration: float) -> None:
    names: dict[str, str] = {}
    for p in _summary(analyses, "faces").get("people") or []:
        if isinstance(p, dict) and _s(p.get("id")):
            names[_s(p.get("id"))] = _s(p.get("name"))
    for it in _items(analyses, "faces"):
        pid = _s(it.get("person"))
        name = _s(it.get("person_name")) or names.get(pid, "")
        if not pid and not name:
            continue
        start, end = _range(it, duration)
        doc.entries.append(Entry("person", start, end, " ".join(x for x in (name, pid) if x), pid))
        for v in (name, pid):
            if v:
                doc.facets.add(("person", v.casefold()))


def _scenes(doc: ClipDoc, analyses: dict[str, Any], duration: float) -> None:
    for it in _items(analyses, "scenes"):
        text = ". ".join(x for x in (_s(it.get("title")), _s(it.get("description"))) if x)
        if text:
            start, end = _range(it, duration)
            doc.entries.append(Entry("scene", start, end, text, _s(it.get("title"))))


def _categories(doc: ClipDoc, analyses: dict[str, Any], duration: float) -> None:
    for top in _summary(analyses, "categories").get("top") or []:
        if not isinstance(top, dict) or not isinstance(top.get("path"), list):
            continue
        parts = [_s(p) for p in top["path"] if _s(p)]
        if not parts:
            continue
        joined = " / ".join(parts)
        doc.entries.append(Entry("category", 0.0, duration, joined, joined))
        doc.facets.add(("category", "/".join(parts).casefold()))
        for p in parts:
            doc.facets.add(("category", p.casefold()))


def _markers(doc: ClipDoc, sidecar: dict[str, Any], duration: float) -> None:
    for m in sidecar.get("markers") or []:
        if not isinstance(m, dict) or _s(m.get("category")) in _COVERED_MARKERS:
            continue
        category = _s(m.get("category"))
        start = _f(m.get("seconds"))
        rate = _rate(doc.rate)
        length = _f(m.get("duration_frames")) / rate if rate else 0.0
        text = " ".join(x for x in (_s(m.get("name")), _s(m.get("comment"))) if x)
        if not text:
            continue
        kind = {"problem": "problem", "tag": "tag", "text": "ocr", "person": "person"}.get(category, "marker")
        doc.entries.append(Entry(kind, start, min(start + length, duration) if duration else start + length, text,
                                 category))
        if category == "tag" and _s(m.get("name")):
            doc.facets.add(("tag", _s(m.get("name")).casefold()))


def _rate(rate: str | None) -> float:
    if not rate:
        return 0.0
    num, _, den = rate.partition("/")
    try:
        return float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return 0.0


def _clip_facts(
    doc: ClipDoc, source: dict[str, Any], probe: dict[str, Any], analyses: dict[str, Any], duration: float
) -> None:
    """Camera metadata and names: searchable as one clip-wide entry ("FX6", "A001", a serial)."""
    bits = [doc.name, doc.card or ""]
    bits += [_s(probe.get(k)) for k in ("camera_make", "camera_model", "camera_serial", "reel", "clip_name", "codec")]
    if probe.get("width") and probe.get("height"):
        bits.append(f"{_s(probe.get('width'))}x{_s(probe.get('height'))}")
    for lang in _summary(analyses, "speech").get("languages") or []:
        if isinstance(lang, dict) and _s(lang.get("language")):
            bits.append(_s(lang.get("language")))
    text = " ".join(b for b in bits if b)
    if text:
        doc.entries.append(Entry("clip", 0.0, duration, text, "camera"))


def words_json(words: list[list[Any]] | None) -> str | None:
    return json.dumps(words, separators=(",", ":"), ensure_ascii=False) if words else None
