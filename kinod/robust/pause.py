"""The daemon's side of :mod:`kinod.robust.space`: what pausing and resuming do.

Kept out of ``daemon.py`` so the daemon only makes one call at each point; the
functions take the daemon object and use its store, processor, scheduler, metrics
and intake queue.
"""

from __future__ import annotations

from typing import Any

import structlog

from kinod.config import Config
from kinod.robust.space import SpaceGuard, install, is_disk_full, short_of_space

log = structlog.get_logger(__name__)

#: Intake items that write to the output or state file system and wait while it is full.
HELD_KINDS = ("ready", "finalize")


def make_guard(daemon: Any) -> SpaceGuard:
    """The daemon's guard, installed for the tasks, wired to pause and resume it."""
    cfg: Config = daemon.config
    guard = SpaceGuard(
        [cfg.output.root, cfg.state.dir],
        min_free_bytes=cfg.storage.min_free_mb * 2**20,
        max_backoff_s=cfg.storage.retry_max_seconds,
        on_change=lambda full, why: storage_changed(daemon, full, why),
    )
    install(guard)
    return guard


def storage_changed(daemon: Any, full: bool, why: str) -> None:
    """Runs on whichever thread saw the change: flip the switches, leave the work to intake."""
    daemon.metrics.storage_full.set(1 if full else 0)
    sched = getattr(daemon, "scheduler", None)
    if sched is not None and not daemon.stop_event.is_set():
        sched.accepting = not full  # running tasks finish; nothing new starts
    if full:
        daemon.metrics.errors.labels("disk_full").inc()
        daemon.notifier.status(f"paused: storage full: {why}")
    else:
        daemon.intake.put(("resume", None))


def hold(daemon: Any, kind: str, arg: Any) -> bool:
    """True when this intake item must wait for space (it is kept for the resume)."""
    guard: SpaceGuard = daemon.space
    if kind not in HELD_KINDS:
        return False
    if guard.full or (kind == "ready" and guard.check_before_intake()):
        guard.defer((kind, arg))
        return True
    return False


def finalize_failed(daemon: Any, fp: str, error: BaseException) -> bool:
    """A clip's outputs could not be written: True if for lack of space (then it waits, not fails)."""
    if not is_disk_full(error):
        return False
    daemon.space.report_full(f"{error}", None)
    daemon.space.defer(("finalize", fp))
    log.warning("clip outputs wait for space", fingerprint=fp, error=str(error))
    return True


def intake_failed(daemon: Any, kind: str, arg: Any, error: BaseException) -> bool:
    """An intake item failed: if for lack of space (the state file), keep it for the resume."""
    if not is_disk_full(error):
        return False
    daemon.space.report_full(str(error))
    if kind in (*HELD_KINDS, "seen", "replan"):
        daemon.space.defer((kind, arg))
    log.warning("intake waits for space", what=kind, error=str(error))
    return True


def tick_failed(daemon: Any, error: BaseException) -> None:
    """The scheduler could not write the state file for lack of space: pause until there is some."""
    if is_disk_full(error):
        daemon.space.report_full(str(error))


def resume(daemon: Any) -> None:
    """On the intake thread, once space is back: plan again what failed, then the held items."""
    items, hit = daemon.space.take_back()
    store = daemon.store
    requeued = 0
    for fp in sorted(hit):
        known = store.clips.get(fp)
        if known is None:
            continue
        store.queue.reset_failed(fp)
        try:  # the stored clip: every chapter and audio essence, as its card was read
            daemon.processor.enqueue_known(known, retry_failed=True, owner=daemon.owner)
            requeued += 1
        except Exception as e:  # the clip may be gone meanwhile
            log.warning("cannot plan again after the disk was full", fingerprint=fp, error=str(e))
    for kind, arg in items:
        if kind == "finalize" and (arg in hit or not store.queue.is_settled(arg)):
            continue  # it finalizes when its re-planned work settles
        daemon.intake.put((kind, arg))
    daemon.scheduler.notify()
    log.info("resumed after the disk was full", clips_planned_again=requeued, held_items=len(items))


def health(daemon: Any, info: dict[str, Any]) -> dict[str, Any]:
    """/healthz body: ``degraded`` with the reason while storage is full (the process is alive)."""
    guard = getattr(daemon, "space", None)
    if guard is not None and guard.full and info.get("status") == "ok":
        info = {**info, "status": "degraded", "storage": guard.reason}
    return info


def status_lines(config: Config) -> list[str]:
    """For ``kinod status``: the folders short of space."""
    # at least 1 MiB: with storage.min_free_mb = 0 a full file system is still worth saying
    why = short_of_space([config.output.root, config.state.dir], max(config.storage.min_free_mb, 1) * 2**20)
    return [f"storage full: {why}; kinod pauses intake until there is space"] if why else []
