"""The library's cards as the pages show them: what is indexed, and how far the cards in work are.

One function, :func:`library_cards`, feeds the library grid, the card page's header and
``/progress.json`` (which the pages poll to update without a reload), so every page
shows the same counts: a card's problems are its clips' problems (the index) plus
those of its card report, and its progress is its own jobs, never the whole queue's.

A card in work may have no output folder and no indexed clip yet; it is listed from the
job store with its own progress, under the output folder it will get (the folder
mirroring the card below its watch root, else the card's name, as the daemon places it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import structlog

from kinod.config import Config
from kinod.library.index.db import SearchIndex
from kinod.library.ui.paths import rel_to

log = structlog.get_logger(__name__)

FINISHED = ("done", "failed", "cancelled")


def output_rel(config: Config, card_path: str, name: str | None) -> str:
    """The output folder of a card, relative to the output root (see the daemon's card_output_dir)."""
    card = Path(card_path).absolute()
    for root in config.watch.roots:
        r = Path(root.path).absolute()
        if card.is_relative_to(r):
            return card.relative_to(r).as_posix()
    return name or card.name


def busy_cards(config: Config) -> dict[str, dict[str, Any]]:
    """Cards in work (or just finished), by output folder: state, their own job and clip counts."""
    from kinod.jobs.store import JobStore, StoreError

    try:
        store = JobStore(config.state.dir / "kinod.sqlite", readonly=True)
    except StoreError:
        return {}
    try:
        rows = store.cards.busy()
    except Exception as e:  # a locked or older state file: the pages show no progress
        log.warning("ui: card progress unavailable", error=str(e))
        return {}
    finally:
        store.close()
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        total = sum(r["jobs"].values())
        finished = sum(r["jobs"].get(s, 0) for s in FINISHED)
        clips_total = sum(r["clips"].values())
        out[output_rel(config, r["path"], r["name"])] = {
            "name": r["name"], "state": r["state"], "jobs": r["jobs"], "total": total, "finished": finished,
            "percent": round(100 * finished / total) if total else (100 if r["state"] == "done" else 0),
            "clips": r["clips"], "clips_total": clips_total, "clips_done": r["clips"].get("done", 0),
            "working": r["state"] not in ("done", "failed"),
        }
    return out


def report_problems(folder: Path) -> int:
    """Problems the card report lists for the card as a whole (files, verification)."""
    f = folder / "card.kino.json"
    try:
        data = json.loads(f.read_text(encoding="utf-8")) if f.is_file() else None
    except (OSError, ValueError):
        return 0
    if not isinstance(data, dict) or data.get("schema") != "kinod.card":
        return 0
    return len(data.get("problems") or [])


def library_cards(config: Config, index: SearchIndex, out_root: Path, *, details: bool = True,
                  ) -> list[dict[str, Any]]:
    """Every card: indexed folders and cards in work, each with poster, dates, camera, people, counts, progress.

    ``details=False`` (what a page polls every few seconds) leaves out the poster, dates,
    camera and people: counts and progress only.
    """
    root = out_root.resolve()
    busy = busy_cards(config)
    about = index.folder_details() if details and index.exists() else {}
    cards: dict[str, dict[str, Any]] = {}
    for f in index.folders() if index.exists() else []:
        rel = rel_to(root, Path(f["folder"])) or rel_to(out_root, Path(f["folder"]))
        if rel is None:
            continue
        rel = "" if rel == "." else rel
        d = about.get(f["folder"], {})
        poster = None
        if d.get("poster"):
            poster = f"/media/{rel}/{d['poster']}" if rel else f"/media/{d['poster']}"
        cards[rel] = {
            "rel": rel, "name": f["card"] or rel or "(output root)", "clips": f["clips"],
            "duration_s": f["duration_s"] or 0.0, "problems": int(f["problems"] or 0) + report_problems(
                Path(f["folder"])), "first": (d.get("first") or "")[:10], "last": (d.get("last") or "")[:10],
            "poster": poster, "camera": _camera(d.get("poster_sidecar")) if details else "",
            "people": d.get("people", [])[:6],
        }
    for rel, prog in busy.items():
        card = cards.setdefault(rel, {"rel": rel, "name": prog["name"], "clips": 0, "duration_s": 0.0,
                                      "problems": report_problems(out_root / rel), "first": "", "last": "",
                                      "poster": None, "camera": "", "people": []})
        card["progress"] = prog
    # Cards in work first, then those with problems (what an editor must know before cutting), newest first.
    return sorted(cards.values(), key=lambda c: (not (c.get("progress") or {}).get("working"), not c["problems"],
                                                  c["last"] == "", _neg(c["last"]), c["rel"]))


def _neg(date: str) -> str:
    """Newest first within a sort that is otherwise ascending."""
    return "".join(chr(0x10FFFF - ord(ch)) for ch in date)


def _camera(sidecar: str | None) -> str:
    """Make and model of the card's poster clip (one sidecar read per card)."""
    if not sidecar:
        return ""
    try:
        data = json.loads(Path(sidecar).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    probe = data.get("probe") if isinstance(data, dict) and isinstance(data.get("probe"), dict) else {}
    return " ".join(str(probe[k]) for k in ("camera_make", "camera_model") if probe.get(k))


def card_by_rel(cards: list[dict[str, Any]], rel: str) -> dict[str, Any] | None:
    return next((c for c in cards if c["rel"] == rel), None)
