"""What the daemon does with a watch event, on the watcher's thread.

Urgent and cheap things happen here (metrics, cancelling the work of a card whose
files changed); everything slow goes to the intake thread through ``submit``, so a
slow NAS read never holds up the watcher.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kinod.service.metrics import Metrics
from kinod.watch.events import CardChanged, CardReady, CardSeen, RootState, ScanDone, WatchEvent, WatchProblem


def route_watch_event(
    ev: WatchEvent, metrics: Metrics, submit: Callable[[str, Any], None], changed: Callable[[CardChanged], None]
) -> None:
    """Count the event, then hand it on: ``changed`` at once, cards seen or ready to the intake thread."""
    if isinstance(ev, CardSeen):
        if ev.first_time:
            metrics.cards_seen.inc()
        metrics.files_detected.inc(ev.new_files)
        submit("seen", ev)
    elif isinstance(ev, CardReady):
        metrics.cards_ready.inc()
        submit("ready", ev)
    elif isinstance(ev, CardChanged):
        changed(ev)
    elif isinstance(ev, WatchProblem):
        metrics.errors.labels(ev.kind).inc()
    elif isinstance(ev, RootState):
        metrics.root_up.labels(str(ev.root)).set(1 if ev.up else 0)
        metrics.root_polling.labels(str(ev.root)).set(1 if ev.mode == "poll" else 0)
    elif isinstance(ev, ScanDone) and not ev.roots_down:
        metrics.last_scan.set(ev.at)
