"""Worker capacity records and their heartbeat, and the coordinator's view of them.

Each ``kinod worker`` rewrites ``<state.shared_dir>/dist/workers/<id>.json`` (atomically) every
few seconds: host, queues, GPU, analyzers with their model hashes, kinod version,
what it runs now. Files on the shared storage rather than broker keys, so the same
works with Redis and RabbitMQ, and ``kinod status`` can read them without a broker.
Hosts are expected to keep their clocks in step (NTP): liveness is "heartbeat newer
than ``broker.heartbeat_timeout_seconds``".

The coordinator routes a task only to a queue with a live *compatible* worker: one
whose model hash for each of the task's analyzers equals the coordinator's. A
worker with another model file would write results that the job key (which includes
the model hash) does not describe, so it is refused, and says so in status/metrics.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kinod.media.fsutil import atomic_write_json


@dataclass
class WorkerInfo:
    id: str
    host: str
    queues: list[str]
    analyzers: list[str]
    models: dict[str, str | None]
    version: str
    heartbeat: float
    gpu: dict[str, Any] = field(default_factory=dict)
    current: list[str] = field(default_factory=list)
    done: int = 0
    metrics: str = ""

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> WorkerInfo:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def write_record(folder: Path, info: WorkerInfo) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / f"{info.id}.json", info.__dict__)


def remove_record(folder: Path, worker_id: str) -> None:
    with contextlib.suppress(OSError):
        (folder / f"{worker_id}.json").unlink()


def read_records(folder: Path) -> list[WorkerInfo]:
    out = []
    for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out.append(WorkerInfo.from_json(json.loads(f.read_text())))
        except (OSError, ValueError, TypeError):
            continue
    return out


def mismatches(worker: WorkerInfo, models: dict[str, str | None], analyzers: list[str]) -> list[str]:
    """Why ``worker`` may not run these analyzers (empty: it may)."""
    why = []
    for a in analyzers:
        if a not in worker.analyzers:
            why.append(f"{a}: not enabled on the worker")
        elif worker.models.get(a) != models.get(a):
            why.append(
                f"{a}: model hash {str(worker.models.get(a))[:12]} differs from coordinator's {str(models.get(a))[:12]}"
            )
    return why


@dataclass
class Fleet:
    """The live workers as the coordinator sees them, read again every few seconds."""

    folder: Path
    timeout_s: float
    models: dict[str, str | None]
    workers: list[WorkerInfo] = field(default_factory=list)
    read_at: float = 0.0

    def refresh(self, every_s: float = 1.0) -> None:
        if time.monotonic() - self.read_at >= every_s:
            self.workers = read_records(self.folder)
            self.read_at = time.monotonic()

    def live(self) -> list[WorkerInfo]:
        now = time.time()
        return [w for w in self.workers if now - w.heartbeat <= self.timeout_s]

    def refused(self) -> dict[str, list[str]]:
        """Live workers with a model hash unlike the coordinator's, and why."""
        out = {}
        for w in self.live():
            why = [m for m in mismatches(w, self.models, [a for a in w.analyzers if a in self.models]) if "hash" in m]
            if why:
                out[w.id] = why
        return out

    def route(self, queue: str, analyzers: list[str]) -> str | None:
        """None when a live compatible worker serves ``queue``; else why the task must wait."""
        serving = [w for w in self.live() if queue in w.queues]
        if not serving:
            return f"no live worker serves queue {queue!r}"
        for w in serving:
            if not mismatches(w, self.models, analyzers):
                return None
        why = "; ".join(f"{w.id}: {', '.join(mismatches(w, self.models, analyzers))}" for w in serving)
        return f"no compatible worker on queue {queue!r} ({why})"
