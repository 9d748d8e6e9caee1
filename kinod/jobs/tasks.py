"""What the scheduler hands an executor, and what comes back.

Two kinds of task, matching the two kinds of analyzer:

* ``pass``: one per clip: probe, the one decode pass feeding every pending *stream*
  analyzer, and the analysis cache that *model* analyzers read later;
* ``model``: one per (clip, model analyzer): reads the cache, never the original.

Both are plain data (JSON-friendly: strings, numbers, dicts) so that an executor on
another machine can take them as they are; the scheduler knows their resource needs
but nothing of what an analyzer computes. The coordinator fills in everything a runner
reads (the clip's facts, where its cache and outputs go, other analyzers' results) when
it hands the task out (:mod:`kinod.run.task_facts`), so a runner needs no job store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

TaskKind = Literal["pass", "model"]
Status = Literal["done", "failed", "cancelled"]


@dataclass(frozen=True)
class Need:
    """Resources a task holds while it runs (from the analyzer's ``Resources``)."""

    cpu: int = 1
    gpu: int = 0
    gpu_mem_mb: int = 0


@dataclass(frozen=True)
class Task:
    """One unit of work, complete in its fields: an executor on another machine that sees
    the footage (or the analysis cache) runs it from these alone (``to_json`` /
    ``from_json``), with no access to the job store. The clip is referred to by content
    (``fingerprint``), place (``path``) and, for a clip of several files, ``files``
    (``{"parts": [...], "audio": [...]}``); the analyzer by name, ``version``,
    ``config_hash`` and ``model_sha256`` (the job key's ingredients, so the executor can
    refuse a task its own analyzer set would not make). Paths are the coordinator's; a
    worker that mounts the storage elsewhere maps them (:mod:`kinod.jobs.paths_map`).
    """

    key: str
    kind: TaskKind
    fingerprint: str
    path: str
    analyzer: str
    need: Need = Need()
    priority: int = 0
    attempts: int = 0
    card: str | None = None
    #: "cpu" or "cuda": where the scheduler placed a GPU-capable task.
    device: str = "cpu"
    #: pass: {"stream": {analyzer: job key}, "cache": bool};
    #: model: {"batch_size": n, "device": "cpu"} overrides after an out-of-memory.
    options: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    config_hash: str = ""
    model_sha256: str | None = None
    files: dict[str, Any] | None = None
    #: The clip's output folder (keyframes, the proxy); None until the coordinator fills it.
    out_dir: str | None = None
    #: The clip's analysis cache folder (the pass writes it, model tasks read it).
    cache_dir: str | None = None
    #: The card's root folder (a WAV's timecode rate may be written beside it).
    card_path: str | None = None
    #: model: the clip's probe (``Probe.to_json``), from the pass that ran before.
    probe: dict[str, Any] | None = None
    #: model: the done results of the analyzers it reads (``needs.results_of``):
    #: analyzer -> {"items": [...], "summary": {...}}.
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def filled(self) -> bool:
        """The coordinator has added the clip's facts (see :mod:`kinod.run.task_facts`)."""
        return self.cache_dir is not None

    @property
    def on_gpu(self) -> bool:
        return self.device == "cuda"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Task:
        d = dict(data)
        d["need"] = Need(**d.get("need", {}))
        return cls(**d)


@dataclass(frozen=True)
class OutOfMemory:
    """A GPU task ran out of memory; what the analyzer suggests trying next."""

    batch_size: int | None
    retry_batch_size: int | None
    retry_on_cpu: bool
    message: str


@dataclass
class TaskOutcome:
    key: str
    status: Status
    error: str | None = None
    #: False for errors that would happen again (not media, analyzer bug); True for
    #: I/O hiccups and crashes worth another attempt.
    retriable: bool = False
    elapsed_s: float = 0.0
    #: Seconds of media the task looked at (the pass: the clip's duration).
    media_seconds: float = 0.0
    #: analyzer -> analysis record, for every analyzer that produced one.
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: analyzer -> error message, for stream analyzers that failed inside a pass.
    failures: dict[str, str] = field(default_factory=dict)
    #: pass only: {"probe": ..., "decode": ..., "errors": [...], "cache": bool}.
    clip: dict[str, Any] = field(default_factory=dict)
    oom: OutOfMemory | None = None
    #: What kind of input problem this was, for metrics ("changed_while_processing", "vanished", ...).
    problem: str | None = None
    #: Extra words for the job's note (e.g. "ran with batch_size=4 after CUDA OOM").
    note: str | None = None
    #: CPU seconds (user+sys, with ffmpeg and other children) the task took where it ran;
    #: 0 where a process runs several tasks at once and cannot tell them apart.
    cpu_s: float = 0.0
    #: pass only: analyzer -> CPU seconds its hooks took on the pass's reader threads.
    hook_cpu: dict[str, float] = field(default_factory=dict)
    #: A worker process's first outcome only: the CPU seconds it took to start (imports, runner).
    start_cpu_s: float = 0.0
