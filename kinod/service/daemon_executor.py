"""How the daemon runs tasks: threads, worker processes, or Dramatiq workers on other machines.

Its own module so the daemon's start-up reads as wiring: which executor
``jobs.executor`` asks for, how many tasks may run at once with it, and (for
Dramatiq) adopting what a killed coordinator still had in flight before the
daemon's recovery would requeue it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kinod.config import Config
from kinod.jobs.executor import LocalExecutor, ProcessExecutor
from kinod.jobs.scheduler import Limits, limits_for
from kinod.jobs.store import JobStore
from kinod.jobs.tasks import Task, TaskOutcome
from kinod.run.processor import ClipProcessor, make_runner
from kinod.service.metrics import Metrics

if TYPE_CHECKING:
    from kinod.jobs.dramatiq_executor import DramatiqExecutor


def start_dist(
    config: Config, processor: ClipProcessor, metrics: Metrics, store: JobStore, owner: str
) -> tuple[DramatiqExecutor | None, list[Task]]:
    """With ``jobs.executor = "dramatiq"``: connect to the broker, and adopt what a killed coordinator had in flight."""
    if config.jobs.executor != "dramatiq":
        return None, []
    from kinod.jobs.dramatiq_executor import DistCollector, DramatiqExecutor
    from kinod.service.worker import model_hashes
    dist = DramatiqExecutor(config, model_hashes(processor.analyzers))
    metrics.registry.register(DistCollector(dist))
    outbox = dist.outbox_tasks()
    moved = store.queue.adopt_leases([t.key for t, _q, _e in outbox], owner, config.jobs.lease_seconds)
    return dist, dist.adopt(outbox, moved)


def slot_limits(config: Config, dist: DramatiqExecutor | None) -> tuple[Limits, str]:
    """How much may run at once, and why: local slots, or (Dramatiq) the tasks in flight on workers."""
    j = config.jobs
    if dist is not None:  # remote workers, not local slots, bound the work
        n = config.broker.max_in_flight
        gpu = n if j.device != "cpu" and j.gpu_workers else 0
        return Limits(n, gpu, 0), f"dramatiq executor: up to {n} tasks in flight on workers"
    return limits_for(j.cpu_workers, j.gpu_workers, j.device, j.gpu_memory_mb)


def make_executor(config: Config, dist: DramatiqExecutor | None, run_task: Callable[[Task, Any], TaskOutcome]) -> Any:
    """Threads (default), worker processes (``jobs.executor = "process"``) or Dramatiq workers."""
    if dist is not None:
        return dist
    if config.jobs.executor == "process":
        return ProcessExecutor(functools.partial(make_runner, config))
    return LocalExecutor(run_task)


def apply_reload(config: Config, executor: Any, dist: DramatiqExecutor | None, processor: ClipProcessor) -> None:
    """After SIGHUP: worker processes start with the new config; Dramatiq workers must match the new models."""
    if isinstance(executor, ProcessExecutor):
        executor.replace_factory(functools.partial(make_runner, config))
    if dist is not None:
        from kinod.service.worker import model_hashes
        dist.set_models(model_hashes(processor.analyzers))
