"""Reading the config file: where it is, its bytes parsed as TOML, and its paths resolved.

Why apart from :mod:`kinod.config`: these steps know files and pydantic models in general,
not kinod's sections, so they read on their own. Every failure is a :class:`ConfigError`
naming the file. The names are also importable from :mod:`kinod.config`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

ENV_VAR = "KINOD_CONFIG"


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


# --- robustness: every way a config file can be unreadable is a ConfigError ---
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
