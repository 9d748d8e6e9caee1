"""Sidecars and card reports → the plain data the templates show.

Kept apart from the web app so the static ``card.html`` and the live pages render the
same page from the same data; only the URLs differ (``link``: relative file paths for
the static file, ``/media/...`` for the live page). Each analysis is drawn from the
sections its analyzer builds (``ui_sections``, found through :mod:`kinod.contracts.catalog`), and
the marker strip takes labels, colours and row order from the declared categories, so
no analyzer is named here. Everything is read defensively: a sidecar from an older
kinod, or without some analysis, shows less, never an error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from kinod.contracts import catalog
from kinod.contracts.declarations import ReadContext, UiSection
from kinod.media.timecode import frames_to_tc, parse_rate, seconds_to_frame

#: Link maker: path relative to the clip's output folder → URL (or None when not servable).
Link = Callable[[str], str | None]
log = structlog.get_logger(__name__)


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


def sections(sidecar: dict[str, Any], link: Link, labels: TimeLabels) -> list[UiSection]:
    """The page blocks every installed analyzer builds from its record, in page order."""
    analyses = _d(sidecar.get("analyses"))
    source = _d(sidecar.get("source"))
    ctx = ReadContext(duration_s=_f(_d(sidecar.get("probe")).get("duration_s")),
                      clip_name=str(source.get("name") or ""), tc=labels.tc, link=link)
    found: list[UiSection] = []
    for name, reader in catalog.readers().items():
        record = analyses.get(name)
        if not isinstance(record, dict):
            continue
        try:
            found += reader.ui_sections(record, ctx)
        except Exception as e:  # a third-party hook must not take the page down
            log.warning("analyzer could not show its record", analyzer=name, error=str(e))
    return sorted(found, key=lambda x: x.order)


def merge_sections(found: list[UiSection]) -> list[UiSection]:
    """Sections sharing a title become one (categories and visual tags share one "Tags" block); empty ones go."""
    merged: dict[str, UiSection] = {}
    for sec in found:
        have = merged.get(sec.title)
        if have is not None:
            sec = UiSection(have.title, have.panel, [*have.rows, *sec.rows], have.order, have.key)
        merged[sec.title] = sec
    return [sec for sec in merged.values() if sec.rows]


def strip(sidecar: dict[str, Any], duration: float) -> list[dict[str, Any]]:
    """Timeline strip rows: markers by category (by person for faces) as percentages of the clip's length.

    Every mark is cut to the clip: it starts inside it and never ends past its end.
    """
    if duration <= 0:
        return []
    rate = TimeLabels(sidecar).rate
    known = catalog.marker_categories()
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in _l(sidecar.get("markers")):
        if not isinstance(m, dict):
            continue
        cat = str(m.get("category") or "marker")
        spec = known.get(cat)
        lane = str(m.get("name") or "") if spec is not None and spec.lane_per_name else ""
        t = min(max(_f(m.get("seconds")), 0.0), duration)
        length = _f(m.get("duration_frames")) / float(rate) if rate else 0.0
        length = min(max(length, 0.0), duration - t)  # never past the clip's end
        rows.setdefault((cat, lane), []).append({
            "t": t, "left": round(t / duration * 100, 3), "width": round(length / duration * 100, 3),
            "title": " — ".join(str(x) for x in (m.get("name"), m.get("comment"), m.get("tc")) if x),
        })
    order = [k for c in known for k in sorted(rows) if k[0] == c] + sorted(k for k in rows if k[0] not in known)
    return [{"category": c, "label": lane or (known[c].title if c in known else c), "lane": lane,
             "color": known[c].color if c in known else "", "marks": rows[(c, lane)]} for c, lane in order]


def ruler(sidecar: dict[str, Any], duration: float, ticks: int = 8) -> list[dict[str, Any]]:
    """Evenly spaced source TC labels along the strip (the NLE's numbers)."""
    if duration <= 0:
        return []
    labels = TimeLabels(sidecar)
    return [{"left": round(100 * k / ticks, 3), "t": duration * k / ticks, "tc": labels.tc(duration * k / ticks)}
            for k in range(ticks)]


def clip_view(sidecar: dict[str, Any], link: Link) -> dict[str, Any]:
    """Everything the clip page (and a clip's block on the card page) shows."""
    source, probe = _d(sidecar.get("source")), _d(sidecar.get("probe"))
    labels = TimeLabels(sidecar)
    duration = _f(probe.get("duration_s"))
    camera = " ".join(str(probe[k]) for k in ("camera_make", "camera_model") if probe.get(k))
    tl = _d(sidecar.get("timeline"))
    blocks = sections(sidecar, link, labels)
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
        "strip": strip(sidecar, duration),
        "ruler": ruler(sidecar, duration),
        "audio_only": probe.get("has_video") is False or (not probe.get("width") and bool(probe.get("audio"))),
        # By key too: the card page shows a clip's shots, people and tags in a line each.
        **{sec.key: sec.rows for sec in blocks if sec.key},
        "sections": merge_sections(blocks),
    }
