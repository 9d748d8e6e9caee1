"""Sidecars and card reports → the plain data the templates show.

Kept apart from the web app so the static ``card.html`` and the live pages render the
same page from the same data; only the URLs differ (``link``: relative file paths for
the static file, ``/media/...`` for the live page). Everything is read defensively:
a sidecar from an older kinod, or without some analysis, shows less, never an error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kinod.media.timecode import frames_to_tc, parse_rate, seconds_to_frame

#: Link maker: path relative to the clip's output folder → URL (or None when not servable).
Link = Callable[[str], str | None]
#: Marker categories shown on the timeline strip, in the order of their rows.
STRIP_CATEGORIES = ("problem", "shot", "black", "freeze", "inactive", "silence", "speech", "face", "person", "text",
                    "tag")


def _d(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _l(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _f(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return 0.0


def duration_text(seconds: float | None) -> str:
    if not seconds:
        return ""
    m, s = divmod(float(seconds), 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:04.1f}"


class TimeLabels:
    """Seconds → source TC labels for one clip (the NLE's numbers, not wall-clock offsets)."""

    def __init__(self, sidecar: dict[str, Any]) -> None:
        tl = _d(sidecar.get("timeline"))
        try:
            self.rate = parse_rate(str(tl.get("rate"))) if tl.get("rate") else None
        except ValueError:
            self.rate = None
        self.start = int(_f(tl.get("start_tc_frames")))
        self.drop = bool(tl.get("drop_frame"))

    def tc(self, seconds: float) -> str:
        if self.rate is None:
            return f"{seconds:.2f}s"
        from fractions import Fraction

        frame = seconds_to_frame(Fraction(max(seconds, 0.0)).limit_denominator(10**6), self.rate)
        return frames_to_tc(self.start + frame, self.rate, self.drop)


def problems(sidecar: dict[str, Any]) -> list[dict[str, Any]]:
    """Problem markers and errors first in every page: what an editor must know before cutting."""
    out: list[dict[str, Any]] = []
    for e in _l(sidecar.get("errors")):
        if isinstance(e, dict) and e.get("message"):
            out.append({"t": 0.0, "text": str(e["message"]), "what": str(e.get("stage") or "error")})
    for m in _l(sidecar.get("markers")):
        if isinstance(m, dict) and m.get("category") == "problem":
            text = " — ".join(str(x) for x in (m.get("name"), m.get("comment")) if x)
            out.append({"t": _f(m.get("seconds")), "text": text, "what": str(m.get("analyzer") or "problem")})
    return out


def shots(sidecar: dict[str, Any], link: Link, labels: TimeLabels) -> list[dict[str, Any]]:
    """Contact sheet: one keyframe per shot (shots analyzer thumbnails under keyframes/<clip>/)."""
    name = str(_d(sidecar.get("source")).get("name") or "")
    out = []
    for it in _l(_d(_d(sidecar.get("analyses")).get("shots")).get("items")):
        if not isinstance(it, dict):
            continue
        thumb = it.get("thumbnail")
        url = link(f"keyframes/{name}/{thumb}") if thumb else None
        start = _f(it.get("start_s"))
        out.append({"t": start, "end": _f(it.get("end_s")), "tc": labels.tc(start), "img": url,
                    "index": it.get("index")})
    return out


def transcript(sidecar: dict[str, Any], labels: TimeLabels) -> list[dict[str, Any]]:
    out = []
    for seg in _l(_d(_d(sidecar.get("analyses")).get("speech")).get("items")):
        if not isinstance(seg, dict) or not str(seg.get("text") or "").strip():
            continue
        words = [
            {"w": str(w.get("word") or ""), "t": _f(w.get("start_s")), "end": _f(w.get("end_s"))}
            for w in _l(seg.get("words"))
            if isinstance(w, dict) and str(w.get("word") or "").strip()
        ]
        start = _f(seg.get("start_s"))
        out.append({"t": start, "tc": labels.tc(start), "speaker": seg.get("speaker"), "text": str(seg["text"]),
                    "words": words})
    return out


def people(sidecar: dict[str, Any], link: Link) -> list[dict[str, Any]]:
    faces = _d(_d(sidecar.get("analyses")).get("faces"))
    tracks = [t for t in _l(faces.get("items")) if isinstance(t, dict)]
    out = []
    for p in _l(_d(faces.get("summary")).get("people")):
        if not isinstance(p, dict) or not p.get("id"):
            continue
        mine = [t for t in tracks if t.get("person") == p["id"]]
        first = min((_f(t.get("start_s")) for t in mine), default=0.0)
        img = link(str(p["best_image"])) if p.get("best_image") else None
        out.append({"id": str(p["id"]), "name": p.get("name"), "img": img, "t": first, "tracks": len(mine)})
    return out


def strip(sidecar: dict[str, Any], duration: float) -> list[dict[str, Any]]:
    """Timeline strip rows: markers by category as percentages of the clip's length."""
    if duration <= 0:
        return []
    rate = TimeLabels(sidecar).rate
    rows: dict[str, list[dict[str, Any]]] = {}
    for m in _l(sidecar.get("markers")):
        if not isinstance(m, dict):
            continue
        cat = str(m.get("category") or "marker")
        t = _f(m.get("seconds"))
        length = _f(m.get("duration_frames")) / float(rate) if rate else 0.0
        rows.setdefault(cat, []).append({
            "t": t, "left": round(min(max(t / duration, 0.0), 1.0) * 100, 3),
            "width": round(min(max(length / duration, 0.0), 1.0) * 100, 3),
            "title": " — ".join(str(x) for x in (m.get("name"), m.get("comment"), m.get("tc")) if x),
        })
    order = [c for c in STRIP_CATEGORIES if c in rows] + sorted(c for c in rows if c not in STRIP_CATEGORIES)
    return [{"category": c, "marks": rows[c]} for c in order]


def analyses_extra(sidecar: dict[str, Any], labels: TimeLabels) -> dict[str, Any]:
    """Tags, on-screen text, scenes and categories, when those analyses ran."""
    a = _d(sidecar.get("analyses"))
    tags: dict[str, int] = {}
    for it in _l(_d(a.get("visual")).get("items")):
        for t in _l(_d(it).get("tags")):
            if isinstance(t, dict) and t.get("label"):
                tags[str(t["label"])] = tags.get(str(t["label"]), 0) + 1
    ocr = [
        {"t": _f(it.get("start_s")), "tc": labels.tc(_f(it.get("start_s"))), "text": str(it.get("text"))}
        for it in _l(_d(a.get("ocr")).get("items")) if isinstance(it, dict) and it.get("text")
    ]
    scenes = [
        {"t": _f(it.get("start_s")), "tc": labels.tc(_f(it.get("start_s"))), "title": str(it.get("title") or ""),
         "description": str(it.get("description") or "")}
        for it in _l(_d(a.get("scenes")).get("items")) if isinstance(it, dict)
    ]
    categories = [
        " / ".join(str(p) for p in _l(c.get("path")))
        for c in _l(_d(_d(a.get("categories")).get("summary")).get("top")) if isinstance(c, dict)
    ]
    return {"tags": sorted(tags, key=lambda k: -tags[k]), "ocr": ocr, "scenes": scenes, "categories": categories}


def clip_view(sidecar: dict[str, Any], link: Link) -> dict[str, Any]:
    """Everything the clip page (and a clip's block on the card page) shows."""
    source, probe = _d(sidecar.get("source")), _d(sidecar.get("probe"))
    labels = TimeLabels(sidecar)
    duration = _f(probe.get("duration_s"))
    camera = " ".join(str(probe[k]) for k in ("camera_make", "camera_model") if probe.get(k))
    tl = _d(sidecar.get("timeline"))
    return {
        "name": str(source.get("name") or Path(str(source.get("path") or "")).name),
        "path": str(source.get("path") or ""),
        "card": source.get("card"),
        "start_tc": tl.get("start_tc"),
        "end_tc": labels.tc(duration) if duration else None,
        "rate": tl.get("rate"),
        "duration": duration_text(duration),
        "duration_s": duration,
        "camera": camera,
        "serial": probe.get("camera_serial"),
        "resolution": f"{probe['width']}x{probe['height']}" if probe.get("width") and probe.get("height") else "",
        "codec": probe.get("codec"),
        "problems": problems(sidecar),
        "shots": shots(sidecar, link, labels),
        "transcript": transcript(sidecar, labels),
        "people": people(sidecar, link),
        "strip": strip(sidecar, duration),
        **analyses_extra(sidecar, labels),
    }
