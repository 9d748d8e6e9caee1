"""The analyzer contract: the values that pass between the decode pass, analyzers and the sidecar.

Why a leaf module: ``kinod.media`` (the decode pass feeds frames, audio and filter events),
``kinod.export`` (the sidecar writes markers and results) and ``kinod.analyzers`` all speak
these types. Keeping them here, importing nothing of kinod at run time, lets a worker on
another machine, a third-party analyzer or the exporters use them without pulling in the
analyzers package, the pipeline or the daemon, and it keeps the import graph one-way
(a test walks it). ``kinod.analyzers.base`` re-exports every name, so analyzers keep
importing them from there.

The decode pass only needs what :class:`StreamConsumer` describes; the analyzer base
classes (:class:`~kinod.analyzers.base.StreamAnalyzer`, :class:`~kinod.analyzers.base.ModelAnalyzer`)
live in the analyzers package.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from kinod.media.probe import Probe


class AnalyzerConfig(BaseModel):
    """Base for every analyzer's config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: String keys that may hold a path (a local model folder): the config loader
    #: resolves them against the config file's folder when they look like a path.
    path_keys: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True)
class FrameNeeds:
    """Frames an analyzer wants from the decode pass.

    ``every_frame`` analyzers (cut detection) see every decoded frame; others are
    given a sample at ``sample_fps`` (the first frame of each 1/fps period, so samples
    land on exact frames). Frames are BGR uint8, read-only, shared by every analyzer
    that asked for the same stream.

    ``width`` (default: the pass's ``media.analysis_width``) and ``scaling`` pick the
    stream; analyzers asking for the same one share a single scaled output of ffmpeg:

    * ``"area"``: anti-aliased, what people look at (keyframes, picture statistics);
    * ``"point"``: nearest-pixel decimation. It keeps each pixel's own value, so noise,
      clipped pixels and frame differences keep their full-resolution statistics, and it
      is what PySceneDetect's detectors see after their own downscale (so their scores
      and thresholds mean the same here). A source narrower than twice ``width`` comes
      at its own size: decimating by less than 2 would drop columns unevenly, and the
      analyzer resizes it itself;
    * ``"fast"``: anti-aliased like ``"area"``, with swscale's own rounding of chroma in
      the conversion to BGR (a fifth of the cost at 1280 px): for pictures a model reads,
      which are JPEG-compressed in the analysis cache anyway.

    Sampled streams are selected inside ffmpeg, so unsampled frames cost nothing
    beyond decoding.
    """

    every_frame: bool = True
    sample_fps: float | None = None
    width: int | None = None
    scaling: Literal["area", "point", "fast"] = "area"


@dataclass(frozen=True)
class AudioNeeds:
    """Audio an analyzer wants: float32 PCM, all channels.

    Always at the pass's rate (``media.audio_rate``, shared with the analysis cache;
    :attr:`AudioChunk.rate` says which), never a per-analyzer rate: one resampler serves
    every analyzer. ``native=True`` asks for a second pipe at the source's own sample
    rate, for sample-exact peaks and clipping, which resampling would smear.
    """

    native: bool = False


@dataclass(frozen=True)
class FilterTap:
    """An ffmpeg measuring filter run inside the decode pass's own ffmpeg process.

    Some measurements are best done by ffmpeg's filters (blackdetect, freezedetect,
    silencedetect, ebur128, idet, cropdetect): they are exact references users already
    trust, and they run in C on ffmpeg's filter thread. Rather than a second decode,
    the pass splits its graph and gives each tap its own leg, ending in a ``metadata``
    printer on a pipe that the pass parses and hands to :meth:`StreamAnalyzer.on_filter`.

    ``name`` identifies the tap to its analyzer; the filter chain itself comes from
    :meth:`StreamAnalyzer.filter_chain` so thresholds can come from the analyzer's config.
    ``media`` picks the picture or the sound (all audio streams merged, source rate).
    ``size`` (video): ``"small"`` runs on the picture point-scaled to 256 px wide, the
    detection stream shots reads (one scaling serves both; decimation keeps each pixel's
    own value, so shares of black pixels and frame differences are the full picture's);
    ``"full"`` on the decoded picture (idet must see the original fields). Each leg's
    timestamps start at 0.
    """

    name: str
    media: Literal["video", "audio"]
    size: Literal["small", "full"] = "small"


@dataclass(frozen=True)
class FilterEvent:
    """The metadata one tap's filters attached to one frame (video) or audio frame.

    ``seconds`` and ``frame`` place the frame on the clip's timeline (video frame 0 is
    0 s). Times *inside* ``values`` (``lavfi.black_start=3.2``) are in the tap's own
    clock; convert them with :meth:`clip_seconds` / :meth:`clip_frame`.
    """

    tap: str
    frame: int
    seconds: float
    values: Mapping[str, str]
    rate: Fraction
    #: Add to a tap time to get clip time (audio legs start when the audio does).
    offset_s: float = 0.0
    #: Size of the picture the tap's chain was given (video; 0 for audio), for pixel values.
    width: int = 0
    height: int = 0

    def clip_seconds(self, value: str | float) -> float:
        return float(value) + self.offset_s

    def clip_frame(self, value: str | float) -> int:
        """Nearest frame of the clip's timeline to a tap time (never negative)."""
        return max(0, round(self.clip_seconds(value) * self.rate))


