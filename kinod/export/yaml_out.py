"""YAML twins of the JSON sidecars: ``<clip>.kino.yaml`` and the card's ``card.kino.yaml``.

The Kino metadata brief asks for JSON *and* YAML. The YAML file is the sidecar itself,
not a second layout: the same keys in the same order, loaded by any YAML 1.1 reader
(``yaml.safe_load``) into exactly the dict the JSON file holds, so it validates against
the same JSON Schema. It is written with PyYAML's safe dumper, so no Python tags
(``!!python/tuple``) can appear; strings a YAML reader would take for something else
(``yes``, ``10:00:00:00`` read as a sexagesimal number, ``null``) are quoted by the
dumper's own resolver check, which the round-trip test relies on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from kinod.media.fsutil import atomic_write_text, fit_name

YAML_FORMAT = "yaml"
YAML_SUFFIX = ".kino.yaml"
CARD_YAML_NAME = "card" + YAML_SUFFIX


#: libyaml's emitter when PyYAML was built with it (the wheels are): about 5x faster, same output rules.
_SafeBase: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # type: ignore[assignment]


class _Dumper(_SafeBase):  # type: ignore[valid-type,misc]
    """Safe dumper that never emits anchors/aliases (a sidecar repeats small dicts on purpose)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(data: Any) -> str:
    """``data`` (JSON-compatible) as block-style YAML, key order kept, Unicode as is.

    Raises ValueError when ``data`` holds something JSON cannot (the sidecar is JSON first).
    """
    try:
        plain = json.loads(json.dumps(data, allow_nan=False))  # tuples -> lists, no NaN, JSON types only
    except (TypeError, ValueError) as e:
        raise ValueError(f"not JSON data, so not written as YAML: {e}") from None
    return yaml.dump(plain, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=4096)


def write_yaml(path: Path, data: Any) -> Path:
    """Write ``data`` as YAML to ``path`` atomically (temp file, fsync, rename)."""
    atomic_write_text(path, to_yaml(data))
    return path


def read_yaml(path: Path) -> Any:
    """Load a YAML file with the safe loader; ValueError names the file when it cannot be read."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ValueError(f"{path}: cannot read YAML: {e}") from None


def read_json(path: Path) -> Any:
    """A JSON file's data; ValueError names the file when it is missing or malformed."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"{path}: cannot read JSON: {e}") from None


def sidecar_yaml_path(out_dir: Path, clip_name: str) -> Path:
    return out_dir / (fit_name(clip_name, out_dir) + YAML_SUFFIX)  # fits NAME_MAX
