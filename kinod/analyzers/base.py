"""The Analyzer contract shared by every analyzer, ours and third parties'.

An analyzer is a small object that looks at one clip and returns a :class:`Result`.
It never writes files next to the original, never decodes the clip itself and never
talks to the job store: the decode pass feeds it frames and audio (*stream*
analyzers), or a job hands it the analysis cache left by that pass (*model*
analyzers, which may run later, on a GPU, or on another machine).

Analyzers are found through the ``kinod.analyzers`` entry-point group, so a package
can add one without editing kinod. Each declares:

* ``name`` and ``version``: part of the job key; bump ``version`` whenever results change.
* ``needs``: what the decode pass must deliver (frames at some width and rate, audio,
  ffmpeg measuring filters run inside the pass: :class:`FilterTap`).
* ``resources``: what the scheduler must reserve (CPU slots, GPU slots and memory).
* ``Config``: a pydantic model for its ``[analyzers.<name>]`` section (``extra="forbid"``).
* ``marker_categories``: the marker categories it writes, with colour, label and order
  (:class:`MarkerCategorySpec`), which exporters, the search index and the browse UI use.
* ``search_entries``, ``ui_sections``, ``keyframe``: how its sidecar record becomes
  search entries and clip-page sections (class methods: readers call them on sidecars
  without building the analyzer).

So a new analyzer is its module plus its entry point; nothing else in kinod names it.

Two kinds, two classes: a :class:`StreamAnalyzer` is fed by the decode pass (hooks, then
``finish``); a :class:`ModelAnalyzer` reads the analysis cache in a job of its own
(``run``). :data:`Analyzer` is the type of either.

The value types (frames, needs, taps, markers, results, errors) live in
:mod:`kinod.contracts` and are re-exported here.
"""

from __future__ import annotations

import threading
from abc import ABC
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeAlias

from kinod.contracts import (
    AnalyzerConfig,
    AnalyzerError,
    AudioChunk,
    AudioNeeds,
    ClipInfo,
    FilterEvent,
    FilterTap,
    Frame,
    FrameNeeds,
    Marker,
    MarkerCategory,
    ModelInfo,
    ModelMissingError,
    Needs,
    OutOfMemoryError,
    Resources,
    Result,
    RuntimeContext,
    StreamConsumer,
    StreamEnd,
)
from kinod.contracts.declarations import MarkerCategorySpec, ReadContext, SearchEntry, UiSection

__all__ = [
    "Analyzer",
    "AnalyzerBase",
    "AnalyzerConfig",
    "AnalyzerError",
    "AudioChunk",
    "AudioNeeds",
    "ClipInfo",
    "FilterEvent",
    "FilterTap",
    "Frame",
    "FrameNeeds",
    "Marker",
    "MarkerCategory",
    "MarkerCategorySpec",
    "ModelAnalyzer",
    "ModelInfo",
    "ModelMissingError",
    "Needs",
    "OutOfMemoryError",
    "ReadContext",
    "Resources",
    "Result",
    "RuntimeContext",
    "SearchEntry",
    "StreamAnalyzer",
    "StreamConsumer",
    "StreamEnd",
    "UiSection",
    "finish_order",
]


