"""The config's sections: one strict pydantic model per TOML table (``[watch]``, ``[jobs]`` ...).

Why a module of their own: :mod:`kinod.config` assembles them into :class:`~kinod.config.Config`
and loads the file; the sections themselves are plain data with their limits, and importing
them needs nothing of kinod. Every name here is also importable from :mod:`kinod.config`.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    #: String keys that may hold a path (resolved against the config file's folder when
    #: they look like one); ``Path`` fields are resolved without being listed.
    path_keys: ClassVar[tuple[str, ...]] = ()


class WatchRoot(Strict):
    path: Path
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()


class WatchConfig(Strict):
    roots: tuple[WatchRoot, ...] = (WatchRoot(path=Path("footage")),)
    mode: Literal["auto", "inotify", "poll"] = "auto"
    poll_interval_seconds: float = Field(5.0, gt=0)
    settle_seconds: float = Field(60.0, ge=0)
    stable_polls: int = Field(3, ge=1)
    rescan_minutes: float = Field(30.0, gt=0)
    ready_marker: str = ""


class OutputConfig(Strict):
    root: Path = Path("kino-out")
    formats: tuple[str, ...] = ("json", "otio", "resolve-edl", "fcp7", "srt", "vtt", "csv")


class StateConfig(Strict):
    #: The coordinator's own files (the SQLite job store, the search index, models): a
    #: local disk. Workers never open it.
    dir: Path = Path("var")
    #: What the coordinator shares with ``kinod worker`` processes on other machines: the
    #: analysis caches (``cache/``) and the distributed run's files (``dist/``). On the
    #: shared storage when workers run elsewhere; unset, it is ``dir``.
    shared_dir: Path | None = None

    @property
    def shared(self) -> Path:
        return self.shared_dir if self.shared_dir is not None else self.dir

    @property
    def cache_root(self) -> Path:
        """Where each clip's analysis cache lives (``<cache_root>/<fingerprint>``)."""
        return self.shared / "cache"


class MediaConfig(Strict):
    path_keys: ClassVar[tuple[str, ...]] = ("ffmpeg",)
    #: Settings that change analysis results: part of every job key (see :func:`analysis_hash`).
    result_keys: ClassVar[tuple[str, ...]] = ("analysis_width", "audio_rate")

    ffmpeg: str = ""
    analysis_width: int = Field(480, ge=64, le=3840)
    audio_rate: int = Field(16000, ge=8000, le=192000)
    decode_threads: int = Field(0, ge=0)
    fast_decode: bool = True
    hw_decode: Literal["off", "auto", "cuda"] = "auto"
    keep_cache: bool = False

    @field_validator("analysis_width")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("must be an even number of pixels")
        return v


class JobsConfig(Strict):
    cpu_workers: int = Field(2, ge=1)
    gpu_workers: int = Field(1, ge=0)
    gpu_memory_mb: int = Field(0, ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_attempts: int = Field(3, ge=1)
    lease_seconds: float = Field(120.0, gt=0)
    shutdown_grace_seconds: float = Field(30.0, ge=0)
    newest_card_first: bool = True
    queue_size: int = Field(64, ge=1)
    executor: Literal["thread", "process", "dramatiq"] = "thread"
    oom_cpu_fallback: bool = True


# --- distributed workers: [broker], [worker], [[paths.map]] ---------------------------
class BrokerConfig(Strict):
    """Where ``jobs.executor = "dramatiq"`` sends tasks (Redis or RabbitMQ)."""

    url: str = "redis://127.0.0.1:6379/0"
    #: Key prefix in Redis: two coordinators sharing one Redis keep their queues apart.
    namespace: str = "kinod"
    #: A worker silent this long is dead: its message is redelivered, its claim taken over.
    heartbeat_timeout_seconds: float = Field(60.0, gt=0)
    #: Tasks the coordinator keeps sent at once (the rest wait in SQLite).
    max_in_flight: int = Field(64, ge=1)

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("redis://", "rediss://", "unix://", "amqp://", "amqps://")):
            raise ValueError(f"{v!r}: expected redis://host:port/db or amqp://user:pass@host:port/vhost")
        return v


class WorkerConfig(Strict):
    """``kinod worker`` on a machine that mounts the storage."""

    queues: tuple[Literal["pass", "cpu", "gpu", "proxy"], ...] = ("pass", "cpu", "gpu", "proxy")
    processes: int = Field(1, ge=1)
    threads: int = Field(1, ge=1)
    #: The worker's own Prometheus endpoint ("" = off).
    metrics_listen: str = "127.0.0.1:9465"
    #: Shown in status and metrics; "" = host name and pid.
    name: str = ""
    #: An idle worker asks the broker for work this often (ms): the latency before a
    #: queued task starts, against broker load (each idle worker: 1000/poll_ms x queues fetches/s).
    idle_poll_ms: int = Field(20, ge=1, le=5000)


class PathMapEntry(Strict):
    coordinator: str
    worker: str


class PathsConfig(Strict):
    map: tuple[PathMapEntry, ...] = ()


# --- end distributed workers ----------------------------------------------------------


class MetricsConfig(Strict):
    listen: str = "127.0.0.1:9464"
    enabled: bool = True


# --- browse UI ---
class UiConfig(Strict):
    #: host:port of the browse UI inside the daemon; empty = off. 127.0.0.1 unless set wider (warned).
    listen: str = ""
    #: Person pages may name, merge and forget people (loopback clients only, same-origin form token).
    allow_edits: bool = False

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        if v.strip():
            _host, sep, port = v.strip().rpartition(":")
            if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
                raise ValueError("expected host:port, e.g. 127.0.0.1:8765 (empty: off)")
        return v.strip()


class SearchConfig(Strict):
    #: MiniLM vectors of transcripts, descriptions and scene summaries, for searches that ask for meaning.
    semantic: bool = False
# --- end browse UI ---


class LoggingConfig(Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


# --- what kinod does when the output or state file system fills up ---
class StorageConfig(Strict):
    #: Below this much free space on the output or state file system, intake pauses.
    min_free_mb: int = Field(64, ge=0)
    #: Longest wait between two checks for space while paused (the wait doubles up to this).
    retry_max_seconds: float = Field(30.0, gt=0)


class SyncConfig(Strict):
    """Dual-system sound and multicam sync when cards land (``kinod sync`` takes the same values)."""

    #: Sync camera clips with recorder takes (and cameras with each other) after a card's report.
    enabled: bool = True
    #: Which folders are synced together: "card" (the card alone) or "parent" (every card in
    #: the card's parent folder, e.g. one shooting day; a late card re-syncs the day).
    scope: Literal["card", "parent"] = "parent"
    #: A waveform pair is synced only when its coarse peak stands this far clear of the
    #: next-best (1 - rival/peak); below, it is reported as "uncertain".
    min_confidence: float = Field(0.25, ge=0, le=1)
    #: Normalised envelope correlation below which two sounds are not the same event.
    min_peak: float = Field(0.2, ge=0, le=1)
    #: Measure camera/recorder clock drift (ppm) from a start and an end window.
    measure_drift: bool = True
    #: Group cameras whose clips overlap (timecode, shared take or scratch sound) into multicam clips.
    multicam: bool = True
