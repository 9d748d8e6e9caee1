"""Configuration: one TOML file read with tomllib into strict pydantic models.

Every model forbids unknown keys, so a typo (``setle_seconds``) stops the daemon at
start with a message naming the key and the file, rather than being ignored for a
week. Analyzer sections are validated against the ``Config`` model that each
registered analyzer declares, so third-party analyzers get the same strictness.

Where the file comes from, first match wins: ``--config PATH``, ``$KINOD_CONFIG``,
``./config.toml``; with none of them the built-in defaults apply (watch ``./footage``,
output ``./kino-out``, state ``./var``). Relative paths in a file are resolved
against the file's folder, so a unit file can start the daemon from anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kinod.contracts import AnalyzerConfig
from kinod.export.writers.options import ExportOptions
from kinod.media.cards.config import CardsConfig
from kinod.media.proxy import ProxyConfig

ENV_VAR = "KINOD_CONFIG"


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


# --- distributed workers (issue 17): [broker], [worker], [[paths.map]] -----------------
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


# --- browse UI (issue 16) ---
class UiConfig(Strict):
    #: host:port of the browse UI inside the daemon; empty = off. 127.0.0.1 unless set wider (warned).
    listen: str = ""

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        if v.strip():
            _host, sep, port = v.strip().rpartition(":")
            if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
                raise ValueError("expected host:port, e.g. 127.0.0.1:8765 (empty: off)")
        return v.strip()


class SearchConfig(Strict):
    #: MiniLM vectors of transcripts, descriptions and scene summaries, ranked with keyword hits.
    semantic: bool = False
# --- end browse UI ---


class LoggingConfig(Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


# --- issue 13: what kinod does when the output or state file system fills up ---
class StorageConfig(Strict):
    #: Below this much free space on the output or state file system, intake pauses.
    min_free_mb: int = Field(64, ge=0)
    #: Longest wait between two checks for space while paused (the wait doubles up to this).
    retry_max_seconds: float = Field(30.0, gt=0)


class Config(Strict):
    watch: WatchConfig = WatchConfig()
    output: OutputConfig = OutputConfig()
    state: StateConfig = StateConfig()
    media: MediaConfig = MediaConfig()
    jobs: JobsConfig = JobsConfig()
    metrics: MetricsConfig = MetricsConfig()
    logging: LoggingConfig = LoggingConfig()
    export: ExportOptions = ExportOptions()
    cards: CardsConfig = CardsConfig()
    proxy: ProxyConfig = ProxyConfig()
    ui: UiConfig = UiConfig()
    search: SearchConfig = SearchConfig()
    storage: StorageConfig = StorageConfig()  # issue 13
    broker: BrokerConfig = BrokerConfig()  # issue 17
    worker: WorkerConfig = WorkerConfig()  # issue 17
    paths: PathsConfig = PathsConfig()  # issue 17
    # The three fields below are filled by :func:`load_config`, never read from the file
    # (see INTERNAL_KEYS).
    #: Names of the analyzers to run, in the ``[analyzers]`` table as ``enabled``.
    enabled_analyzers: tuple[str, ...] = (
        "shots", "black", "freeze", "silence", "loudness", "dynamism", "picture", "technical", "speech",
        "visual", "ocr", "categories",  # issue 15
    )
    #: Validated per-analyzer sections, keyed by analyzer name.
    analyzer_configs: dict[str, AnalyzerConfig] = Field(default_factory=dict)
    #: The file this came from (None for built-in defaults).
    source: Path | None = None

    def analyzer_config(self, name: str) -> AnalyzerConfig | None:
        return self.analyzer_configs.get(name)


#: Config fields that load_config fills in; a file that sets them is wrong, not ignored.
INTERNAL_KEYS = {
    "enabled_analyzers": "set [analyzers] enabled = [...] instead",
    "analyzer_configs": "use [analyzers.<name>] sections instead",
    "source": "it is where the config was read from",
}


class ConfigError(ValueError):
    """A config file could not be read; the message names the file and the key."""


def _format_validation_error(err: ValidationError, source: str, prefix: str = "") -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in (prefix, *e["loc"]) if p != "")
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        lines.append(f"{source}: {key}: {msg}")
    return "\n".join(lines)


def _resolve(base: Path, p: Path) -> Path:
    p = p.expanduser()
    return p if p.is_absolute() else (base / p)


def _looks_like_path(value: str) -> bool:
    """A string key that may be a name ("base", "ffmpeg") or a path: a path has a separator or a ~."""
    return bool(value) and ("/" in value or value.startswith(("~", ".")) or os.sep in value)


def resolve_paths(model: BaseModel, base: Path) -> BaseModel:
    """The model with every path-like key resolved against ``base`` (the config file's folder).

    Why every key, nested ones and analyzer sections included: a unit file or ``kinod -c``
    starts the daemon from anywhere, and ``model = "models/whisper"`` must mean the same
    folder then as when the file was written. ``Path`` fields are paths; string fields
    listed in the model's ``path_keys`` are resolved when they look like a path.
    """
    update: dict[str, Any] = {}
    path_keys = getattr(type(model), "path_keys", ())
    for name in type(model).model_fields:
        value = getattr(model, name)
        new: Any = value
        if isinstance(value, Path):
            new = _resolve(base, value)
        elif isinstance(value, BaseModel):
            new = resolve_paths(value, base)
        elif isinstance(value, tuple) and value and all(isinstance(v, BaseModel) for v in value):
            new = tuple(resolve_paths(v, base) for v in value)
        elif isinstance(value, tuple) and value and all(isinstance(v, Path) for v in value):
            new = tuple(_resolve(base, v) for v in value)
        elif isinstance(value, str) and name in path_keys and _looks_like_path(value):
            new = str(_resolve(base, Path(value)))
        if new is not value:
            update[name] = new
    return model.model_copy(update=update) if update else model


def find_config_file(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    local = Path("config.toml")
    return local if local.is_file() else None


# --- robustness (issue 13): every way a config file can be unreadable is a ConfigError ---
def _line_col(raw: bytes, offset: int) -> tuple[int, int]:
    line = raw.count(b"\n", 0, offset) + 1
    return line, offset - (raw.rfind(b"\n", 0, offset) + 1) + 1


def read_config_file(file: Path) -> dict[str, Any]:
    """Read and parse one TOML file; any failure is a ConfigError naming the file.

    WHY: a ``UnicodeDecodeError`` is a ``ValueError``, not an ``OSError``, so a single
    stray Latin-1 byte used to escape as a traceback at start and kill the daemon on
    SIGHUP (a crash loop under ``Restart=on-failure``). The byte offset is given so the
    operator can find an invisible byte with ``cmp``/``xxd``.
    """
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: is a folder, not a config file") from None
    except OSError as e:
        raise ConfigError(f"{file}: cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line, col = _line_col(raw, e.start)
        raise ConfigError(
            f"{file}: not UTF-8 text: byte 0x{raw[e.start]:02x} at byte offset {e.start} "
            f"(line {line}, column {col}); save the file as UTF-8"
        ) from None
    if "\x00" in text:
        off = raw.index(b"\x00")
        line, col = _line_col(raw, off)
        raise ConfigError(f"{file}: not a text file: NUL byte at byte offset {off} (line {line}, column {col})")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{file}: not valid TOML: {e}") from None
    except RecursionError:
        raise ConfigError(f"{file}: not valid TOML: nested too deeply") from None


# --- end robustness block ---


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate the config; raises ConfigError naming the file and key."""
    from kinod.analyzers.registry import AnalyzerLoadError, analyzer_class, analyzer_names

    file = find_config_file(path)
    data: dict[str, Any] = {}
    source = "<built-in defaults>"
    base = Path.cwd()
    if file is not None:
        source = str(file)
        data = read_config_file(file)
        base = file.resolve().parent

    analyzers_section = data.pop("analyzers", {})
    if not isinstance(analyzers_section, dict):
        raise ConfigError(f"{source}: analyzers: must be a table")
    enabled = analyzers_section.pop("enabled", list(Config.model_fields["enabled_analyzers"].default))
    if not isinstance(enabled, list) or not all(isinstance(n, str) for n in enabled):
        raise ConfigError(f"{source}: analyzers.enabled: must be a list of analyzer names")

    for key, why in INTERNAL_KEYS.items():
        if key in data:
            raise ConfigError(f"{source}: {key}: not a config key ({why})")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation_error(e, source)) from None

    from kinod.export.writers import SIDECAR_FORMATS, writer_classes

    formats = {*SIDECAR_FORMATS, *writer_classes()}  # SIDECAR_FORMATS: json, yaml (issue 12)
    for fmt in cfg.output.formats:
        if fmt not in formats:
            raise ConfigError(f"{source}: output.formats: unknown format {fmt!r} (known: {', '.join(sorted(formats))})")
    for fmt in cfg.export.card_formats:
        if fmt not in formats:
            raise ConfigError(f"{source}: export.card_formats: unknown format {fmt!r}")

    known = analyzer_names()
    for name in enabled:
        if name not in known:
            raise ConfigError(
                f"{source}: analyzers.enabled: unknown analyzer {name!r} (installed: {', '.join(known)})"
            )
    classes: dict[str, type[Any]] = {}
    for name in [*enabled, *analyzers_section]:
        if name not in known:
            raise ConfigError(f"{source}: analyzers.{name}: unknown analyzer section (installed: {', '.join(known)})")
        try:
            classes[name] = analyzer_class(name)
        except AnalyzerLoadError as e:
            raise ConfigError(f"{source}: analyzers.{name}: {e}") from None
    analyzer_configs: dict[str, AnalyzerConfig] = {}
    for name, section in analyzers_section.items():
        if not isinstance(section, dict):
            raise ConfigError(f"{source}: analyzers.{name}: must be a table")
        try:
            analyzer_configs[name] = classes[name].Config.model_validate(section)
        except ValidationError as e:
            raise ConfigError(_format_validation_error(e, source, f"analyzers.{name}")) from None
    for name in enabled:
        analyzer_configs.setdefault(name, classes[name].Config())

    resolved = resolve_paths(cfg, base)
    return resolved.model_copy(
        update={
            "enabled_analyzers": tuple(enabled),
            "analyzer_configs": {n: resolve_paths(c, base) for n, c in analyzer_configs.items()},
            "source": file,
        }
    )


def config_hash(section: BaseModel) -> str:
    """Stable hash of an analyzer's settings: part of the job key and the sidecar."""
    canonical = json.dumps(section.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def analysis_hash(section: BaseModel, media: MediaConfig) -> str:
    """The hash that goes into an analyzer's job key: its settings plus the ``[media]`` ones
    that change what it sees (analysis width, audio rate).

    Why: a wider analysis picture or another audio rate gives other results, so results
    made under the old settings must not be taken for the new ones. With the default
    media settings it is the section's own :func:`config_hash`, so existing job keys and
    sidecars stay valid.
    """
    own = config_hash(section)
    defaults = MediaConfig()
    changed = {k: getattr(media, k) for k in MediaConfig.result_keys if getattr(media, k) != getattr(defaults, k)}
    if not changed:
        return own
    canonical = json.dumps({"analyzer": own, "media": changed}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
