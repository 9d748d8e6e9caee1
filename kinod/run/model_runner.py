"""The model runner: one model analyzer on a clip's analysis cache, never the original;
out-of-memory is sorted out here for the scheduler's retry policy.

It reads the task and the cache, nothing else: the coordinator put the probe, the cache
folder and the results of the analyzers it reads into the task.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import structlog

from kinod.analyzers.base import (
    AnalyzerError,
    OutOfMemoryError,
    Result,
)
from kinod.config import Config
from kinod.export.layout import clip_out_dir
from kinod.export.sidecar import (
    TimeBase,
)
from kinod.jobs.tasks import OutOfMemory, Task, TaskOutcome
from kinod.media.cache import AnalysisCache
from kinod.media.probe import Probe
from kinod.run.analyzer_set import AnalyzerSet
from kinod.run.common import cache_dir_for, clip_info

log = structlog.get_logger("kinod.run.processor")


class ModelRunner:
    """Runs model tasks from their fields alone (no job store): see :class:`~kinod.jobs.tasks.Task`."""

    def __init__(self, config: Config, analyzers: AnalyzerSet) -> None:
        self.config = config
        self.analyzers = analyzers

    def run(self, task: Task, cancelled: Callable[[], bool]) -> TaskOutcome:
        t0 = time.monotonic()
        path = Path(task.path)
        if not task.probe:
            return TaskOutcome(task.key, "failed", f"{path}: {task.analyzer}: the clip has no probe result")
        if task.analyzer not in self.analyzers:
            return TaskOutcome(task.key, "cancelled", f"{path}: {task.analyzer}: analyzer is no longer enabled")
        pr = Probe.from_json(task.probe)
        out_dir = clip_out_dir(task.out_dir, path, self.config)
        info = clip_info(path, pr, out_dir)
        cache_dir = Path(task.cache_dir) if task.cache_dir else cache_dir_for(self.config, task.fingerprint)
        try:
            cache = AnalysisCache.open(cache_dir)
        except (OSError, ValueError, KeyError) as e:
            return TaskOutcome(task.key, "failed", f"{path}: {task.analyzer}: {e}; run `kinod retry` to decode again")
        options = dict(task.options)
        if task.device == "cpu" and "device" not in options and self.analyzers.classes[task.analyzer].resources.gpu:
            options["device"] = "cpu"  # the scheduler placed a GPU-capable analyzer on the CPU
        if cancelled():
            return TaskOutcome(task.key, "cancelled", f"{path}: stopped before it started")
        a = self.analyzers.make(task.analyzer, options)
        if a.needs.results_of:  # model analyzers read other results of the same clip
            a.use_results(
                {
                    n: Result(items=list(r.get("items") or []), summary=dict(r.get("summary") or {}))
                    for n, r in task.results.items()
                    if n in a.needs.results_of
                }
            )
        try:
            result = a.run(info, cache)
        except Exception as e:
            return _model_failure(task, path, e)
        elapsed = time.monotonic() - t0
        rec = self.analyzers.record(a, result, elapsed, TimeBase.from_probe(pr))
        note = None
        if {"batch_size", "device"} & set(task.options):
            note = "ran with " + ", ".join(
                f"{k}={task.options[k]}" for k in ("batch_size", "device") if k in task.options
            )
            rec["warnings"] = [*rec.get("warnings", []), f"{note} after running out of GPU memory"]
        return TaskOutcome(
            task.key, "done", records={a.name: rec}, elapsed_s=elapsed, media_seconds=pr.duration_s, note=note
        )


def _model_failure(task: Task, path: Path, e: Exception) -> TaskOutcome:
    """Sort a model analyzer's exception into out-of-memory, retriable or final."""
    text = str(e)
    if isinstance(e, OutOfMemoryError):
        oom = OutOfMemory(e.batch_size, e.retry_batch_size, e.retry_on_cpu, text)
        return TaskOutcome(task.key, "failed", f"{path}: {task.analyzer}: {text}", oom=oom)
    if "out of memory" in text.lower() or "cudaerrormemoryallocation" in text.lower():
        # a framework's own CUDA error that the analyzer did not translate
        oom = OutOfMemory(None, None, True, text)
        return TaskOutcome(task.key, "failed", f"{path}: {task.analyzer}: {text}", oom=oom)
    if isinstance(e, AnalyzerError):
        return TaskOutcome(task.key, "failed", f"{path}: {task.analyzer}: {text}")
    retriable = isinstance(e, (OSError, MemoryError, TimeoutError))
    log.error("analyzer failed", error=text, exception=type(e).__name__)
    return TaskOutcome(task.key, "failed", f"{path}: {task.analyzer}: {type(e).__name__}: {text}", retriable=retriable)
