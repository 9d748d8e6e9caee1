"""Values and helpers shared by the pipeline's parts (:mod:`kinod.run`)."""

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
)
from kinod.config import Config
from kinod.export.sidecar import sidecar_path
from kinod.media.decode import AudioBranch, VideoBranch
from kinod.media.fsutil import fit_name
from kinod.media.probe import Probe

log = structlog.get_logger("kinod.run.processor")


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


def cache_dir_for(config: Config, fp: str) -> Path:
    """A clip's analysis cache folder, as the coordinator sees it (tasks carry it to workers)."""
    return config.state.cache_root / fp


def clip_info(path: Path, pr: Probe, out_dir: Path) -> ClipInfo:
    """What an analyzer may know about the clip (its artefacts go under the output folder)."""
    return ClipInfo(
        path=path,
        probe=pr,
        rate=pr.timeline_rate,
        frames=pr.frames,
        artefact_dir=out_dir / "keyframes" / fit_name(path.name, out_dir),
        start_tc_frames=pr.start_tc_frames,
        drop_frame=pr.drop_frame,
        sidecar=sidecar_path(out_dir, path.name),
    )


def _err(stage: str, message: str, analyzer: str | None = None) -> dict[str, Any]:
    return {"stage": stage, "analyzer": analyzer, "message": message}
