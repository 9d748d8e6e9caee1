"""The enabled analyzers under one config: instances, job specs, the cache's frame spec.

Planner, runners and the worker each hold one; none of them reaches into another for it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kinod.analyzers.base import Analyzer, Result, RuntimeContext
from kinod.analyzers.registry import analyzer_class
from kinod.config import Config, analysis_hash
from kinod.export.sidecar import TimeBase, analysis_record, marker_record
from kinod.jobs.scheduler import MODEL_PRIORITY, PASS_PRIORITY
from kinod.jobs.store import JobSpec, job_key
from kinod.media.cache import FrameCacheSpec
from kinod.run.common import _resources


class AnalyzerSet:
    """The analyzer classes a config enables (or the ones given), made with their config sections."""

    def __init__(self, config: Config, classes: Sequence[type[Analyzer]] | None = None) -> None:
        self.config = config
        self.runtime = RuntimeContext(state_dir=config.state.dir, device=config.jobs.device)
        if classes is None:
            classes = [analyzer_class(n) for n in config.enabled_analyzers]
        self.classes: dict[str, type[Analyzer]] = {c.name: c for c in classes}

    def __contains__(self, name: object) -> bool:
        return name in self.classes

    def make(self, name: str, options: dict[str, Any] | None = None) -> Analyzer:
        """An instance of ``name``; ``options`` (batch_size, device) override after an out-of-memory."""
        cls = self.classes[name]
        cfg = self.config.analyzer_config(name) or cls.Config()
        runtime = self.runtime
        opts = options or {}
        updates = {k: v for k, v in opts.items() if k in ("batch_size", "device") and k in type(cfg).model_fields}
        if updates:
            cfg = cfg.model_copy(update=updates)
        if opts.get("device"):
            runtime = RuntimeContext(state_dir=self.runtime.state_dir, device=str(opts["device"]))
        return cls(cfg, runtime)

    def specs(self, fp: str, path: Path) -> dict[str, JobSpec]:
        """One job per enabled analyzer for this content."""
        out: dict[str, JobSpec] = {}
        for name, cls in self.classes.items():
            a = self.make(name)
            model = a.model_info()
            chash = analysis_hash(a.config, self.config.media)
            sha = model.sha256 if model else None
            res = _resources(cls, a.config)
            out[name] = JobSpec(
                job_key(fp, name, cls.version, chash, sha),
                fp,
                name,
                cls.version,
                chash,
                sha,
                str(path),
                kind=a.kind,
                priority=PASS_PRIORITY if a.kind == "stream" else MODEL_PRIORITY,
                cpu=res.cpu,
                gpu=res.gpu,
                gpu_mem_mb=res.gpu_mem_mb,
            )
        # A model analyzer that reads another model analyzer's result (categories reads
        # speech, ocr and visual) is queued behind it, one priority step per level of reading.
        for name, spec in out.items():
            depth = _model_depth(name, out, self.classes)
            if depth and spec.kind == "model":
                out[name] = dataclasses.replace(spec, priority=spec.priority + depth)
        return out

    def plan_hash(self) -> str:
        """Identifies the analyzer set and configs: when it changes, known clips are planned again."""
        parts = sorted(
            f"{n}:{c.version}:{analysis_hash(self.config.analyzer_config(n) or c.Config(), self.config.media)}"
            for n, c in self.classes.items()
        )
        return json.dumps(parts)

    def cache_frame_spec(self) -> FrameCacheSpec | None:
        """The sampled frames the enabled model analyzers want kept in the analysis cache."""
        specs = []
        for name in self.classes:
            a = self.make(name)
            want = a.needs.cache_frames if a.kind == "model" else None
            if want is not None and want.sample_fps:
                specs.append(FrameCacheSpec(want.width or self.config.media.analysis_width, float(want.sample_fps)))
        return FrameCacheSpec.merge(specs)

    def model_hashes(self) -> dict[str, str | None]:
        """analyzer -> sha256 of its model file (None for analyzers without a model)."""
        out: dict[str, str | None] = {}
        for name in self.classes:
            info = self.make(name).model_info()
            out[name] = info.sha256 if info else None
        return out

    def record(self, a: Analyzer, result: Result, elapsed: float, tb: TimeBase) -> dict[str, Any]:
        """The analysis record stored for the job and written into the sidecar."""
        rec = analysis_record(
            a.name,
            a.version,
            a.config.model_dump(mode="json"),
            analysis_hash(a.config, self.config.media),
            result,
            elapsed,
            tb,
        )
        rec["markers"] = [marker_record(m, a.name, tb) for m in result.markers]
        return rec


def _model_depth(
    name: str, specs: dict[str, JobSpec], classes: dict[str, type[Analyzer]], seen: frozenset[str] = frozenset()
) -> int:
    """How many model analyzers of this plan lie below ``name`` in ``needs.results_of``."""
    deps = [d for d in classes[name].needs.results_of if d in specs and specs[d].kind == "model" and d not in seen]
    return max((1 + _model_depth(d, specs, classes, seen | {name}) for d in deps), default=0)
