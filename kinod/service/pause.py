"""The daemon's side of :mod:`kinod.run.space`: what pausing and resuming do.

Kept out of ``daemon.py`` so the daemon only makes one call at each point.
:class:`StoragePause` is given the parts it acts on (metrics, notifier, intake queue,
store, the current clip processor, and the scheduler once there is one) and holds the
:class:`~kinod.run.space.SpaceGuard`; a full output or state file system flips
the scheduler's dispatch off, keeps the intake items that write, and on resume plans
again what failed for lack of space.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from kinod.config import Config
from kinod.run.space import SpaceGuard, install, is_disk_full, short_of_space

if TYPE_CHECKING:
    from kinod.jobs.scheduler import Scheduler
    from kinod.jobs.store import JobStore
    from kinod.run.processor import ClipProcessor
    from kinod.service.metrics import Metrics
    from kinod.service.sdnotify import Notifier
log = structlog.get_logger(__name__)

#: Intake items that write to the output or state file system and wait while it is full.
HELD_KINDS = ("ready", "finalize")


class StoragePause:
    """Pause on a full disk, resume when space returns; one per daemon."""

    def __init__(
        self,
        config: Config,
        *,
        metrics: Metrics,
        notifier: Notifier,
        intake: queue.Queue[tuple[str, Any]],
        stop_event: threading.Event,
        store: JobStore,
        processor: Callable[[], ClipProcessor],
        owner: str,
    ) -> None:
        self.metrics = metrics
        self.notifier = notifier
        self.intake = intake
        self.stop_event = stop_event
        self.store = store
        self.processor = processor  # a callable: a SIGHUP reload replaces the processor
        self.owner = owner
        self.scheduler: Scheduler | None = None  # made after the guard; see attach()
        self.guard = self.make_guard(config)

    def make_guard(self, cfg: Config) -> SpaceGuard:
        """The daemon's guard, installed for the tasks, wired to pause and resume it."""
        guard = SpaceGuard(
            [cfg.output.root, cfg.state.dir],
            min_free_bytes=cfg.storage.min_free_mb * 2**20,
            max_backoff_s=cfg.storage.retry_max_seconds,
            on_change=self.storage_changed,
        )
        install(guard)
        return guard

    def attach(self, scheduler: Scheduler) -> None:
        """The scheduler, once made: its dispatch is what pausing switches off."""
        self.scheduler = scheduler

    def storage_changed(self, full: bool, why: str) -> None:
        """Runs on whichever thread saw the change: flip the switches, leave the work to intake."""
        self.metrics.storage_full.set(1 if full else 0)
        sched = self.scheduler
        if sched is not None and not self.stop_event.is_set():
            sched.accepting = not full  # running tasks finish; nothing new starts
        if full:
            self.metrics.errors.labels("disk_full").inc()
            self.notifier.status(f"paused: storage full: {why}")
        else:
            self.intake.put(("resume", None))

    def hold(self, kind: str, arg: Any) -> bool:
        """True when this intake item must wait for space (it is kept for the resume)."""
        guard = self.guard
        if kind not in HELD_KINDS:
            return False
        if guard.full or (kind == "ready" and guard.check_before_intake()):
            guard.defer((kind, arg))
            return True
        return False

    def intake_failed(self, kind: str, arg: Any, error: BaseException) -> bool:
        """An intake item failed: if for lack of space (the state file), keep it for the resume."""
        keep = (kind, arg) if kind in (*HELD_KINDS, "seen", "replan") else None
        return self.guard.defer_if_full(keep, error, note="intake waits for space", what=kind)

    def tick_failed(self, error: BaseException) -> None:
        """The scheduler could not write the state file for lack of space: pause until there is some."""
        if is_disk_full(error):
            self.guard.report_full(str(error))

    def resume(self) -> None:
        """On the intake thread, once space is back: plan again what failed, then the held items."""
        items, hit = self.guard.take_back()
        store = self.store
        requeued = 0
        for fp in sorted(hit):
            known = store.clips.get(fp)
            if known is None:
                continue
            store.queue.reset_failed(fp)
            try:  # the stored clip: every chapter and audio essence, as its card was read
                self.processor().enqueue_known(known, retry_failed=True, owner=self.owner)
                requeued += 1
            except Exception as e:  # the clip may be gone meanwhile
                log.warning("cannot plan again after the disk was full", fingerprint=fp, error=str(e))
        for kind, arg in items:
            if kind == "finalize" and (arg in hit or not store.queue.is_settled(arg)):
                continue  # it finalizes when its re-planned work settles
            self.intake.put((kind, arg))
        if self.scheduler is not None:
            self.scheduler.notify()
        log.info("resumed after the disk was full", clips_planned_again=requeued, held_items=len(items))

    def health(self, info: dict[str, Any]) -> dict[str, Any]:
        """/healthz body: ``degraded`` with the reason while storage is full (the process is alive)."""
        guard = self.guard
        if guard.full and info.get("status") == "ok":
            info = {**info, "status": "degraded", "storage": guard.reason}
        return info

    def stop(self) -> None:
        self.guard.stop()


def status_lines(config: Config) -> list[str]:
    """For ``kinod status``: the folders short of space."""
    # at least 1 MiB: with storage.min_free_mb = 0 a full file system is still worth saying
    why = short_of_space([config.output.root, config.state.dir], max(config.storage.min_free_mb, 1) * 2**20)
    return [f"storage full: {why}; kinod pauses intake until there is space"] if why else []
