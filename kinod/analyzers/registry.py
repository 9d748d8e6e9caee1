"""Finds analyzers through the ``kinod.analyzers`` entry-point group.

Our own analyzers are registered the same way as a third party's (in pyproject.toml),
so there is one code path and a plugin is a first-class citizen. Entry points are
listed by name without importing them, and an analyzer is imported only when it is
enabled or configured: a disabled speech analyzer costs nothing at start. A plugin
that fails to import is reported by name rather than taking the daemon down.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

import structlog

from kinod.analyzers.base import AnalyzerBase, ModelAnalyzer, StreamAnalyzer

GROUP = "kinod.analyzers"
log = structlog.get_logger(__name__)


class AnalyzerLoadError(RuntimeError):
    """An installed analyzer could not be imported; the message names it and why."""


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def analyzer_names() -> list[str]:
    """Names of every installed analyzer, without importing any."""
    return sorted(_entry_points())


@cache
def analyzer_class(name: str) -> type[AnalyzerBase]:
    """Import one analyzer by name. Raises KeyError if none is installed under it."""
    ep = _entry_points()[name]
    try:
        cls = ep.load()
    except Exception as e:
        raise AnalyzerLoadError(f"analyzer {name!r} ({ep.value}) failed to import: {e}") from e
    if not (isinstance(cls, type) and issubclass(cls, (StreamAnalyzer, ModelAnalyzer))):
        raise AnalyzerLoadError(
            f"entry point {name!r} ({ep.value}) is not an analyzer (a StreamAnalyzer or ModelAnalyzer subclass)"
        )
    if cls.name != name:
        log.warning("entry point name differs from Analyzer.name", entry_point=name, name=cls.name)
    return cls


def analyzer_classes() -> dict[str, type[AnalyzerBase]]:
    """Every installed analyzer that imports (for ``kinod doctor``); broken ones are logged."""
    found: dict[str, type[AnalyzerBase]] = {}
    for name in analyzer_names():
        try:
            found[name] = analyzer_class(name)
        except AnalyzerLoadError as e:
            log.error("analyzer plugin failed to load", error=str(e))
    return found
