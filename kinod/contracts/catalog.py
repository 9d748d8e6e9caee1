"""The installed analyzers as readers of sidecars see them: marker categories, search entries, page sections.

Why a module of its own, below the analyzers package: the exporters, the search index and
the browse UI read sidecars and must show a plugin's markers and results as well as ours,
yet the exporters sit below the analyzers and never import them. They ask this module,
which finds the analyzers through the ``kinod.analyzers`` entry points (the seam the
pipeline uses too) and reads what each class declares (:class:`~kinod.contracts.AnalysisReader`):
its marker categories, and how its record becomes search entries and clip-page sections.

Loading happens on first use, never at import (an analyzer module may import an exporter),
costs well under a second for every analyzer we ship, and an analyzer that fails to import
is logged and left out: a broken plugin must not stop an export.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

import structlog

from kinod.contracts.declarations import AnalysisReader, MarkerCategorySpec

GROUP = "kinod.analyzers"
log = structlog.get_logger(__name__)

#: Categories several analyzers write (loudness and technical both report problems;
#: dynamism, visual, scenes and categories all tag), so kinod declares them itself.
CORE_CATEGORIES: tuple[MarkerCategorySpec, ...] = (
    MarkerCategorySpec("problem", "RED", "Problem", order=0, search_kind="problem"),
    MarkerCategorySpec("tag", "PURPLE", "Tag", order=1000, search_kind="tag", facet="tag"),
)
_READER_HOOKS = ("marker_categories", "search_entries", "ui_sections", "keyframe")


@cache
def readers() -> dict[str, AnalysisReader]:
    """Every installed analyzer class that imports, by entry-point name, sorted by name."""
    found: dict[str, AnalysisReader] = {}
    eps = {ep.name: ep for ep in entry_points(group=GROUP)}
    for name in sorted(eps):
        try:
            cls = eps[name].load()
        except Exception as e:
            log.error("analyzer plugin failed to load", analyzer=name, target=eps[name].value, error=str(e))
            continue
        if not all(hasattr(cls, hook) for hook in _READER_HOOKS):
            log.warning("entry point is not an analyzer; its results are not shown", analyzer=name)
            continue
        found[name] = cls
    return found


@cache
def marker_categories() -> dict[str, MarkerCategorySpec]:
    """Every known marker category in display order (kinod's own, then each analyzer's)."""
    specs = {c.name: c for c in CORE_CATEGORIES}
    for name, reader in readers().items():
        for spec in reader.marker_categories:
            if spec.name in specs and specs[spec.name] != spec:
                log.warning("marker category declared twice; the first declaration wins",
                            category=spec.name, analyzer=name)
                continue
            specs[spec.name] = spec
    return dict(sorted(specs.items(), key=lambda kv: (kv[1].order, kv[0])))


def category_names() -> tuple[str, ...]:
    """Category names in display priority order (first wins when markers must merge)."""
    return tuple(marker_categories())


def category_colors() -> dict[str, str]:
    """Default OTIO marker colour per category (``[export] colors`` overrides them)."""
    return {name: spec.color for name, spec in marker_categories().items()}


def category(name: str) -> MarkerCategorySpec:
    """The declaration of one category; an unknown one (its analyzer is not installed here) gets defaults."""
    return marker_categories().get(name) or MarkerCategorySpec(name, "RED")


def refresh() -> None:
    """Forget what was found (after installing a plugin into a running process, and in tests)."""
    readers.cache_clear()
    marker_categories.cache_clear()