class AnalyzerBase(ABC):
    """What every analyzer has: identity, needs, resources, config, set-up checks."""

    name: ClassVar[str]
    version: ClassVar[str]
    needs: ClassVar[Needs] = Needs()
    resources: ClassVar[Resources] = Resources()
    Config: ClassVar[type[AnalyzerConfig]] = AnalyzerConfig
    #: Marker categories this analyzer writes (kinod's own ``problem`` and ``tag`` need no
    #: declaring). Readers find them through the ``kinod.analyzers`` entry points.
    marker_categories: ClassVar[tuple[MarkerCategorySpec, ...]] = ()
    kind: ClassVar[Literal["stream", "model"]]

    def __init__(self, config: AnalyzerConfig | None = None, runtime: RuntimeContext | None = None) -> None:
        self.config = config if config is not None else self.Config()
        self.runtime = runtime if runtime is not None else RuntimeContext(Path("var"))
        # The decode pass calls the hooks from several reader threads (one per pipe);
        # it holds this lock around every call, so an analyzer's hooks never overlap.
        self.lock = threading.Lock()
        #: Set by the decode pass when one of this analyzer's hooks raised: the pass stops
        #: feeding it, and its result must not be used (``finish`` raises this).
        self.failure: str | None = None
        # The class declares what it needs; an instance may refine that from its config
        # (a sample rate, no stills when thumbnails are off). Readers use ``a.needs``.
        self.needs = self.configure_needs(type(self).needs)  # type: ignore[misc]

    def configure_needs(self, needs: Needs) -> Needs:
        """The class's ``needs`` adjusted to ``self.config``; the default keeps them as declared."""
        return needs

    def raise_if_failed(self) -> None:
        """For ``finish``: a hook that raised mid-pass leaves nothing trustworthy to return."""
        if self.failure is not None:
            raise AnalyzerError(f"{self.name}: failed during the decode pass: {self.failure}")

    def checks(self) -> list[tuple[str, bool, str]]:
        """Set-up checks for ``kinod doctor``: (what, ok, detail). Must not load models."""
        return []

    def model_info(self) -> ModelInfo | None:
        """The model this analyzer would load, without loading it (for job keys)."""
        return None

    def use_results(self, results: Mapping[str, Result]) -> None:
        """Called before ``finish``/``run`` with the results of ``needs.results_of`` that exist."""
        return None

    # Readers of sidecars: class methods, called on records without building the analyzer.
    @classmethod
    def search_entries(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[SearchEntry]:
        """What of this analyzer's sidecar record (``analyses.<name>``) the search index keeps."""
        return []

    @classmethod
    def ui_sections(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]:
        """The blocks this analyzer's record adds to a clip page."""
        return []

    @classmethod
    def keyframe(cls, record: Mapping[str, Any]) -> str | None:
        """A picture standing for the clip (a file name under ``keyframes/<clip>/``), if it has one."""
        return None


class StreamAnalyzer(AnalyzerBase):
    """Fed by the decode pass: frames, audio, stills and filter events, then ``finish``."""

    kind: ClassVar[Literal["stream", "model"]] = "stream"

    # Stream analyzers: called inside the decode pass, in this order.
    def start(self, clip: ClipInfo) -> None:
        """Called once before the first frame or audio chunk."""

    def on_frame(self, frame: Frame) -> None:
        """Called for each frame this analyzer asked for, in order."""

    def on_audio(self, chunk: AudioChunk) -> None:
        """Called for each audio chunk, in order, from the audio reader thread."""

    def on_still(self, frame: Frame) -> None:
        """Called for each frame of the ``needs.stills`` stream, in order."""

    def filter_chain(self, tap: str) -> str:
        """The ffmpeg filter chain of one of ``needs.filters`` (e.g. ``"blackdetect=d=0"``).

        Called by the decode pass after :meth:`start`, so it may depend on the clip.
        """
        raise AnalyzerError(f"{self.name}: declares filter tap {tap!r} but has no filter_chain() for it")

    def on_filter(self, event: FilterEvent) -> None:
        """Called for each frame a tap's filters attached metadata to, in order per tap."""

    def on_end(self, end: StreamEnd) -> None:
        """Called once after the last frame, chunk and filter event, before ``finish``."""

    def finish(self) -> Result:
        """Called once after the last frame and chunk; returns the result."""
        raise AnalyzerError(f"{self.name}: stream analyzer does not implement finish()")


class ModelAnalyzer(AnalyzerBase):
    """Runs in a job of its own on the clip's analysis cache (PCM, sampled frames).

    Needs ``cache=True`` (set here by default); may run later, on a GPU, or on another
    machine, and never decodes the original. Raise :class:`OutOfMemoryError` when the
    device is too full, so the scheduler retries smaller or on the CPU.
    """

    needs: ClassVar[Needs] = Needs(cache=True)
    kind: ClassVar[Literal["stream", "model"]] = "model"

    def __init__(self, config: AnalyzerConfig | None = None, runtime: RuntimeContext | None = None) -> None:
        super().__init__(config, runtime)
        if not self.needs.cache:  # the decode pass tells its stream analyzers apart by this flag
            self.needs = replace(self.needs, cache=True)  # type: ignore[misc]

    # Model analyzers: called by a job with the clip's analysis cache.
    def run(self, clip: ClipInfo, cache: Any) -> Result:
        raise AnalyzerError(f"{self.name}: model analyzer does not implement run()")


#: Any analyzer: what the planner, the runners and the pipeline hold.
Analyzer: TypeAlias = StreamAnalyzer | ModelAnalyzer


def finish_order(analyzers: Sequence[Analyzer]) -> list[Analyzer]:
    """Analyzers ordered so each comes after those in its ``needs.results_of``.

    Order is otherwise kept; a dependency that is absent or circular is ignored (the
    analyzer then finishes without it, as it must when that analyzer is disabled).
    """
    by_name = {a.name: a for a in analyzers}
    done: list[Analyzer] = []
    seen: set[str] = set()

    def visit(a: Analyzer, stack: frozenset[str]) -> None:
        if a.name in seen or a.name in stack:
            return
        for dep in a.needs.results_of:
            if dep in by_name:
                visit(by_name[dep], stack | {a.name})
        if a.name not in seen:
            seen.add(a.name)
            done.append(a)

    for a in analyzers:
        visit(a, frozenset())
    return done
