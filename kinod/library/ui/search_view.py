"""Search hits → what the search page shows: hits grouped by clip, each with a thumbnail.

A hit's thumbnail is the keyframe nearest its time (from the clip's contact sheet),
or, for a hit on a person, that person's face; each clip's sidecar is read once per
page. The filters list what exists in the library (people, tags, categories, cards,
dates), so an empty search shows where to start rather than "0 hits".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kinod.export.sidecar import SidecarError, read_sidecar
from kinod.library.index.db import SearchIndex
from kinod.library.index.hits import Hit, plain_snippet
from kinod.library.ui import views

#: Output folder of a clip → the link maker for its files.
LinkFor = Callable[[Path], views.Link]


def _pictures(sidecar: dict[str, Any], link: views.Link) -> tuple[list[tuple[float, str]], dict[str, str]]:
    """(time, keyframe URL) of every contact-sheet frame, and face URL by person id and name."""
    frames: list[tuple[float, str]] = []
    faces: dict[str, str] = {}
    for sec in views.sections(sidecar, link, views.TimeLabels(sidecar)):
        if sec.panel == "contact":
            frames += [(float(r.get("t") or 0.0), r["img"]) for r in sec.rows if r.get("img")]
        elif sec.panel == "people":
            for r in sec.rows:
                if r.get("img"):
                    faces[str(r.get("id"))] = r["img"]
                    if r.get("name"):
                        faces[str(r["name"])] = r["img"]
    return sorted(frames), faces


def thumbnail(hit: Hit, frames: list[tuple[float, str]], faces: dict[str, str]) -> str | None:
    """The face for a person hit, else the keyframe nearest the hit's start."""
    if hit.kind == "person" or "person" in hit.sources:
        said = plain_snippet(hit.snippet).replace("[", "").replace("]", "")
        face = faces.get(hit.label) or next((img for key, img in faces.items() if key and key in said), None)
        if face:
            return face
    if not frames:
        return None
    return min(frames, key=lambda f: abs(f[0] - hit.start_s))[1]


def grouped(hits: list[Hit], link_for: LinkFor, clip_url: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """Hits by clip (clips in the order of their best hit), each hit with its row for the page."""
    groups: dict[str, dict[str, Any]] = {}
    pictures: dict[str, tuple[list[tuple[float, str]], dict[str, str]]] = {}
    for pos, h in enumerate(hits):
        if h.sidecar not in pictures:
            try:
                sc = read_sidecar(Path(h.sidecar))
                pictures[h.sidecar] = _pictures(sc, link_for(Path(h.sidecar).parent))
            except (SidecarError, OSError):
                pictures[h.sidecar] = ([], {})
        frames, faces = pictures[h.sidecar]
        g = groups.setdefault(h.path, {"name": h.name, "path": h.path, "card": h.card, "url": clip_url(h.sidecar),
                                       "hits": []})
        g["hits"].append({**h.to_json(), "pos": pos, "snippet_raw": h.snippet, "thumb": thumbnail(h, frames, faces)})
    return list(groups.values())


def filter_options(index: SearchIndex) -> dict[str, list[tuple[str, int]]]:
    """What each filter can be set to, from the index: people by name, tags, categories, cards, dates."""
    if not index.exists():
        return {}
    out = index.facet_values()
    out["person"] = [(p["name"], p["clips"]) for p in index.people()][:40]
    return out