@dataclass(frozen=True)
class StreamEnd:
    """How much the decode pass delivered, told to every analyzer before ``finish``.

    Intervals still open at the end of the clip (black to the last frame) end here;
    ffmpeg's filters cannot report them because no frame is left to carry the news.
    """

    #: Video frames decoded (0: no picture).
    frames: int
    #: Seconds of audio on the clip's timeline (0.0: no sound).
    audio_seconds: float


@dataclass(frozen=True)
class Needs:
    frames: FrameNeeds | None = None
    audio: AudioNeeds | None = None
    #: Model analyzers read the analysis cache (PCM, sampled frames) instead of a live pass.
    cache: bool = False
    #: Names of analyzers whose results this one reads (run after them).
    results_of: tuple[str, ...] = ()
    #: A second picture stream, delivered to :meth:`StreamAnalyzer.on_still` (e.g. shots detect
    #: cuts on small point-scaled frames but pick keyframes from sampled area-scaled ones).
    stills: FrameNeeds | None = None
    #: ffmpeg measuring filters run inside the decode pass (see :class:`FilterTap`).
    filters: tuple[FilterTap, ...] = ()
    #: Model analyzers: sampled frames the decode pass must keep in the analysis cache
    #: for them (``sample_fps``, ``width``). The pass keeps one stream serving every
    #: analyzer (the highest rate and the widest picture asked for); see
    #: :class:`kinod.media.cache.AnalysisCache.frames`.
    cache_frames: FrameNeeds | None = None

    def wants_pass(self) -> bool:
        """True when the decode pass has something to give this analyzer."""
        return self.frames is not None or self.audio is not None or self.stills is not None or bool(self.filters)

    def wants_picture(self) -> bool:
        return self.frames is not None or self.stills is not None or any(t.media == "video" for t in self.filters)

    def wants_sound(self) -> bool:
        return self.audio is not None or any(t.media == "audio" for t in self.filters)


@dataclass(frozen=True)
class Resources:
    """What the scheduler must reserve while this analyzer runs."""

    cpu: int = 1
    gpu: int = 0
    gpu_mem_mb: int = 0
    #: Informational only: the scheduler does not reserve RAM. Kept so analyzers that
    #: declare it (speech, and those being written against this contract) keep working;
    #: drop it once none does, or make the scheduler honour it.
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
    #: Where the clip's sidecar is written, for analyzers that index clips across the
    #: library (the people registry); None where no sidecar is planned.
    sidecar: Path | None = None


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


#: A marker category's name ("shot", "black", a plugin's own). Any lowercase word: the
#: analyzer that writes it declares it (:class:`MarkerCategorySpec`), so readers learn it
#: from the installed analyzers rather than from a list kept here.
MarkerCategory = str


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


class StreamConsumer(Protocol):
    """What the decode pass needs of an analyzer it feeds (a stream analyzer).

    The pass holds ``lock`` around every hook (its reader threads never overlap one
    analyzer's hooks) and sets ``failure`` when a hook raised, after which it stops
    feeding that analyzer.
    """

    name: str
    needs: Needs
    lock: threading.Lock
    failure: str | None

    def on_frame(self, frame: Frame) -> None: ...
    def on_audio(self, chunk: AudioChunk) -> None: ...
    def on_still(self, frame: Frame) -> None: ...
    def filter_chain(self, tap: str) -> str: ...
    def on_filter(self, event: FilterEvent) -> None: ...
    def on_end(self, end: StreamEnd) -> None: ...


class AnalyzerError(RuntimeError):
    """An analyzer could not produce a result; the message says why."""


class ModelMissingError(AnalyzerError):
    """A model file is absent or its hash does not match; names the config key."""


class OutOfMemoryError(AnalyzerError):
    """The device ran out of memory; the scheduler may retry smaller, then on the CPU.

    Why a class of its own: the scheduler must tell "the GPU was too full" (retry with a
    smaller batch, or elsewhere) from "this clip cannot be analysed" (do not retry). Any
    model analyzer raises it (or a subclass) with the batch size that failed:

    * ``retry_batch_size``: half of it, or ``None`` when it was already 1;
    * ``retry_on_cpu``: ``True`` when only a CPU run is left to try.
    """

    def __init__(self, batch_size: int, message: str) -> None:
        self.batch_size = batch_size
        self.retry_batch_size: int | None = batch_size // 2 if batch_size > 1 else None
        self.retry_on_cpu = self.retry_batch_size is None
        super().__init__(message)
