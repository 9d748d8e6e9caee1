"""The sync table of a card or day: which clip got which sound, how, and what stayed unsynced and why.

Written as ``sync.json`` and ``sync.html`` beside the card report, and merged into
``card.kino.json`` (key ``sync``) when the card report is there, so one file still
accounts for the whole card.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from kinod.export.sync_model import MulticamGroup, SoundFile, SyncedClip, sync_block
from kinod.media.fsutil import atomic_write_json, atomic_write_text


def sync_table(clips: list[SyncedClip], groups: list[MulticamGroup], sounds: list[SoundFile]) -> dict[str, Any]:
    used = {m.sound.path for c in clips for m in c.synced}
    return {
        "clips": [{"path": c.picture.path, "name": c.picture.name, **sync_block(c, groups)} for c in clips],
        "multicam": [
            {
                "name": g.name,
                "angles": [{"name": a.picture.name, "at_s": float(a.at_s), "method": a.method} for a in g.angles],
                "sounds": [{"name": s.name, "at_s": float(at)} for s, at in g.sounds],
            }
            for g in groups
        ],
        "unused_sounds": [
            {"path": s.path, "name": s.name, "problems": s.problems or ["no picture clip matched it"]}
            for s in sounds
            if s.path not in used
        ],
    }


def write_sync_table(table: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "sync.json", out_dir / "sync.html"]
    atomic_write_json(written[0], table)
    atomic_write_text(written[1], render_sync_html(table))
    card = out_dir / "card.kino.json"
    if card.is_file():
        try:
            report = json.loads(card.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return written
        if isinstance(report, dict):
            report["sync"] = table
            atomic_write_json(card, report)
            written.append(card)
    return written


def render_sync_html(table: dict[str, Any]) -> str:
    e = lambda v: html.escape("" if v is None else str(v))  # noqa: E731
    rows = []
    for c in table["clips"]:
        sounds = c["sounds"] or [None]
        for s in sounds:
            if s is None:
                rows.append(f"<tr><td>{e(c['name'])}</td><td colspan=6>unsynced: {e(c['unsynced_reason'])}</td></tr>")
                continue
            cells = (c["name"], s["name"], s["status"], s["method"], s["offset_samples"], f"{s['offset_frames']:.2f}")
            rows.append("<tr>" + "".join(f"<td>{e(v)}</td>" for v in cells) + f"<td>{e(s['confidence'])}</td></tr>")
    groups = "".join(
        f"<li>{e(g['name'])}: " + ", ".join(f"{e(a['name'])} at {a['at_s']:.4f} s" for a in g["angles"]) + "</li>"
        for g in table["multicam"]
    )
    unused = "".join(f"<li>{e(s['name'])}: {e('; '.join(s['problems']))}</li>" for s in table["unused_sounds"])
    head = "<tr><th>clip</th><th>sound</th><th>status</th><th>method</th><th>offset (samples)</th>"
    head += "<th>offset (frames)</th><th>confidence</th></tr>"
    return (
        "<!doctype html><meta charset=utf-8><title>kinod sync</title><h1>Sync</h1>"
        f"<table border=1>{head}{''.join(rows)}</table><h2>Multicam</h2><ul>{groups}</ul>"
        f"<h2>Sound files not used</h2><ul>{unused}</ul>"
    )
