"""Processing clips: plan the jobs, run the decode pass and model analyzers, write the sidecar.

Shared by ``kinod scan`` and the daemon so there is one way a clip is processed. It
knows the order of steps, not what any analyzer computes. A clip goes through:

1. **plan** (:meth:`~kinod.run.planner.Planner.enqueue_clip`): fingerprint, one job per enabled
   analyzer (its key hashes content, name, version, model and config), queue the
   ones not done, and a *pass* when a stream analyzer is pending or a model analyzer
   needs the analysis cache;
2. **pass task**: probe, then the one decode pass feeding every pending stream
   analyzer, plus the analysis cache (PCM) for model analyzers, plus any extra
   outputs riding the same decode (``PassRunner.branch_providers``);
3. **model tasks**: one per model analyzer, reading the cache, never the original;
4. **finalize**: when nothing of the clip is queued or running, the sidecar is
   rebuilt from every stored result and the derived files are written
   (:meth:`~kinod.run.finalize.Finalizer.write_outputs`).

Steps 2 and 3 run from the task alone (the scheduler fills in the clip's facts from
the store when it hands a task out), so they may run in another process or on another
machine. The daemon's scheduler runs them on its slots; ``kinod scan`` runs them in
line, one after the other, through the same scheduler code (retries, OOM policy).

Failure policy: a clip that cannot be probed or decoded gets a sidecar with an
``errors`` record (in the output tree, never beside the original); an analyzer that
raises is recorded in ``errors`` and the other analyzers' results are still written.
"""
from __future__ import annotations

import queue
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from kinod.analyzers.base import Analyzer
from kinod.config import Config
from kinod.export.layout import output_dir_for
from kinod.export.sidecar import (
    sidecar_path,
)
from kinod.jobs.lease import make_owner
from kinod.jobs.scheduler import Limits, Scheduler
from kinod.jobs.store import JobSpec, JobStore
from kinod.jobs.tasks import Task, TaskOutcome
from kinod.media.cache import FrameCacheSpec
from kinod.media.cards.model import ClipFiles
from kinod.run.analyzer_set import AnalyzerSet
from kinod.run.common import (
    BranchProvider,
    ClipError,
    ClipOutcome,
    ClipPlan,
    DecodeExtras,
    cache_dir_for,
)
from kinod.run.finalize import Finalizer
from kinod.run.planner import Planner
from kinod.run.task_facts import TaskFacts
from kinod.run.task_runner import Progress, TaskRunner
from kinod.watch.ignore import MEDIA_EXTENSIONS, is_media_name

__all__ = [
    "MEDIA_EXTENSIONS",
    "BranchProvider",
    "ClipError",
    "ClipOutcome",
    "ClipPlan",
    "ClipProcessor",
    "DecodeExtras",
    "InlineExecutor",
    "is_media_name",
    "make_runner",
    "output_dir_for",
]

log = structlog.get_logger(__name__)


