"""The Analyzer contract shared by every analyzer, ours and third parties'.

An analyzer is a small object that looks at one clip and returns a :class:`Result`.
It never writes files next to the original, never decodes the clip itself and never
talks to the job store: the decode pass feeds it frames and audio (*stream*
analyzers), or a job hands it the analysis cache left by that pass (*model*
analyzers, which may run later, on a GPU, or on another machine).

Analyzers are found through the ``kinod.analyzers`` entry-point group, so a package
can add one without editing kinod. Each declares:

* ``name`` and ``version``: part of the job key; bump ``version`` whenever results change.
* ``needs``: what the decode pass must deliver (frames at some width and rate, audio).
* ``resources``: what the scheduler must reserve (CPU slots, GPU slots and memory).
* ``Config``: a pydantic model for its ``[analyzers.<name>]`` section (``extra="forbid"``).
"""

from __future__ import annotations

import threading
from abc import ABC
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from kinod.media.probe import Probe


class AnalyzerConfig(BaseModel):
    """Base for every analyzer's config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class FrameNeeds:
    """Frames an analyzer wants from the decode pass.

    ``every_frame`` analyzers (cut detection) see every decoded frame; others are
    given a sample at ``sample_fps``. All frames come at the pass's analysis width
    (``media.analysis_width``), BGR uint8, so one scaled stream serves everybody.
    """

    every_frame: bool = True
    sample_fps: float | None = None


@dataclass(frozen=True)
class AudioNeeds:
    """Audio an analyzer wants: float32 PCM at the pass's rate, all channels."""

    rate: int = 16000


@dataclass(frozen=True)
class Needs:
    frames: FrameNeeds | None = None
    audio: AudioNeeds | None = None
    #: Model analyzers read the analysis cache (PCM, sampled frames) instead of a live pass.
    cache: bool = False
    #: Names of analyzers whose results this one reads (run after them).
    results_of: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resources:
    """What the scheduler must reserve while this analyzer runs."""

    cpu: int = 1
    gpu: int = 0
    gpu_mem_mb: int = 0
    ram_mb: int = 256


@dataclass(frozen=True)
class RuntimeContext:
    """Where an analyzer may keep models and which device it should use."""

    state_dir: Path
    #: "auto" (CUDA when available, else CPU), "cpu" or "cuda".
    device: str = "auto"

    @property
    def models_dir(self) -> Path:
        return self.state_dir / "models"


@dataclass(frozen=True)
class ClipInfo:
    """What an analyzer may know about the clip it is looking at."""

    path: Path
    probe: Probe
    rate: Fraction
    #: Frame count on the clip's own timeline (nominal rate), 0 if unknown.
    frames: int
    #: Where the analyzer may put artefacts it returns (thumbnails); created on demand.
    artefact_dir: Path
    #: Timecode of frame 0 as a frame count at ``rate`` (0 when the clip has no TC).
    start_tc_frames: int = 0
    drop_frame: bool = False


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``index`` is the exact frame number on the clip's timeline."""

    index: int
    seconds: float
    image: np.ndarray  # (height, width, 3) uint8 BGR


@dataclass(frozen=True)
class AudioChunk:
    """A run of PCM samples: ``samples`` is (n, channels) float32 in [-1, 1]."""

    start_sample: int
    rate: int
    samples: np.ndarray

    @property
    def start_seconds(self) -> float:
        return self.start_sample / self.rate


MarkerCategory = Literal[
    "shot",
    "black",
    "freeze",
    "inactive",
    "silence",
    "speech",
    "face",
    "person",
    "text",
    "tag",
    "problem",
]


@dataclass(frozen=True)
class Marker:
    """A point or ranged event on the clip's timeline, in frames of the clip's rate."""

    category: MarkerCategory
    frame: int
    name: str
    duration_frames: int = 0
    comment: str = ""
    confidence: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "frame": self.frame,
            "duration_frames": self.duration_frames,
            "name": self.name,
            "comment": self.comment,
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class ModelInfo:
    """Which model produced a result, so an upgrade re-runs only what changed."""

    name: str
    sha256: str
    source: str = ""


@dataclass
class Result:
    """What an analyzer returns. The sidecar writer adds times and timecodes.

    ``items`` are interval or event records; each has ``start_frame`` and, for
    intervals, ``end_frame`` (exclusive) on the clip's timeline. ``summary`` holds
    clip-level facts. ``artefacts`` lists files the analyzer wrote under
    ``ClipInfo.artefact_dir`` (relative to it).
    """

    items: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    markers: list[Marker] = field(default_factory=list)
    model: ModelInfo | None = None
    artefacts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Analyzer(ABC):
    """Base class: subclasses set the class attributes and implement the hooks they need."""

    name: ClassVar[str]
    version: ClassVar[str]
    needs: ClassVar[Needs] = Needs()
    resources: ClassVar[Resources] = Resources()
    Config: ClassVar[type[AnalyzerConfig]] = AnalyzerConfig

    def __init__(self, config: AnalyzerConfig | None = None, runtime: RuntimeContext | None = None) -> None:
        self.config = config if config is not None else self.Config()
        self.runtime = runtime if runtime is not None else RuntimeContext(Path("var"))
        # The decode pass calls on_frame and on_audio from two threads; an analyzer
        # that takes both (inactivity) holds this lock in both hooks.
        self.lock = threading.Lock()

    @property
    def kind(self) -> Literal["stream", "model"]:
        return "model" if self.needs.cache else "stream"

    def checks(self) -> list[tuple[str, bool, str]]:
        """Set-up checks for ``kinod doctor``: (what, ok, detail). Must not load models."""
        return []

    def model_info(self) -> ModelInfo | None:
        """The model this analyzer would load, without loading it (for job keys)."""
        return None

    # Stream analyzers: called inside the decode pass, in this order.
    def start(self, clip: ClipInfo) -> None:  # noqa: B027 - optional hook
        """Called once before the first frame or audio chunk."""

    def on_frame(self, frame: Frame) -> None:  # noqa: B027 - optional hook
        """Called for each frame this analyzer asked for, in order."""

    def on_audio(self, chunk: AudioChunk) -> None:  # noqa: B027 - optional hook
        """Called for each audio chunk, in order, from the audio reader thread."""

    def finish(self) -> Result:
        """Called once after the last frame and chunk; returns the result."""
        raise AnalyzerError(f"{self.name}: stream analyzer does not implement finish()")

    # Model analyzers: called by a job with the clip's analysis cache.
    def run(self, clip: ClipInfo, cache: Any) -> Result:
        raise AnalyzerError(f"{self.name}: model analyzer does not implement run()")


class AnalyzerError(RuntimeError):
    """An analyzer could not produce a result; the message says why."""


class ModelMissingError(AnalyzerError):
    """A model file is absent or its hash does not match; names the config key."""
