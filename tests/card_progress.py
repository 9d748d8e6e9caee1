"""A card in work, written to the real job store the daemon uses: its card row, clips and jobs.

The browse UI reads progress from the store; these helpers put a card there and move its
jobs on as a worker would (``finish_job``), so pages can be watched updating.
"""

from __future__ import annotations

from pathlib import Path

from kinod.jobs.schema import JobSpec
from kinod.jobs.store import JobStore


def start_card(state_dir: Path, card_path: Path, clips: int = 2, analyzers: tuple[str, ...] = ("shots", "speech"),
               ) -> list[str]:
    """Register ``card_path`` as a card being analysed with ``clips`` clips; returns its job keys."""
    store = JobStore(state_dir / "kinod.sqlite")
    try:
        name = card_path.name
        store.cards.upsert(name, root=str(card_path.parent), path=str(card_path), name=name, loose=False,
                           state="analyzing", clips=clips)
        keys = []
        for i in range(clips):
            fp = f"{name}-fp{i}"
            path = str(card_path / f"C{i:04d}.mp4")
            store.clips.upsert(fp, path, 1000, name, "analyzing", card_path=str(card_path))
            specs = [JobSpec(f"{fp}:{a}", fp, a, "1", "x", None, path) for a in analyzers]
            keys += store.queue.enqueue(specs)
        return keys
    finally:
        store.close()


def finish(state_dir: Path, keys: list[str]) -> None:
    """Mark jobs done, as a worker does when it has recorded their results."""
    store = JobStore(state_dir / "kinod.sqlite")
    try:
        for k in keys:
            store.queue.finish_job(k, "test-worker", state="done", record={})
    finally:
        store.close()
