"""What ``kinod status`` says about distributed workers: live workers, held jobs, refusals.

Read from the files under ``<state.shared_dir>/dist`` (worker records, the coordinator's
``held.json``), so status needs no broker connection and works with the daemon down.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from kinod.jobs.registry_workers import read_records


def dist_status(state_dir: Path, timeout_s: float) -> dict[str, Any] | None:
    """None when this state dir never ran with ``jobs.executor = "dramatiq"``."""
    root = state_dir / "dist"
    if not root.is_dir():
        return None
    now = time.time()
    workers = [
        {
            "id": w.id,
            "host": w.host,
            "queues": w.queues,
            "live": now - w.heartbeat <= timeout_s,
            "heartbeat_age_s": round(now - w.heartbeat, 1),
            "running": w.current,
            "done": w.done,
            "gpu": w.gpu,
            "version": w.version,
        }
        for w in read_records(root / "workers")
    ]
    try:
        held = json.loads((root / "held.json").read_text())
    except (OSError, ValueError):
        held = {}
    return {
        "workers": workers,
        "held": held.get("held", []),
        "refused_workers": held.get("refused_workers", {}),
        "broker_up": held.get("broker_up"),
    }


def print_dist_status(data: dict[str, Any]) -> None:
    print("\nWORKERS")
    for w in data["workers"]:
        state = "live" if w["live"] else f"silent {w['heartbeat_age_s']}s"
        if w["id"] in data["refused_workers"]:
            state = "REFUSED"
        print(
            f"  {w['id']:<24} {state:<12} queues={','.join(w['queues'])} running={len(w['running'])} done={w['done']}"
        )
        for why in data["refused_workers"].get(w["id"], []):
            print(f"      refused: {why}")
    if not data["workers"]:
        print("  (no worker has registered)")
    if data["broker_up"] is False:
        print("  broker unreachable: tasks are kept and re-sent when it is back")
    if data["held"]:
        print(f"\nheld ({len(data['held'])} task(s) wait for a live compatible worker):")
        for h in data["held"][:20]:
            print(f"  {h['queue']}: {h['analyzer']} {h['path']}: {h['why']}")
