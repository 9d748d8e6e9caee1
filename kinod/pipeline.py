"""Processing clips: plan the jobs, run the decode pass and model analyzers, write the sidecar.

Shared by ``kinod scan`` and the daemon so there is one way a clip is processed. It
knows the order of steps, not what any analyzer computes. A clip goes through:

1. **plan** (:meth:`ClipProcessor.enqueue_clip`): fingerprint, one job per enabled
   analyzer (its key hashes content, name, version, model and config), queue the
   ones not done, and a *pass* when a stream analyzer is pending or a model analyzer
   needs the analysis cache;
2. **pass task**: probe, then the one decode pass feeding every pending stream
   analyzer, plus the analysis cache (PCM) for model analyzers, plus any extra
   outputs riding the same decode (:meth:`ClipProcessor.decode_branches`);
3. **model tasks**: one per model analyzer, reading the cache, never the original;
4. **finalize**: when nothing of the clip is queued or running, the sidecar is
   rebuilt from every stored result and the derived files are written
   (:meth:`ClipProcessor.write_outputs`).

The daemon's scheduler runs steps 2 and 3 on its slots; ``kinod scan`` runs them in
line, one after the other, through the same scheduler code (retries, OOM policy).

Failure policy: a clip that cannot be probed or decoded gets a sidecar with an
``errors`` record (in the output tree, never beside the original); an analyzer that
raises is recorded in ``errors`` and the other analyzers' results are still written.
"""
from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from kinod.analyzers.base import (
    Analyzer,
    RuntimeContext,
)
from kinod.analyzers.registry import analyzer_class
from kinod.config import Config
from kinod.export.sidecar import (
    sidecar_path,
)
from kinod.jobs.lease import make_owner
from kinod.jobs.scheduler import Limits, Scheduler
from kinod.jobs.store import JobStore
from kinod.jobs.tasks import Task, TaskOutcome
from kinod.media.cards.model import ClipFiles
from kinod.media.ffmpeg import ffmpeg_path
from kinod.media.probe import Probe
from kinod.media.proxy import plan_proxy
from kinod.outputs import output_dir_for
from kinod.run.common import (
    BranchProvider,
    ClipError,
    ClipOutcome,
    ClipPlan,
    DecodeExtras,
)
from kinod.run.finalize import Finalizer
from kinod.run.model_runner import ModelRunner
from kinod.run.pass_runner import PassRunner
from kinod.run.planner import Planner
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


class ClipProcessor(Planner, PassRunner, ModelRunner, Finalizer):
    """Holds what stays the same across clips (config, store, analyzer classes).

    Its rooms (:mod:`kinod.run`): :class:`~kinod.run.planner.Planner` (jobs for a clip),
    :class:`~kinod.run.pass_runner.PassRunner` (the decode pass),
    :class:`~kinod.run.model_runner.ModelRunner` (model analyzers on the cache),
    :class:`~kinod.run.finalize.Finalizer` (sidecar and derived files).
    """

    def __init__(self, config: Config, store: JobStore, classes: Sequence[type[Analyzer]] | None = None) -> None:
        self.config = config
        self.store = store
        self.ffmpeg = ffmpeg_path(config.media.ffmpeg)
        self.runtime = RuntimeContext(state_dir=config.state.dir, device=config.jobs.device)
        if classes is None:
            classes = [analyzer_class(n) for n in config.enabled_analyzers]
        self.classes: dict[str, type[Analyzer]] = {c.name: c for c in classes}
        #: Extra decode-pass outputs (proxies: ``kinod.media.proxy``) register here.
        self.branch_providers: list[BranchProvider] = []
        if config.proxy.enabled:
            self.branch_providers.append(self._proxy_branches)

    def _proxy_branches(self, path: Path, pr: Probe, out_dir: Path) -> DecodeExtras:
        """The clip's edit proxy, encoded from the same decode as its analysis."""
        if not pr.has_video:
            return DecodeExtras()
        job = plan_proxy(path, pr, out_dir, self.config.proxy, ffmpeg=self.ffmpeg, clip_name=pr.clip_name)

        def finish(ok: bool) -> None:
            if ok:
                result = job.finalize()
                log.info("proxy written", proxy=str(result.path) if hasattr(result, "path") else str(result))
            else:
                job.abort()

        return DecodeExtras(tuple(job.video_branches), tuple(job.audio_branches), finish)

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
                clip = self.store.clip(plan.fingerprint)
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
            )
            while not sched.idle() and not stop():
                sched.tick(0.0)
            out = self.finalize(plan.fingerprint, only=str(path))
            out.skipped = False
            return out


def make_runner(config: Config) -> Callable[[Task, Callable[[], bool]], TaskOutcome]:
    """The task runner of a worker process (``jobs.executor = "process"``).

    Runners only read the state file (clip facts, output folders); every write goes
    through the scheduler in the daemon, so a worker opens it read-only.
    """
    store = JobStore(config.state.dir / "kinod.sqlite", readonly=True)
    return ClipProcessor(config, store).run_task


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
