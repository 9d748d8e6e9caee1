"""Processing one clip: probe, one decode pass, analyzers, sidecar and timeline.

Shared by ``kinod scan`` and the daemon so there is one way a clip is processed.
It knows the order of steps, not what any analyzer computes.

Failure policy: a clip that cannot be probed or decoded gets a sidecar with an
``errors`` record (in the output tree, never beside the original) and the scan goes
on; an analyzer that raises is recorded in ``errors`` and the other analyzers'
results are still written.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from kinod.analyzers.base import Analyzer, ClipInfo, Result, RuntimeContext
from kinod.analyzers.registry import analyzer_classes
from kinod.config import Config, config_hash
from kinod.export.sidecar import (
    TimeBase,
    analysis_record,
    build_sidecar,
    marker_record,
    sidecar_path,
    write_sidecar,
)
from kinod.export.timeline import clip_timeline, write_otio
from kinod.jobs.store import JobSpec, JobStore, job_key
from kinod.media.cache import AnalysisCache, AnalysisCacheWriter
from kinod.media.decode import DecodeError, DecodePass
from kinod.media.ffmpeg import ffmpeg_path
from kinod.media.fingerprint import fingerprint
from kinod.media.probe import Probe, ProbeError, probe

log = structlog.get_logger(__name__)

#: Names that are never media: OS droppings and partial copies.
MEDIA_EXTENSIONS = frozenset(
    [
        ".mov",
        ".mp4",
        ".m4v",
        ".mxf",
        ".mts",
        ".m2ts",
        ".avi",
        ".mkv",
        ".webm",
        ".mpg",
        ".mpeg",
        ".ts",
        ".3gp",
        ".dv",
        ".r3d",
        ".braw",
        ".ari",
        ".wav",
        ".bwf",
        ".aif",
        ".aiff",
        ".flac",
        ".mp3",
        ".m4a",
        ".aac",
        ".ogg",
        ".opus",
    ]
)


@dataclass
class ClipOutcome:
    path: Path
    ok: bool
    sidecar: Path | None = None
    skipped: bool = False
    error: str | None = None
    media_seconds: float = 0.0
    ran: list[str] = field(default_factory=list)


def is_media_name(path: Path) -> bool:
    name = path.name
    if name.startswith(".") or name.startswith("._"):
        return False
    return path.suffix.lower() in MEDIA_EXTENSIONS


def output_dir_for(path: Path, config: Config, base: Path | None = None) -> Path:
    """Where a clip's outputs go: the output root mirrors the clip's place in its watch root.

    A clip outside every watch root mirrors its place below ``base`` (the folder
    given to ``kinod scan``), or lands directly in the output root.
    """
    src = path.absolute()
    for root in config.watch.roots:
        r = root.path.absolute()
        if src.is_relative_to(r):
            return config.output.root / src.parent.relative_to(r)
    if base is not None:
        b = base.absolute()
        if src.is_relative_to(b):
            return config.output.root / b.name / src.parent.relative_to(b)
    return config.output.root


class ClipProcessor:
    """Holds what stays the same across clips (config, store, analyzer classes)."""

    def __init__(self, config: Config, store: JobStore) -> None:
        self.config = config
        self.store = store
        self.ffmpeg = ffmpeg_path(config.media.ffmpeg)
        self.runtime = RuntimeContext(state_dir=config.state.dir, device=config.jobs.device)
        classes = analyzer_classes()
        self.classes = [classes[n] for n in config.enabled_analyzers]

    def _instantiate(self) -> list[Analyzer]:
        return [cls(self.config.analyzer_config(cls.name), self.runtime) for cls in self.classes]

    def process(
        self,
        path: Path,
        out_dir: Path,
        *,
        force: bool = False,
        progress: Callable[[int, int], None] | None = None,
        card: str | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> ClipOutcome:
        path = path.absolute()
        with structlog.contextvars.bound_contextvars(clip=str(path)):
            try:
                return self._process(path, out_dir, force, progress, card, cancelled)
            except (ProbeError, DecodeError, OSError) as e:
                msg = str(e) if not isinstance(e, OSError) else f"{path}: {e.strerror or e}"
                log.error("clip failed", error=msg)
                self._write_error_sidecar(path, out_dir, msg, card)
                return ClipOutcome(path, ok=False, error=msg)

    def _process(
        self,
        path: Path,
        out_dir: Path,
        force: bool,
        progress: Callable[[int, int], None] | None,
        card: str | None,
        cancelled: Callable[[], bool] | None,
    ) -> ClipOutcome:
        t0 = time.monotonic()
        pr = probe(path)
        fp = fingerprint(path)
        analyzers = self._instantiate()
        specs: dict[str, JobSpec] = {}
        for a in analyzers:
            model = a.model_info()
            chash = config_hash(a.config)
            specs[a.name] = JobSpec(
                job_key(fp, a.name, a.version, chash, model.sha256 if model else None),
                fp,
                a.name,
                a.version,
                chash,
                model.sha256 if model else None,
                str(path),
            )
        sidecar_file = sidecar_path(out_dir, path.name)
        done = {} if force else self.store.done_records({n: s.key for n, s in specs.items()})
        todo = [a for a in analyzers if a.name not in done]
        if not todo and sidecar_file.is_file():
            self.store.upsert_clip(fp, str(path), pr.size, card, "done", str(sidecar_file))
            log.info("clip up to date", sidecar=str(sidecar_file))
            return ClipOutcome(path, ok=True, sidecar=sidecar_file, skipped=True, media_seconds=pr.duration_s)

        self.store.upsert_clip(fp, str(path), pr.size, card, "running")
        tb = TimeBase.from_probe(pr)
        info = ClipInfo(
            path=path,
            probe=pr,
            rate=pr.rate_fraction,
            frames=pr.frames,
            artefact_dir=out_dir / "keyframes" / path.name,
            start_tc_frames=pr.start_tc_frames,
            drop_frame=pr.drop_frame,
        )
        errors: list[dict[str, Any]] = [{"stage": "probe", "analyzer": None, "message": w} for w in pr.warnings]
        if pr.truncated:
            errors.append({"stage": "probe", "analyzer": None, "message": f"{path}: file is truncated"})
        results: dict[str, tuple[Result, float]] = {}
        decode_info = self._run_stream_and_model(path, pr, fp, info, todo, results, errors, progress, cancelled)

        records = dict(done)
        for a in todo:
            spec = specs[a.name]
            if a.name in results:
                result, elapsed = results[a.name]
                rec = analysis_record(
                    a.name, a.version, a.config.model_dump(mode="json"), spec.config_hash, result, elapsed, tb
                )
                rec["markers"] = [marker_record(m, a.name, tb) for m in result.markers]
                records[a.name] = rec
                self.store.record_done(spec, rec)
            else:
                msg = next((e["message"] for e in errors if e.get("analyzer") == a.name), "did not run")
                self.store.record_failed(spec, msg)
        markers = [m for rec in records.values() for m in rec.get("markers", [])]
        analyses = {n: {k: v for k, v in r.items() if k != "markers"} for n, r in records.items()}
        sidecar = build_sidecar(
            source_path=path,
            fingerprint=fp,
            probe=pr,
            analyses=analyses,
            markers=markers,
            errors=errors,
            decode=decode_info,
            card=card,
        )
        write_sidecar(sidecar_file, sidecar)
        if "otio" in self.config.output.formats and pr.has_video:
            write_otio(clip_timeline(sidecar), out_dir / (path.name + ".otio"))
        failed = [e for e in errors if e.get("analyzer")]
        state = "failed" if failed else "done"
        self.store.upsert_clip(
            fp, str(path), pr.size, card, state, str(sidecar_file), "; ".join(e["message"] for e in failed) or None
        )
        log.info(
            "clip done",
            sidecar=str(sidecar_file),
            seconds=round(time.monotonic() - t0, 2),
            analyzers=[a.name for a in todo],
        )
        return ClipOutcome(
            path,
            ok=not failed,
            sidecar=sidecar_file,
            media_seconds=pr.duration_s,
            error="; ".join(e["message"] for e in failed) or None,
            ran=[a.name for a in todo],
        )

    def _run_stream_and_model(
        self,
        path: Path,
        pr: Probe,
        fp: str,
        info: ClipInfo,
        todo: list[Analyzer],
        results: dict[str, tuple[Result, float]],
        errors: list[dict[str, Any]],
        progress: Callable[[int, int], None] | None,
        cancelled: Callable[[], bool] | None,
    ) -> dict[str, Any] | None:
        stream = [a for a in todo if a.kind == "stream"]
        model = [a for a in todo if a.kind == "model"]
        cache_dir = self.config.state.dir / "cache" / fp
        cache_writer = (
            AnalysisCacheWriter(cache_dir, self.config.media.audio_rate, pr.audio_channels) if model else None
        )
        decode_info: dict[str, Any] | None = None
        live: list[Analyzer] = []
        for a in stream:
            try:
                a.start(info)
                live.append(a)
            except Exception as e:
                errors.append({"stage": "analyze", "analyzer": a.name, "message": f"{path}: {a.name}: {e}"})
        wants_something = any(
            (a.needs.frames is not None and pr.has_video) or (a.needs.audio is not None and pr.audio_channels)
            for a in live
        ) or (cache_writer is not None and pr.audio_channels > 0)
        if not wants_something:
            # e.g. an audio-only file with only picture analyzers enabled: nothing to look at.
            for a in live:
                results[a.name] = (a.finish(), 0.0)
            live = []
        if live or (cache_writer is not None and pr.audio_channels > 0):
            dp = DecodePass(
                path,
                pr,
                ffmpeg=self.ffmpeg,
                width=self.config.media.analysis_width,
                audio_rate=self.config.media.audio_rate,
                threads=self.config.media.decode_threads,
            )
            t0 = time.monotonic()
            total = pr.frames
            cb = (lambda n: progress(n, total)) if progress else None
            try:
                stats = dp.run(live, cache=cache_writer, progress=cb, cancelled=cancelled)
            except BaseException:
                if cache_writer is not None:
                    cache_writer.abort()
                raise
            decode_info = {
                "frames": stats.frames,
                "audio_samples": stats.audio_samples,
                "analysis_size": list(dp.size),
                "wall_s": round(stats.wall_s, 3),
                "cpu_s": round(stats.cpu_s, 3),
            }
            for w in stats.warnings:
                errors.append({"stage": "decode", "analyzer": None, "message": f"{path}: {w}"})
            elapsed = time.monotonic() - t0
            for a in live:
                with structlog.contextvars.bound_contextvars(analyzer=a.name):
                    try:
                        t1 = time.monotonic()
                        res = a.finish()
                        results[a.name] = (res, elapsed + time.monotonic() - t1)
                    except Exception as e:
                        log.error("analyzer failed", error=str(e))
                        errors.append({"stage": "analyze", "analyzer": a.name, "message": f"{path}: {a.name}: {e}"})
        if cache_writer is not None:
            cache = cache_writer.commit()
            self._run_model_analyzers(path, info, model, cache, results, errors)
            if not self.config.media.keep_cache:
                shutil.rmtree(cache_dir, ignore_errors=True)
        return decode_info

    def _run_model_analyzers(
        self,
        path: Path,
        info: ClipInfo,
        model: list[Analyzer],
        cache: AnalysisCache,
        results: dict[str, tuple[Result, float]],
        errors: list[dict[str, Any]],
    ) -> None:
        for a in model:
            with structlog.contextvars.bound_contextvars(analyzer=a.name):
                t0 = time.monotonic()
                try:
                    results[a.name] = (a.run(info, cache), time.monotonic() - t0)
                except Exception as e:
                    log.error("analyzer failed", error=str(e))
                    errors.append({"stage": "analyze", "analyzer": a.name, "message": f"{path}: {a.name}: {e}"})

    def _write_error_sidecar(self, path: Path, out_dir: Path, message: str, card: str | None) -> None:
        try:
            size = os.path.getsize(path)
        except OSError:
            size = None
        data = build_sidecar(
            source_path=path,
            fingerprint=None,
            probe=None,
            analyses={},
            markers=[],
            errors=[{"stage": "probe", "analyzer": None, "message": message}],
            card=card,
            size=size,
        )
        try:
            write_sidecar(sidecar_path(out_dir, path.name), data)
        except OSError as e:
            log.error("cannot write error sidecar", error=str(e))
