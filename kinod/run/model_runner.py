"""The model runner: one model analyzer on a clip's analysis cache, never the original;
out-of-memory is sorted out here for the scheduler's retry policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from kinod.analyzers.base import (
    AnalyzerError,
    OutOfMemoryError,
    Result,
)
from kinod.export.sidecar import (
    TimeBase,
)
from kinod.jobs.tasks import OutOfMemory, Task, TaskOutcome
from kinod.media.cache import AnalysisCache
from kinod.media.probe import Probe
from kinod.run.common import (
    Room,
)

log = structlog.get_logger("kinod.pipeline")


class ModelRunner(Room):
    def _run_model(self, task: Task, cancelled: Callable[[], bool]) -> TaskOutcome:
        t0 = time.monotonic()
        clip = self.store.clip(task.fingerprint)
        path = Path(task.path)
        if clip is None or not clip.probe:
            return TaskOutcome(task.key, "failed", f"{path}: {task.analyzer}: the clip has no probe result")
        if task.analyzer not in self.classes:
            return TaskOutcome(task.key, "cancelled", f"{path}: {task.analyzer}: analyzer is no longer enabled")
        pr = Probe.from_json(clip.probe)
        info = self._clip_info(path, pr, self._out_dir(task.fingerprint, path))
        try:
            cache = AnalysisCache.open(self.cache_dir(task.fingerprint))
        except (OSError, ValueError, KeyError) as e:
            return TaskOutcome(task.key, "failed", f"{path}: {task.analyzer}: {e}; run `kinod retry` to decode again")
        options = dict(task.options)
        if task.device == "cpu" and "device" not in options and self.classes[task.analyzer].resources.gpu:
            options["device"] = "cpu"  # the scheduler placed a GPU-capable analyzer on the CPU
        if cancelled():
            return TaskOutcome(task.key, "cancelled", f"{path}: stopped before it started")
        a = self._analyzer(task.analyzer, options)
        if a.needs.results_of:  # model analyzers read other results of the same clip
            a.use_results(self._done_results(task.fingerprint, a.needs.results_of, cancelled))
        try:
            result = a.run(info, cache)
        except Exception as e:
            return _model_failure(task, path, e)
        elapsed = time.monotonic() - t0
        rec = self._record(a, result, elapsed, TimeBase.from_probe(pr))
        note = None
        if {"batch_size", "device"} & set(task.options):
            note = "ran with " + ", ".join(
                f"{k}={task.options[k]}" for k in ("batch_size", "device") if k in task.options
            )
            rec["warnings"] = [*rec.get("warnings", []), f"{note} after running out of GPU memory"]
        return TaskOutcome(
            task.key, "done", records={a.name: rec}, elapsed_s=elapsed, media_seconds=pr.duration_s, note=note
        )


    def _done_results(
        self, fp: str, names: Sequence[str], cancelled: Callable[[], bool] = lambda: False
    ) -> dict[str, Result]:
        """The done analysis records of ``names`` for this clip, as Results (items, summary).

        Model analyzers run after the pass, so stream results (shots) are there. A model analyzer
        that reads another (categories reads speech) is queued behind it (``Planner.specs`` gives
        it a later priority), so it starts only once no such job is queued; one that is still
        *running* on another slot is waited for (it cannot be waiting on us), at most
        ``DEPENDENCY_WAIT_S``. Readers must still work without any of them (disabled, failed).
        """
        clip = self.store.clip(fp)
        plan: dict[str, str] = (clip.plan if clip is not None else None) or {}
        keys = {n: plan[n] for n in names if n in plan}
        deadline = time.monotonic() + DEPENDENCY_WAIT_S
        while keys and not cancelled():
            states = self.store.job_states(keys.values())
            running = [n for n, k in keys.items() if states.get(k) == "running"]
            if not running:
                break
            if time.monotonic() > deadline:
                log.warning("running without unfinished results", missing=running)
                break
            time.sleep(0.5)
        records = self.store.done_records(keys)
        return {
            n: Result(items=list(r.get("items") or []), summary=dict(r.get("summary") or {}))
            for n, r in records.items()
        }


#: How long a model analyzer waits for another one it reads that is still running.
DEPENDENCY_WAIT_S = 1800.0


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
