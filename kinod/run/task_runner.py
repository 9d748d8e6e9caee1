"""Running one task, whatever its kind: the entry point of every executor.

The same code runs in the daemon's threads, in its worker processes and in
``kinod worker`` on another machine; it holds no job store, so where it runs needs only
the task and the footage (a pass) or the analysis cache (a model task).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from kinod.analyzers.base import Analyzer
from kinod.config import Config
from kinod.jobs.tasks import Task, TaskOutcome
from kinod.run.analyzer_set import AnalyzerSet
from kinod.run.common import BranchProvider
from kinod.run.model_runner import ModelRunner
from kinod.run.pass_runner import PassRunner

Progress = Callable[[int, int], None]


def run_task(
    task: Task,
    cancelled: Callable[[], bool],
    passes: PassRunner,
    models: ModelRunner,
    progress: Progress | None = None,
) -> TaskOutcome:
    """Dispatch on the task's kind, with the clip and analyzer bound to every log line."""
    with structlog.contextvars.bound_contextvars(clip=task.path, task=task.kind, analyzer=task.analyzer):
        if task.kind == "pass":
            return passes.run(task, cancelled, progress)
        return models.run(task, cancelled)


class TaskRunner:
    """A pass runner and a model runner over one analyzer set: what an executor calls."""

    def __init__(
        self,
        config: Config,
        analyzers: AnalyzerSet | None = None,
        *,
        classes: Sequence[type[Analyzer]] | None = None,
        branch_providers: Sequence[BranchProvider] | None = None,
    ) -> None:
        one_opencv_thread()
        self.analyzers = analyzers if analyzers is not None else AnalyzerSet(config, classes)
        self.passes = PassRunner(config, self.analyzers, branch_providers)
        self.models = ModelRunner(config, self.analyzers)

    def __call__(self, task: Task, cancelled: Callable[[], bool], progress: Progress | None = None) -> TaskOutcome:
        return run_task(task, cancelled, self.passes, self.models, progress)


def one_opencv_thread() -> None:
    """OpenCV runs each call on the calling thread, not on a pool of one thread per core.

    Why: a task holds the CPU slots the scheduler gave it and tasks run side by side, so the
    machine's cores are already shared out; OpenCV's pool on top of that (faces runs its
    detector and embedder through cv2.dnn) took 57.5 CPU-s per minute of 1080p for faces on
    two cores where one thread takes 35.6, with the same tracks (``benchmarks/faces.py``).
    """
    import cv2

    cv2.setNumThreads(1)
