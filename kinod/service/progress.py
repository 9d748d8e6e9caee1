"""Progress a person can follow: each card and clip logged as it starts, with its place and an ETA.

The scheduler reports to one observer; this one passes every report on to the metrics
and, when a clip's pass starts, says which clip of which card it is (clip 3/9) and when
the card should be done at the rate its clips have gone so far
(:meth:`kinod.jobs.card_store.CardStore.eta`, which ``kinod status`` shows too).
The same ETA is the ``kinod_card_eta_seconds`` gauge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog

from kinod.jobs.store import JobStore
from kinod.jobs.tasks import Task, TaskOutcome

log = structlog.get_logger("kinod.service.daemon")


class ProgressObserver:
    """The scheduler's observer: the metrics' reports plus the progress log and ETA gauge."""

    def __init__(self, metrics: Any, store: JobStore) -> None:
        self.metrics = metrics
        self.store = store
        self._started_cards: set[str] = set()

    def task_started(self, task: Task) -> None:
        self.metrics.task_started(task)
        if task.kind == "pass":
            try:
                self._clip_started(task)
            except Exception as e:  # progress is a courtesy: never the scheduler's problem
                log.warning("cannot tell the progress of a clip", error=str(e))

    def task_finished(self, task: Task, outcome: TaskOutcome, state: str) -> None:
        self.metrics.task_finished(task, outcome, state)
        card = self._card_of(task)
        if card is not None:
            eta = self.store.cards.eta(card)
            self.metrics.card_eta(card, eta.eta_s if eta.finished < eta.clips else None)

    def slots(self, cpu: int, gpu: int, gpu_mem_mb: int, queued_in_memory: int) -> None:
        self.metrics.slots(cpu, gpu, gpu_mem_mb, queued_in_memory)

    def overhead(self, seconds: float, cpu_seconds: float, dispatched: int) -> None:
        self.metrics.overhead(seconds, cpu_seconds, dispatched)

    def _card_of(self, task: Task) -> str | None:
        rows = self.store.clips.paths_of(task.fingerprint)
        return next((r.card_path for r in rows if r.card_path), None)

    def _clip_started(self, task: Task) -> None:
        card = self._card_of(task)
        if card is None:
            log.info("clip started", clip=task.path)
            return
        eta = self.store.cards.eta(card)
        position = max(1, eta.position)
        if card not in self._started_cards:
            self._started_cards.add(card)
            log.info("card started", card=card, clips=eta.clips)
        log.info(
            "clip started",
            clip=Path(task.path).name,
            card=card,
            position=f"{position}/{eta.clips}",
            eta_s=None if eta.eta_s is None else round(eta.eta_s),
        )
        self.metrics.card_eta(card, eta.eta_s)
