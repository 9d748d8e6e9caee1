"""Configuration: one TOML file read with tomllib into strict pydantic models.

Every model forbids unknown keys, so a typo (``setle_seconds``) stops the daemon at
start with a message naming the key and the file, rather than being ignored for a
week. Analyzer sections are validated against the ``Config`` model that each
registered analyzer declares, so third-party analyzers get the same strictness.

Where the file comes from, first match wins: ``--config PATH``, ``$KINOD_CONFIG``,
``./config.toml``; with none of them the built-in defaults apply (watch ``./footage``,
output ``./kino-out``, state ``./var``). Relative paths in a file are resolved
against the file's folder, so a unit file can start the daemon from anywhere.

The sections live in :mod:`kinod.config.sections`, the file reading and path resolution
in :mod:`kinod.config.file`; every name importers use is importable from here.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from kinod.config.file import (
    ENV_VAR,
    ConfigError,
    _format_validation_error,
    find_config_file,
    read_config_file,
    resolve_paths,
)
from kinod.config.sections import (
    BrokerConfig,
    JobsConfig,
    LoggingConfig,
    MediaConfig,
    MetricsConfig,
    OutputConfig,
    PathMapEntry,
    PathsConfig,
    SearchConfig,
    StateConfig,
    StorageConfig,
    Strict,
    SyncConfig,
    UiConfig,
    WatchConfig,
    WatchRoot,
    WorkerConfig,
)
from kinod.contracts import AnalyzerConfig
from kinod.export.writers.options import ExportOptions
from kinod.media.cards.config import CardsConfig
from kinod.media.proxy import ProxyConfig

__all__ = [
    "ENV_VAR",
    "INTERNAL_KEYS",
    "BrokerConfig",
    "Config",
    "ConfigError",
    "JobsConfig",
    "LoggingConfig",
    "MediaConfig",
    "MetricsConfig",
    "OutputConfig",
    "PathMapEntry",
    "PathsConfig",
    "SearchConfig",
    "StateConfig",
    "StorageConfig",
    "Strict",
    "SyncConfig",
    "UiConfig",
    "WatchConfig",
    "WatchRoot",
    "WorkerConfig",
    "analysis_hash",
    "config_hash",
    "find_config_file",
    "load_config",
    "read_config_file",
    "resolve_paths",
]


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
    storage: StorageConfig = StorageConfig()
    broker: BrokerConfig = BrokerConfig()
    worker: WorkerConfig = WorkerConfig()
    paths: PathsConfig = PathsConfig()
    sync: SyncConfig = SyncConfig()
    # The three fields below are filled by :func:`load_config`, never read from the file
    # (see INTERNAL_KEYS).
    #: Names of the analyzers to run, in the ``[analyzers]`` table as ``enabled``.
    enabled_analyzers: tuple[str, ...] = (
        "shots", "black", "freeze", "silence", "loudness", "dynamism", "picture", "technical", "speech",
        "visual", "ocr", "categories",
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


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate the config; raises ConfigError naming the file and key."""
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

    _check_formats(cfg, source)
    analyzer_configs = _analyzer_configs(enabled, analyzers_section, source)

    resolved = resolve_paths(cfg, base)
    return resolved.model_copy(
        update={
            "enabled_analyzers": tuple(enabled),
            "analyzer_configs": {n: resolve_paths(c, base) for n, c in analyzer_configs.items()},
            "source": file,
        }
    )


def _check_formats(cfg: Config, source: str) -> None:
    """Every format in ``output.formats`` and ``export.card_formats`` has a writer."""
    from kinod.export.writers import SIDECAR_FORMATS, writer_classes

    formats = {*SIDECAR_FORMATS, *writer_classes()}  # SIDECAR_FORMATS: json, yaml
    for fmt in cfg.output.formats:
        if fmt not in formats:
            raise ConfigError(f"{source}: output.formats: unknown format {fmt!r} (known: {', '.join(sorted(formats))})")
    for fmt in cfg.export.card_formats:
        if fmt not in formats:
            raise ConfigError(f"{source}: export.card_formats: unknown format {fmt!r}")


def _analyzer_configs(enabled: list[str], analyzers_section: dict[str, Any], source: str) -> dict[str, AnalyzerConfig]:
    """Each enabled or configured analyzer's section, validated against its own ``Config`` model.

    An enabled analyzer without a section gets its defaults; a section or a name that no
    installed analyzer owns is an error, not ignored.
    """
    from kinod.analyzers.registry import AnalyzerLoadError, analyzer_class, analyzer_names

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
    return analyzer_configs


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
