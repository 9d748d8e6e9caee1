"""The coordinator's side of a self-contained task: what a runner reads, put into the task.

The scheduler claims a job in the store and, before any executor sees it, has
:meth:`TaskFacts.fill` add the clip's facts from the store: its output folder, its
analysis cache folder, its card folder, and for a model task the probe and the done
results of the analyzers it reads. So a runner (in this process, a worker process or
``kinod worker`` on a GPU host) needs the footage or the cache, never the state file.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from kinod.config import Config
from kinod.export.layout import clip_out_dir
from kinod.jobs.store import JobStore
from kinod.jobs.tasks import Task
from kinod.run.analyzer_set import AnalyzerSet
from kinod.run.common import cache_dir_for


class TaskFacts:
    """Reads the store for the scheduler (coordinator side only)."""

    def __init__(self, config: Config, store: JobStore, analyzers: AnalyzerSet) -> None:
        self.config = config
        self.store = store
        self.analyzers = analyzers

    def blocked(self, task: Task) -> bool:
        """A model task whose input, another model analyzer of the clip it reads, still runs.

        Such a reader is queued behind what it reads (a later priority, see
        :meth:`AnalyzerSet.specs`), but one still running on another slot or worker must
        finish first: its result is handed out with the task, not looked up later.
        """
        if task.kind != "model" or task.analyzer not in self.analyzers:
            return False
        names = self.analyzers.classes[task.analyzer].needs.results_of
        if not names:
            return False
        keys = self._plan_keys(task.fingerprint, names)
        states = self.store.queue.job_states(keys.values())
        return any(states.get(k) == "running" for k in keys.values())

    def fill(self, task: Task) -> Task:
        """The task with everything its runner reads (idempotent: a filled task is returned as is)."""
        if task.filled:
            return task
        clip = self.store.clips.get(task.fingerprint)
        path = Path(task.path)
        out_dir = clip_out_dir(clip.out_dir if clip is not None else None, path, self.config)
        facts: dict[str, Any] = {
            "out_dir": str(out_dir),
            "cache_dir": str(cache_dir_for(self.config, task.fingerprint)),
            "card_path": clip.card_path if clip is not None else None,
        }
        if task.files is None and clip is not None:
            facts["files"] = clip.clip.to_json()
        if task.kind == "model":
            facts["probe"] = clip.probe if clip is not None and clip.probe else None
            facts["results"] = self._results(task)
        return replace(task, **facts)

    def _plan_keys(self, fp: str, names: tuple[str, ...] | list[str]) -> dict[str, str]:
        clip = self.store.clips.get(fp)
        plan: dict[str, str] = (clip.plan if clip is not None else None) or {}
        return {n: plan[n] for n in names if n in plan}

    def _results(self, task: Task) -> dict[str, dict[str, Any]]:
        """The done records of the analyzers this one reads, as items and summary.

        Readers must still work without any of them (disabled, failed): what is not done
        is simply left out.
        """
        if task.analyzer not in self.analyzers:
            return {}
        names = self.analyzers.classes[task.analyzer].needs.results_of
        if not names:
            return {}
        records = self.store.queue.done_records(self._plan_keys(task.fingerprint, names))
        return {
            n: {"items": list(r.get("items") or []), "summary": dict(r.get("summary") or {})}
            for n, r in records.items()
        }
