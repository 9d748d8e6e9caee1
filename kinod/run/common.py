"""Values and helpers shared by the pipeline's rooms (:mod:`kinod.run`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from kinod.analyzers.base import (
    Analyzer,
    ClipInfo,
    Resources,
    Result,
    RuntimeContext,
)
from kinod.config import Config
from kinod.export.sidecar import (
    TimeBase,
)
from kinod.jobs.store import JobSpec, JobStore
from kinod.jobs.tasks import Task, TaskOutcome
from kinod.media.cache import FrameCacheSpec
from kinod.media.cards.model import ClipFiles
from kinod.media.decode import AudioBranch, VideoBranch
from kinod.media.probe import Probe

log = structlog.get_logger("kinod.pipeline")


@dataclass
class ClipOutcome:
    path: Path
    ok: bool
    sidecar: Path | None = None
    skipped: bool = False
    error: str | None = None
    media_seconds: float = 0.0
    ran: list[str] = field(default_factory=list)


@dataclass
class ClipPlan:
    """What planning a clip decided."""

    path: Path
    fingerprint: str
    out_dir: Path
    keys: dict[str, str]
    queued: list[str]
    pass_queued: bool
    #: Nothing to run and the sidecar is where it belongs.
    up_to_date: bool = False
    #: Nothing to run, but the sidecar must be (re)written (moved clip, crash before writing).
    needs_finalize: bool = False


@dataclass(frozen=True)
class DecodeExtras:
    """Outputs that ride the clip's one decode pass (proxies, measuring filters).

    ``finish(ok)`` is called after the pass: commit the output (rename into place) on
    success, remove partial files on failure.
    """

    video: tuple[VideoBranch, ...] = ()
    audio: tuple[AudioBranch, ...] = ()
    finish: Callable[[bool], None] | None = None


#: Makes the extra outputs for one clip: (clip path, probe, output folder) -> extras.
BranchProvider = Callable[[Path, Probe, Path], DecodeExtras]


class ClipError(RuntimeError):
    """A clip cannot be planned (unreadable, vanished); the message names the file."""


def _os_message(path: Path, e: OSError) -> str:
    return f"{path}: {e.strerror or e}"


def _resources(cls: type[Analyzer], config: Any) -> Resources:
    """The analyzer's own estimate for this config when it offers one (``resources_for``)."""
    fn = getattr(cls, "resources_for", None)
    if callable(fn):
        try:
            res = fn(config, "cuda")
            if isinstance(res, Resources):
                return res
        except Exception as e:  # an estimate must never block planning
            log.warning("resources_for failed; using the class default", analyzer=cls.name, error=str(e))
    return cls.resources


def _err(stage: str, message: str, analyzer: str | None = None) -> dict[str, Any]:
    return {"stage": stage, "analyzer": analyzer, "message": message}

class Room:
    """What the rooms of :class:`kinod.pipeline.ClipProcessor` share (set by its ``__init__``).

    Each room is a mixin holding one concern; the processor composes them, so the
    daemon, ``kinod scan`` and a worker process use one object.
    """

    config: Config
    store: JobStore
    ffmpeg: str
    runtime: RuntimeContext
    classes: dict[str, type[Analyzer]]
    branch_providers: list[BranchProvider]

    # Provided by other rooms (declared here so each room reads on its own).
    def _analyzer(self, name: str, options: dict[str, Any] | None = None) -> Analyzer:
        raise NotImplementedError

    def specs(self, fp: str, path: Path) -> dict[str, JobSpec]:
        raise NotImplementedError

    def cache_dir(self, fp: str) -> Path:
        raise NotImplementedError

    def cache_frame_spec(self) -> FrameCacheSpec | None:
        raise NotImplementedError

    def _out_dir(self, fp: str, path: Path) -> Path:
        raise NotImplementedError

    def _clip_info(self, path: Path, pr: Probe, out_dir: Path) -> ClipInfo:
        raise NotImplementedError

    def _record(self, a: Analyzer, result: Result, elapsed: float, tb: TimeBase) -> dict[str, Any]:
        raise NotImplementedError

    def write_error_sidecar(self, path: Path, out_dir: Path, message: str, card: str | None, fp: str | None) -> None:
        raise NotImplementedError

    def finalize(self, fp: str, only: str | None = None) -> ClipOutcome:
        raise NotImplementedError

    def enqueue_clip(self, clip: ClipFiles, out_dir: Path, **kwargs: Any) -> ClipPlan:
        raise NotImplementedError

    def run_task(
        self, task: Task, cancelled: Callable[[], bool], progress: Callable[[int, int], None] | None = None
    ) -> TaskOutcome:
        raise NotImplementedError
