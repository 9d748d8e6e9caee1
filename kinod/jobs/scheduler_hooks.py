"""What the scheduler talks to besides the store and the executor: its observer and its task filler."""

from __future__ import annotations

from typing import Protocol

from kinod.jobs.tasks import Task, TaskOutcome


class SchedulerObserver(Protocol):
    """What the scheduler reports (metrics implement it)."""

    def task_started(self, task: Task) -> None: ...
    def task_finished(self, task: Task, outcome: TaskOutcome, state: str) -> None: ...
    def slots(self, cpu: int, gpu: int, gpu_mem_mb: int, queued_in_memory: int) -> None: ...
    def overhead(self, seconds: float, cpu_seconds: float, dispatched: int) -> None: ...


class TaskFiller(Protocol):
    """The coordinator's side of a self-contained task (see :mod:`kinod.run.task_facts`)."""

    def blocked(self, task: Task) -> bool: ...
    def fill(self, task: Task) -> Task: ...


class QuietObserver:
    """The observer when none is given: reports go nowhere."""

    def task_started(self, task: Task) -> None:
        return None

    def task_finished(self, task: Task, outcome: TaskOutcome, state: str) -> None:
        return None

    def slots(self, cpu: int, gpu: int, gpu_mem_mb: int, queued_in_memory: int) -> None:
        return None

    def overhead(self, seconds: float, cpu_seconds: float, dispatched: int) -> None:
        return None
