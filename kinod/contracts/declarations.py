"""What an analyzer declares for the readers of its results: categories, search entries, page sections.

Exporters, the search index and the browse UI sit above the analyzers and ask each
installed analyzer (found under the ``kinod.analyzers`` entry points) how to show what it
wrote, through :class:`AnalysisReader`, so none of them keeps a list of analyzer names.
These are the values that pass between them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class MarkerCategorySpec:
    """How every reader shows one marker category; declared by the analyzer that writes it.

    Exporters take the colour and the order from here, the search index the entry kind and
    facet, the browse UI the label and the row order. A category several analyzers write
    (``problem``, ``tag``) is kinod's own and declared once by kinod.
    """

    name: str
    #: OTIO marker colour name (PINK RED ORANGE YELLOW GREEN CYAN BLUE PURPLE MAGENTA BLACK WHITE).
    color: str
    #: What people read (a legend, a heading); the name when empty.
    label: str = ""
    #: Display priority, lowest first; also which marker wins when markers of one frame merge.
    order: int = 500
    #: Search entry kind its markers are indexed as; ``None`` when the analysis items are
    #: indexed instead (shots, speech), so the same words are not found twice.
    search_kind: str | None = "marker"
    #: When set, marker names become values of this search facet (``tag``: ``--tag kitchen``).
    facet: str | None = None
    #: The browse UI draws one lane per marker name (one per person) instead of one for the category.
    lane_per_name: bool = False

    @property
    def title(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class SearchEntry:
    """One searchable thing an analysis holds, on the clip's timeline in seconds.

    Returned by an analyzer's ``search_entries``; the search index stores ``text`` under
    ``kind`` (``kinod search --json`` reports it) and ``facets`` as filter values. Kind
    ``clip`` adds ``text`` to the clip-wide facts entry (camera, names, languages).
    """

    kind: str
    start_s: float
    end_s: float
    text: str
    label: str = ""
    #: Speech: [[word, start_s, end_s], ...] so a hit can be narrowed to the words that matched.
    words: list[list[Any]] | None = None
    #: (facet, value) pairs for the search filters (``("person", "ann lee")``), case-folded by the index.
    facets: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class UiSection:
    """One block of a clip page, built by an analyzer from its own record.

    ``panel`` picks how the page draws ``rows``: ``"list"`` (rows with ``t``, ``tc``,
    ``text`` and optional ``title``), ``"tags"`` (rows with ``text`` and optional ``cls``),
    ``"contact"`` (keyframes: ``t``, ``tc``, ``img``), ``"people"`` (``id``, ``name``,
    ``img``, ``t``, ``tracks``) or ``"transcript"`` (``t``, ``tc``, ``speaker``, ``text``,
    ``words``). Sections with the same ``title`` merge, in ``order``. ``key`` also puts
    the rows under that name in the page's data (the card page reads ``shots``, ``people``, ``tags``).
    """

    title: str
    panel: str
    rows: list[dict[str, Any]]
    order: int = 500
    key: str = ""


@dataclass(frozen=True)
class ReadContext:
    """What a reader hook may know besides the analysis record: the clip and how to show times."""

    #: Clip length in seconds (0.0 when unknown).
    duration_s: float
    #: The clip's file name (keyframes live under ``keyframes/<name>/``).
    clip_name: str = ""
    #: Seconds -> source timecode label for the page.
    tc: Callable[[float], str] = lambda s: f"{s:.2f}s"
    #: Path relative to the clip's output folder -> URL, or None when it cannot be served.
    link: Callable[[str], str | None] = lambda p: None


class AnalysisReader(Protocol):
    """What readers of sidecars (exporters, search index, browse UI) ask of an installed analyzer.

    Every analyzer class answers it (the defaults of the analyzer base say "nothing"), so
    those readers learn categories, search entries and page sections from the analyzers
    found under the ``kinod.analyzers`` entry points, never from a list of names.
    """

    name: str
    marker_categories: tuple[MarkerCategorySpec, ...]

    def search_entries(self, record: Mapping[str, Any], ctx: ReadContext) -> list[SearchEntry]: ...
    def ui_sections(self, record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]: ...
    def keyframe(self, record: Mapping[str, Any]) -> str | None: ...
