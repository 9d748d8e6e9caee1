"""Finds analyzers through the ``kinod.analyzers`` entry-point group.

Our own analyzers are registered the same way as a third party's (in pyproject.toml),
so there is one code path and a plugin is a first-class citizen. A plugin that fails
to import is reported by name and skipped, rather than taking the daemon down.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

import structlog

from kinod.analyzers.base import Analyzer

GROUP = "kinod.analyzers"
log = structlog.get_logger(__name__)


@cache
def analyzer_classes() -> dict[str, type[Analyzer]]:
    found: dict[str, type[Analyzer]] = {}
    for ep in entry_points(group=GROUP):
        try:
            cls = ep.load()
        except Exception as e:  # a broken plugin must not stop the others
            log.error("analyzer plugin failed to load", entry_point=ep.name, error=str(e))
            continue
        if not (isinstance(cls, type) and issubclass(cls, Analyzer)):
            log.error("entry point is not an Analyzer subclass", entry_point=ep.name, value=repr(cls))
            continue
        if cls.name != ep.name:
            log.warning("entry point name differs from Analyzer.name", entry_point=ep.name, name=cls.name)
        found[ep.name] = cls
    return found