class ClipProcessor:
    """The coordinator's parts over one config and store, for the daemon and ``kinod scan``.

    It composes plain objects and adds nothing of its own but :meth:`process`:
    :class:`~kinod.run.analyzer_set.AnalyzerSet` (the enabled analyzers),
    :class:`~kinod.run.planner.Planner` (jobs for a clip),
    :class:`~kinod.run.task_facts.TaskFacts` (a task's facts from the store),
    :class:`~kinod.run.task_runner.TaskRunner` (pass and model tasks, no store),
    :class:`~kinod.run.finalize.Finalizer` (sidecar and derived files).
    """

    def __init__(self, config: Config, store: JobStore, classes: Sequence[type[Analyzer]] | None = None) -> None:
        self.config = config
        self.store = store
        self.analyzers = AnalyzerSet(config, classes)
        self.planner = Planner(config, store, self.analyzers)
        self.facts = TaskFacts(config, store, self.analyzers)
        self.runner = TaskRunner(config, self.analyzers)
        self.finalizer = Finalizer(config, store)
        self.enqueue_clip = self.planner.enqueue_clip
        self.enqueue_known = self.planner.enqueue_known
        self.replan_known = self.planner.replan_known
        self.finalize = self.finalizer.finalize
        self.write_error_sidecar = self.finalizer.write_error_sidecar
        self.write_outputs = self.finalizer.write_outputs

    @property
    def classes(self) -> dict[str, type[Analyzer]]:
        return self.analyzers.classes

    def specs(self, fp: str, path: Path) -> dict[str, JobSpec]:
        return self.analyzers.specs(fp, path)

    def plan_hash(self) -> str:
        return self.analyzers.plan_hash()

    def cache_frame_spec(self) -> FrameCacheSpec | None:
        return self.analyzers.cache_frame_spec()

    def cache_dir(self, fp: str) -> Path:
        return cache_dir_for(self.config, fp)

    def run_task(self, task: Task, cancelled: Callable[[], bool], progress: Progress | None = None) -> TaskOutcome:
        """Run a task in this process: its facts from the store (if the scheduler has not added
        them yet), and a pass's progress recorded in the store for ``kinod status``."""
        task = self.facts.fill(task)
        if task.kind == "pass":
            progress = self._progress_reporter(task.fingerprint, progress)
        return self.runner(task, cancelled, progress)

    def _progress_reporter(self, fp: str, progress: Progress | None) -> Progress:
        """Frames decoded, to the caller's bar and to the store (``passes.frames_done``).

        The store is told at most every half second: enough for ``kinod status`` and for
        a test that must act while a decode is under way, without a write per frame.
        """
        last = [0.0]

        def report(n: int, total: int) -> None:
            if progress is not None:
                progress(n, total)
            now = time.monotonic()
            if now - last[0] >= 0.5:
                last[0] = now
                try:
                    self.store.queue.set_pass_progress(fp, n)
                except Exception as e:  # progress is a nicety: never fail a pass for it
                    log.debug("pass progress not recorded", error=str(e))
                    last[0] = float("inf")

        return report

    # kinod scan ----------------------------------------------------------------------------------------
    def process(
        self,
        path: Path,
        out_dir: Path,
        *,
        force: bool = False,
        progress: Callable[[int, int], None] | None = None,
        card: str | None = None,
        cancelled: Callable[[], bool] | None = None,
        card_path: str | None = None,
        files: ClipFiles | None = None,
    ) -> ClipOutcome:
        """Plan, run and finalize one clip now, in this thread (``kinod scan``)."""
        path = path.absolute()
        stop = cancelled or (lambda: False)
        with structlog.contextvars.bound_contextvars(clip=str(path)):
            owner = make_owner("scan")
            try:
                value = (files if files is not None else ClipFiles.alone(path)).on_card(card, card_path)
                plan = self.enqueue_clip(value, out_dir, force=force, retry_failed=True, owner=owner)
            except ClipError as e:
                log.error("clip failed", error=str(e))
                self.write_error_sidecar(path, out_dir, str(e), card, None)
                return ClipOutcome(path, ok=False, error=str(e))
            if plan.up_to_date:
                clip = self.store.clips.get(plan.fingerprint)
                log.info("clip up to date", sidecar=str(sidecar_path(out_dir, path.name)))
                failed = clip is not None and clip.state == "failed"
                return ClipOutcome(
                    path,
                    ok=not failed,
                    sidecar=sidecar_path(out_dir, path.name),
                    skipped=True,
                    error=clip.last_error if failed and clip else None,
                )
            executor = InlineExecutor(lambda t, c: self.run_task(t, lambda: c() or stop(), progress))
            sched = Scheduler(
                self.store,
                executor,
                owner=owner,
                limits=Limits(cpu_slots=1),
                lease_seconds=self.config.jobs.lease_seconds,
                max_attempts=self.config.jobs.max_attempts,
                cpu_fallback=self.config.jobs.oom_cpu_fallback,
                scope={plan.fingerprint},
                facts=self.facts,
            )
            while not sched.idle() and not stop():
                sched.tick(0.0)
            out = self.finalize(plan.fingerprint, only=str(path))
            out.skipped = False
            return out


def make_runner(config: Config) -> Callable[[Task, Callable[[], bool]], TaskOutcome]:
    """The task runner of a worker process (``jobs.executor = "process"``).

    The scheduler hands out tasks with their facts filled in, so a worker process opens
    no state file: it runs the task and sends the outcome back.
    """
    return TaskRunner(config)


class InlineExecutor:
    """Runs each task at once in the caller's thread (``kinod scan``): same interface, no concurrency."""

    def __init__(self, runner: Callable[[Task, Callable[[], bool]], TaskOutcome]) -> None:
        self.runner = runner
        self._done: queue.Queue[TaskOutcome] = queue.Queue()

    def submit(self, task: Task) -> None:
        self._done.put(self.runner(task, lambda: False))

    def cancel(self, key: str) -> None:
        return None

    def poll(self, timeout: float = 0.0) -> list[TaskOutcome]:
        out = []
        while not self._done.empty():
            out.append(self._done.get_nowait())
        return out

    def shutdown(self, grace_s: float) -> list[TaskOutcome]:
        return self.poll()
