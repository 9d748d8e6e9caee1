"""The content taxonomy: a TOML file of categories, each with a description, to any depth.

Why TOML: it is what kinod's own config uses, users can edit it by hand, and Python reads
it without a dependency. A syntax error is reported with the file name and line (tomllib
says where); a file whose shape is wrong says which key. See ``data/taxonomy.toml``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any


class TaxonomyError(ValueError):
    """The taxonomy file cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Leaf:
    """A category clips are scored against: its path from the root and the text that describes it."""

    path: tuple[str, ...]
    text: str


def default_path() -> Path:
    return Path(str(resources.files("kinod.analyzers.categories").joinpath("data/taxonomy.toml")))


def load(path: Path | None = None) -> list[Leaf]:
    """The leaves of the taxonomy at ``path`` (default: the shipped one)."""
    path = path or default_path()
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except OSError as e:
        raise TaxonomyError(f"{path}: cannot read the taxonomy file ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise TaxonomyError(f"{path}: the taxonomy file is not UTF-8 text ({e.reason})") from None
    except tomllib.TOMLDecodeError as e:
        raise TaxonomyError(f"{path}: syntax error in the taxonomy file: {e}") from None
    leaves: list[Leaf] = []
    for name, value in data.items():
        _walk(path, (name,), value, "", leaves)
    if not leaves:
        raise TaxonomyError(f"{path}: the taxonomy has no categories")
    return leaves


def _walk(path: Path, trail: tuple[str, ...], value: Any, parent_about: str, out: list[Leaf]) -> None:
    where = ".".join(trail)
    if isinstance(value, str):
        out.append(Leaf(trail, f"{' > '.join(trail)}: {value}"))
        return
    if not isinstance(value, dict):
        raise TaxonomyError(f"{path}: {where}: a category is a description (string) or a table, not {value!r}")
    about = value.get("about", "")
    if not isinstance(about, str):
        raise TaxonomyError(f"{path}: {where}.about: must be a string")
    children = {k: v for k, v in value.items() if k != "about"}
    if not children:
        out.append(Leaf(trail, f"{' > '.join(trail)}: {about or parent_about}"))
        return
    for name, child in children.items():
        if isinstance(child, str) and about:
            out.append(Leaf((*trail, name), f"{' > '.join((*trail, name))}: {child}; {about}"))
        else:
            _walk(path, (*trail, name), child, about, out)
