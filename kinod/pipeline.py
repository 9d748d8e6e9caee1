"""Processing clips: plan the jobs, run the decode pass and model analyzers, write the sidecar.

Shared by ``kinod scan`` and the daemon so there is one way a clip is processed. It
knows the order of steps, not what any analyzer computes. A clip goes through:

1. **plan** (:meth:`ClipProcessor.enqueue_clip`): fingerprint, one job per enabled
   analyzer (its key hashes content, name, version, model and config), queue the
   ones not done, and a *pass* when a stream analyzer is pending or a model analyzer
   needs the analysis cache;
2. **pass task**: probe, then the one decode pass feeding every pending stream
   analyzer, plus the analysis cache (PCM) for model analyzers, plus any extra
   outputs riding the same decode (:meth:`ClipProcessor.decode_branches`);
3. **model tasks**: one per model analyzer, reading the cache, never the original;
4. **finalize**: when nothing of the clip is queued or running, the sidecar is
   rebuilt from every stored result and the derived files are written
   (:meth:`ClipProcessor.write_outputs`).

The daemon's scheduler runs steps 2 and 3 on its slots; ``kinod scan`` runs them in
line, one after the other, through the same scheduler code (retries, OOM policy).

Failure policy: a clip that cannot be probed or decoded gets a sidecar with an
``errors`` record (in the output tree, never beside the original); an analyzer that
raises is recorded in ``errors`` and the other analyzers' results are still written.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import structlog

from kinod.analyzers.base import (
    Analyzer,
    AnalyzerError,
    ClipInfo,
    OutOfMemoryError,
    Resources,
    Result,
    RuntimeContext,
    finish_order,
)
from kinod.analyzers.registry import analyzer_class
from kinod.config import Config, analysis_hash
from kinod.export.sidecar import (
    TimeBase,
    analysis_record,
    build_sidecar,
    marker_record,
    sidecar_path,
    write_sidecar,
)
from kinod.export.writers import ExportError, write_formats
from kinod.jobs.lease import make_owner
from kinod.jobs.scheduler import MODEL_PRIORITY, PASS_PRIORITY, Limits, Scheduler
from kinod.jobs.store import JobSpec, JobStore, job_key
from kinod.jobs.tasks import OutOfMemory, Task, TaskOutcome
from kinod.media.cache import AnalysisCache, AnalysisCacheWriter, FrameCacheFeeder, FrameCacheSpec
from kinod.media.cards.model import ClipFiles
from kinod.media.cards.tcrate import audio_tc_rate
from kinod.media.decode import AudioBranch, DecodeError, DecodePass, VideoBranch, needs_decode
from kinod.media.ffmpeg import ffmpeg_path
from kinod.media.fingerprint import clip_fingerprint
from kinod.media.probe import Probe, ProbeError
from kinod.media.proxy import plan_proxy
from kinod.media.span import Part, place, probe_span
from kinod.media.timecode import parse_rate
from kinod.outputs import clip_outputs, output_dir_for, remove_outputs
from kinod.watch.ignore import MEDIA_EXTENSIONS, is_media_name

__all__ = ["MEDIA_EXTENSIONS", "ClipOutcome", "ClipPlan", "ClipProcessor", "is_media_name", "output_dir_for"]

log = structlog.get_logger(__name__)


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


class ClipProcessor:
    """Holds what stays the same across clips (config, store, analyzer classes)."""

    def __init__(self, config: Config, store: JobStore, classes: Sequence[type[Analyzer]] | None = None) -> None:
        self.config = config
        self.store = store
        self.ffmpeg = ffmpeg_path(config.media.ffmpeg)
        self.runtime = RuntimeContext(state_dir=config.state.dir, device=config.jobs.device)
        if classes is None:
            classes = [analyzer_class(n) for n in config.enabled_analyzers]
        self.classes: dict[str, type[Analyzer]] = {c.name: c for c in classes}
        #: Extra decode-pass outputs (proxies: ``kinod.media.proxy``) register here.
        self.branch_providers: list[BranchProvider] = []
        if config.proxy.enabled:
            self.branch_providers.append(self._proxy_branches)

    def _proxy_branches(self, path: Path, pr: Probe, out_dir: Path) -> DecodeExtras:
        """The clip's edit proxy, encoded from the same decode as its analysis."""
        if not pr.has_video:
            return DecodeExtras()
        job = plan_proxy(path, pr, out_dir, self.config.proxy, ffmpeg=self.ffmpeg, clip_name=pr.clip_name)

        def finish(ok: bool) -> None:
            if ok:
                result = job.finalize()
                log.info("proxy written", proxy=str(result.path) if hasattr(result, "path") else str(result))
            else:
                job.abort()

        return DecodeExtras(tuple(job.video_branches), tuple(job.audio_branches), finish)

    # Planning ---------------------------------------------------------------------------
    def _analyzer(self, name: str, options: dict[str, Any] | None = None) -> Analyzer:
        cls = self.classes[name]
        cfg = self.config.analyzer_config(name) or cls.Config()
        runtime = self.runtime
        opts = options or {}
        updates = {k: v for k, v in opts.items() if k in ("batch_size", "device") and k in type(cfg).model_fields}
        if updates:
            cfg = cfg.model_copy(update=updates)
        if opts.get("device"):
            runtime = RuntimeContext(state_dir=self.runtime.state_dir, device=str(opts["device"]))
        return cls(cfg, runtime)

    def specs(self, fp: str, path: Path) -> dict[str, JobSpec]:
        """One job per enabled analyzer for this content."""
        out: dict[str, JobSpec] = {}
        for name, cls in self.classes.items():
            a = self._analyzer(name)
            model = a.model_info()
            chash = analysis_hash(a.config, self.config.media)
            sha = model.sha256 if model else None
            res = _resources(cls, a.config)
            out[name] = JobSpec(
                job_key(fp, name, cls.version, chash, sha),
                fp,
                name,
                cls.version,
                chash,
                sha,
                str(path),
                kind=a.kind,
                priority=PASS_PRIORITY if a.kind == "stream" else MODEL_PRIORITY,
                cpu=res.cpu,
                gpu=res.gpu,
                gpu_mem_mb=res.gpu_mem_mb,
            )
        return out

    def plan_hash(self) -> str:
        """Identifies the analyzer set and configs: when it changes, known clips are planned again."""
        parts = sorted(
            f"{n}:{c.version}:{analysis_hash(self.config.analyzer_config(n) or c.Config(), self.config.media)}"
            for n, c in self.classes.items()
        )
        return json.dumps(parts)

    def cache_dir(self, fp: str) -> Path:
        return self.config.state.dir / "cache" / fp

    def cache_frame_spec(self) -> FrameCacheSpec | None:
        """The sampled frames the enabled model analyzers want kept in the analysis cache."""
        specs = []
        for name in self.classes:
            a = self._analyzer(name)
            want = a.needs.cache_frames if a.kind == "model" else None
            if want is not None and want.sample_fps:
                specs.append(FrameCacheSpec(want.width or self.config.media.analysis_width, float(want.sample_fps)))
        return FrameCacheSpec.merge(specs)

    def _cache_ready(self, fp: str) -> bool:
        """A finished cache that also holds the frames today's model analyzers want."""
        try:
            return AnalysisCache.open(self.cache_dir(fp)).covers(self.cache_frame_spec())
        except (OSError, ValueError, KeyError):
            return False

    def enqueue_clip(
        self,
        path: Path,
        out_dir: Path,
        *,
        card: str | None = None,
        card_path: str | None = None,
        card_rank: float = 0.0,
        force: bool = False,
        retry_failed: bool = False,
        owner: str | None = None,
        fp: str | None = None,
        files: ClipFiles | None = None,
    ) -> ClipPlan:
        """Queue what this clip still needs. Raises ClipError for a file that cannot be read.

        ``files``: the clip's files as its card layout grouped them (``path`` is the first):
        a spanned recording's chapters, a P2 clip's audio essences. The clip is all of
        them, with one fingerprint, one pass and one sidecar.
        """
        path = path.absolute()
        clip_files = files if files is not None and not files.single else ClipFiles.alone(path)
        every = list(clip_files.files)
        try:
            st = os.stat(path)
            size = sum(os.stat(p).st_size for p in every)
            fp = fp or clip_fingerprint(every)
        except OSError as e:
            raise ClipError(_os_message(Path(e.filename or path), e)) from None
        specs = self.specs(fp, path)
        keys = {n: s.key for n, s in specs.items()}
        existing = self.store.clip(fp)
        if existing is not None and existing["cache"] == "ready" and not self._cache_ready(fp):
            self.store.set_clip_state(fp, existing["state"], existing["last_error"], cache="none")
            existing = self.store.clip(fp)
        states = self.store.job_states(keys.values())
        redo = ("cancelled", "failed") if retry_failed else ("cancelled",)
        todo = [s for s in specs.values() if force or states.get(s.key) in (None, *redo)]
        if retry_failed:
            for s in todo:
                if states.get(s.key) == "failed":
                    self.store.reset_failed(fp)
                    break
        self.store.upsert_clip(
            fp,
            str(path),
            size,
            card,
            existing["state"] if existing is not None else "new",
            mtime_ns=st.st_mtime_ns,
            card_path=card_path,
            out_dir=str(out_dir),
            card_rank=card_rank,
            plan=keys,
            parts=None if clip_files.single else clip_files.to_json(),
        )
        queued = self.store.enqueue(todo, card_rank=card_rank, force=force, owner=owner)
        states = self.store.job_states(keys.values())
        stream_waiting = any(states.get(s.key) == "queued" and s.kind == "stream" for s in specs.values())
        model_waiting = any(states.get(s.key) == "queued" and s.kind == "model" for s in specs.values())
        cache_ready = existing is not None and existing["cache"] == "ready"
        pass_queued = False
        if stream_waiting or (model_waiting and not cache_ready):
            cpu = max([s.cpu for s in specs.values() if s.kind == "stream"] or [1])
            pass_queued = self.store.enqueue_pass(fp, str(path), priority=PASS_PRIORITY, cpu=cpu, card_rank=card_rank)
        plan = ClipPlan(path, fp, out_dir, keys, queued, pass_queued)
        if self.store.is_settled(fp):
            side = sidecar_path(out_dir, path.name)
            here = self.store.clip_by_path(str(path))
            done = here is not None and here["state"] in ("done", "failed")
            written = self.store.query("SELECT sidecar FROM clip_paths WHERE path=?", (str(path),))
            plan.up_to_date = done and bool(written) and written[0]["sidecar"] == str(side) and side.is_file()
            plan.needs_finalize = not plan.up_to_date
        else:
            self.store.set_clip_state(fp, "queued")
        return plan

    # Tasks (the executor's runner) -------------------------------------------------------------
    def run_task(
        self, task: Task, cancelled: Callable[[], bool], progress: Callable[[int, int], None] | None = None
    ) -> TaskOutcome:
        with structlog.contextvars.bound_contextvars(clip=task.path, task=task.kind, analyzer=task.analyzer):
            if task.kind == "pass":
                return self._run_pass(task, cancelled, progress)
            return self._run_model(task, cancelled)

    def _files(self, fp: str, path: Path) -> ClipFiles:
        """The clip's files: its chapters and audio essences as planned, else the one file."""
        row = self.store.clip(fp)
        if row is not None and row["parts"]:
            return ClipFiles.from_json(json.loads(row["parts"]))
        return ClipFiles.alone(path)

    def _audio_tc_rate(self, fp: str, path: Path) -> tuple[Fraction, str] | None:
        """For a WAV: the rate labelling its bext start if its iXML has none (see ``media.cards.tcrate``)."""
        if path.suffix.lower() not in (".wav", ".bwf"):
            return None
        row = self.store.clip(fp)
        card = Path(row["card_path"]) if row is not None and row["card_path"] else None
        return audio_tc_rate(card, parse_rate(self.config.cards.audio_tc_rate))

    def _clip_info(self, path: Path, pr: Probe, out_dir: Path) -> ClipInfo:
        return ClipInfo(
            path=path,
            probe=pr,
            rate=pr.rate_fraction,
            frames=pr.frames,
            artefact_dir=out_dir / "keyframes" / path.name,
            start_tc_frames=pr.start_tc_frames,
            drop_frame=pr.drop_frame,
        )

    def _out_dir(self, fp: str, path: Path) -> Path:
        clip = self.store.clip(fp)
        if clip is not None and clip["out_dir"]:
            return Path(clip["out_dir"])
        return output_dir_for(path, self.config)

    def _run_pass(
        self, task: Task, cancelled: Callable[[], bool], progress: Callable[[int, int], None] | None
    ) -> TaskOutcome:
        t0 = time.monotonic()
        path = Path(task.path)
        clip_files = ClipFiles.from_json(task.files) if task.files else self._files(task.fingerprint, path)
        files = list(clip_files.files)
        try:
            pr, parts = probe_span(
                clip_files.parts, clip_files.audio, audio_tc_rate=self._audio_tc_rate(task.fingerprint, path)
            )
            if clip_fingerprint(files) != task.fingerprint:
                msg = f"{path}: file changed since it was queued; it is planned again once it has settled"
                return TaskOutcome(task.key, "cancelled", msg, problem="changed_while_processing")
        except ProbeError as e:
            return TaskOutcome(task.key, "failed", str(e), clip={"errors": [_err("probe", str(e))]})
        except FileNotFoundError as e:
            msg = f"{_os_message(path, e)} (the file was removed or its share unmounted)"
            return TaskOutcome(task.key, "failed", msg, clip={"errors": [_err("probe", msg)]}, problem="vanished")
        except OSError as e:
            return TaskOutcome(task.key, "failed", _os_message(path, e), retriable=True)
        out_dir = self._out_dir(task.fingerprint, path)
        info = self._clip_info(path, pr, out_dir)
        errors = [_err("probe", w) for w in pr.warnings]
        if pr.truncated:
            errors.append(_err("probe", f"{path}: file is truncated"))
        failures: dict[str, str] = {}
        live: list[Analyzer] = []
        wanted: dict[str, str] = task.options.get("stream", {})
        for name, key in wanted.items():
            if name not in self.classes or self.specs(task.fingerprint, path)[name].key != key:
                failures[name] = f"{path}: {name}: no longer enabled with this config; planned again on the next scan"
                continue
            a = self._analyzer(name)
            try:
                a.start(info)
                live.append(a)
            except Exception as e:
                failures[name] = f"{path}: {name}: {e}"
        want_cache = bool(task.options.get("cache"))
        outcome = TaskOutcome(task.key, "done", media_seconds=pr.duration_s)
        try:
            decode = self._decode(
                path, pr, info, live, want_cache, out_dir, outcome, failures, errors, progress, cancelled, parts,
                clip_files.audio,
            )
        except DecodeError as e:
            status = "cancelled" if cancelled() else "failed"
            return TaskOutcome(
                task.key, status, str(e), clip={"probe": pr.to_json(), "errors": [*errors, _err("decode", str(e))]}
            )
        except OSError as e:
            return TaskOutcome(task.key, "failed", _os_message(path, e), retriable=True)
        if cancelled():
            return TaskOutcome(task.key, "cancelled", f"{path}: stopped")
        if not all(p.exists() for p in files):
            # Deleted while decoding: an open file reads to its end on Linux, so the decode
            # succeeds; the pass must still not report results for a file that is gone,
            # whether or not the watcher's news has arrived yet.
            msg = f"{path}: the file was deleted (or moved away) while it was processed; cancelled"
            return TaskOutcome(task.key, "cancelled", msg, problem="vanished")
        outcome.failures = failures
        outcome.clip = {"probe": pr.to_json(), "decode": decode, "errors": errors, "cache": want_cache}
        outcome.elapsed_s = time.monotonic() - t0
        return outcome

    def decode_branches(self, path: Path, pr: Probe, out_dir: Path) -> list[DecodeExtras]:
        """The one place extra outputs join the decode pass: every registered provider's branches."""
        extras = []
        for provider in self.branch_providers:
            try:
                extras.append(provider(path, pr, out_dir))
            except Exception as e:  # a broken proxy set-up must not cost the clip its analysis
                log.error("decode branch provider failed", provider=repr(provider), error=str(e))
        return extras

    def _decode(
        self,
        path: Path,
        pr: Probe,
        info: ClipInfo,
        live: list[Analyzer],
        want_cache: bool,
        out_dir: Path,
        outcome: TaskOutcome,
        failures: dict[str, str],
        errors: list[dict[str, Any]],
        progress: Callable[[int, int], None] | None,
        cancelled: Callable[[], bool],
        parts: Sequence[Part] = (),
        audio_inputs: Sequence[Path] = (),
    ) -> dict[str, Any] | None:
        fp = outcome.key.removeprefix("pass:")
        frame_spec = self.cache_frame_spec() if want_cache and pr.has_video else None
        cache_writer = (
            AnalysisCacheWriter(
                self.cache_dir(fp), self.config.media.audio_rate, pr.audio_channels, frame_spec, pr.rate_fraction
            )
            if (want_cache)
            else None
        )
        # Sampled pictures for model analyzers ride the pass as one more consumer.
        feeders = [FrameCacheFeeder(cache_writer, frame_spec)] if cache_writer and frame_spec else []
        extras = self.decode_branches(path, pr, out_dir)
        wants = (
            needs_decode(live, pr)
            or (cache_writer is not None and pr.audio_channels > 0)
            or bool(feeders)
            or any(e.video or e.audio for e in extras)
        )
        decode_info: dict[str, Any] | None = None
        elapsed = 0.0
        if wants:
            dp = DecodePass(
                path,
                pr,
                ffmpeg=self.ffmpeg,
                width=self.config.media.analysis_width,
                audio_rate=self.config.media.audio_rate,
                threads=self.config.media.decode_threads,
                parts=[p.path for p in parts],
                audio_inputs=audio_inputs,
            )
            t0 = time.monotonic()
            total = pr.frames
            cb = self._progress_reporter(fp, total, progress)
            try:
                stats = dp.run(
                    [*live, *feeders],  # type: ignore[list-item]
                    cache=cache_writer,
                    video_branches=[b for e in extras for b in e.video],
                    audio_branches=[b for e in extras for b in e.audio],
                    progress=cb,
                    cancelled=cancelled,
                )
            except BaseException:
                if cache_writer is not None:
                    cache_writer.abort()
                _finish_extras(extras, False)
                raise
            errors.extend(_err("output", m) for m in _finish_extras(extras, True))
            decode_info = {
                "frames": stats.frames,
                "audio_samples": stats.audio_samples,
                "analysis_size": list(dp.size),
                "wall_s": round(stats.wall_s, 3),
                "cpu_s": round(stats.cpu_s, 3),
            }
            if len(parts) > 1:  # a spanned recording: where each file starts on its timeline
                decode_info["parts"] = [p.to_json() for p in parts]
            if audio_inputs:  # separate audio essences (P2): one channel each, in this order
                decode_info["audio_inputs"] = [str(p) for p in audio_inputs]
            errors.extend(_err("decode", f"{path}: {w}") for w in stats.warnings)
            elapsed = time.monotonic() - t0
        tb = TimeBase.from_probe(pr)
        results: dict[str, Result] = {}
        for a in finish_order(live):  # an analyzer that reads another's results finishes after it
            with structlog.contextvars.bound_contextvars(analyzer=a.name):
                try:
                    t1 = time.monotonic()
                    a.use_results({n: results[n] for n in a.needs.results_of if n in results})
                    res = a.finish()
                    results[a.name] = res
                    outcome.records[a.name] = self._record(a, res, elapsed + time.monotonic() - t1, tb)
                except Exception as e:
                    log.error("analyzer failed", error=str(e))
                    failures[a.name] = f"{path}: {a.name}: {e}"
        broken = [f.failure for f in feeders if f.failure]
        if cache_writer is not None and broken:
            cache_writer.abort()  # a cache missing frames must not look complete
            errors.append(_err("decode", f"{path}: cannot keep frames in the analysis cache: {broken[0]}"))
        elif cache_writer is not None:
            cache_writer.commit()
        return decode_info

    def _progress_reporter(
        self, fp: str, total: int, progress: Callable[[int, int], None] | None
    ) -> Callable[[int], None]:
        """Frames decoded, to the caller's bar and to the store (``passes.frames_done``).

        The store is told at most every half second: enough for ``kinod status`` and for
        a test that must act while a decode is under way, without a write per frame.
        """
        last = [0.0]

        def report(n: int) -> None:
            if progress is not None:
                progress(n, total)
            now = time.monotonic()
            if now - last[0] >= 0.5:
                last[0] = now
                try:
                    self.store.set_pass_progress(fp, n)
                except Exception as e:  # progress is a nicety (a worker's store is read-only): never fail for it
                    log.debug("pass progress not recorded", error=str(e))
                    last[0] = float("inf")

        return report

    def _record(self, a: Analyzer, result: Result, elapsed: float, tb: TimeBase) -> dict[str, Any]:
        rec = analysis_record(
            a.name,
            a.version,
            a.config.model_dump(mode="json"),
            analysis_hash(a.config, self.config.media),
            result,
            elapsed,
            tb,
        )
        rec["markers"] = [marker_record(m, a.name, tb) for m in result.markers]
        return rec

    def _run_model(self, task: Task, cancelled: Callable[[], bool]) -> TaskOutcome:
        t0 = time.monotonic()
        clip = self.store.clip(task.fingerprint)
        path = Path(task.path)
        if clip is None or not clip["probe"]:
            return TaskOutcome(task.key, "failed", f"{path}: {task.analyzer}: the clip has no probe result")
        if task.analyzer not in self.classes:
            return TaskOutcome(task.key, "cancelled", f"{path}: {task.analyzer}: analyzer is no longer enabled")
        pr = Probe.from_json(json.loads(clip["probe"]))
        info = self._clip_info(path, pr, self._out_dir(task.fingerprint, path))
        try:
            cache = AnalysisCache.open(self.cache_dir(task.fingerprint))
        except (OSError, ValueError, KeyError) as e:
            return TaskOutcome(task.key, "failed", f"{path}: {task.analyzer}: {e}; run `kinod retry` to decode again")
        options = dict(task.options)
        if task.device == "cpu" and "device" not in options and self.classes[task.analyzer].resources.gpu:
            options["device"] = "cpu"  # the scheduler placed a GPU-capable analyzer on the CPU
        if cancelled():
            return TaskOutcome(task.key, "cancelled", f"{path}: stopped before it started")
        a = self._analyzer(task.analyzer, options)
        try:
            result = a.run(info, cache)
        except Exception as e:
            return _model_failure(task, path, e)
        elapsed = time.monotonic() - t0
        rec = self._record(a, result, elapsed, TimeBase.from_probe(pr))
        note = None
        if {"batch_size", "device"} & set(task.options):
            note = "ran with " + ", ".join(
                f"{k}={task.options[k]}" for k in ("batch_size", "device") if k in task.options
            )
            rec["warnings"] = [*rec.get("warnings", []), f"{note} after running out of GPU memory"]
        return TaskOutcome(
            task.key, "done", records={a.name: rec}, elapsed_s=elapsed, media_seconds=pr.duration_s, note=note
        )

    # Finishing ----------------------------------------------------------------------------------
    def finalize(self, fp: str, only: str | None = None) -> ClipOutcome:
        """Write the clip's sidecar and derived files, from everything stored, wherever the clip is.

        The same content found at several paths (a copy on two cards) was analysed once
        and gets a sidecar beside each; ``only`` limits the writing to one path (a clip
        that was just found somewhere new).
        """
        clip = self.store.clip(fp)
        if clip is None:
            raise ClipError(f"{fp}: no such clip in the state file")
        places = [(Path(r["path"]), r) for r in self.store.paths_of(fp)] or [(Path(clip["path"]), None)]
        self._remove_renamed(places)
        if only is not None:
            places = [pl for pl in places if str(pl[0]) == only] or [(Path(only), None)]
        path = places[0][0]
        keys: dict[str, str] = json.loads(clip["plan"]) if clip["plan"] else {}
        rows = {r["key"]: r for r in self.store.jobs_of(fp)}
        records: dict[str, dict[str, Any]] = {}
        failed: dict[str, str] = {}
        for name, key in keys.items():
            row = rows.get(key)
            if row is not None and row["state"] == "cancelled":
                self.store.set_clip_state(fp, "cancelled", row["last_error"])
                return ClipOutcome(path, ok=False, error=row["last_error"] or "cancelled")
            if row is not None and row["state"] == "done" and row["record"]:
                records[name] = json.loads(row["record"])
            elif row is not None and row["state"] == "failed":
                failed[name] = row["last_error"] or "failed"
        present = [(p, r) for p, r in places if p.exists()]
        if not present:
            msg = f"{path}: the file is gone (deleted, moved or its share unmounted); no sidecar written"
            log.error("clip vanished", error=msg)
            self.store.set_clip_state(fp, "missing", msg)
            return ClipOutcome(path, ok=False, error=msg)
        errors: list[dict[str, Any]] = json.loads(clip["errors"]) if clip["errors"] else []
        errors += [_err("analyze", m, n) for n, m in failed.items()]
        pr = Probe.from_json(json.loads(clip["probe"])) if clip["probe"] else None
        outcome = ClipOutcome(path, ok=False)
        first: ClipOutcome | None = None
        for p, row in present:
            out_dir = Path(row["out_dir"]) if row is not None and row["out_dir"] else output_dir_for(p, self.config)
            card = row["card"] if row is not None else clip["card"]
            side = sidecar_path(out_dir, p.name)
            if pr is None:
                msg = next((e["message"] for e in errors), None) or self._pass_error(fp) or f"{p}: could not be probed"
                self.write_error_sidecar(p, out_dir, msg, card, fp)
                outcome = ClipOutcome(p, ok=False, sidecar=side, error=msg)
            else:
                markers = [m for rec in records.values() for m in rec.get("markers", [])]
                decode = json.loads(clip["decode"]) if clip["decode"] else None
                spans = (decode or {}).get("parts") or []
                if spans:  # per-file NLE markers land on the right frame after a relink
                    markers = [_placed(m, spans) for m in markers]
                analyses = {n: {k: v for k, v in r.items() if k != "markers"} for n, r in records.items()}
                data = build_sidecar(
                    source_path=p,
                    fingerprint=fp,
                    probe=pr,
                    analyses=analyses,
                    markers=markers,
                    errors=errors,
                    decode=decode,
                    card=card,
                )
                write_sidecar(side, data)
                self.write_outputs(side, data, out_dir)
                problem = "; ".join(failed.values()) or None
                outcome = ClipOutcome(
                    p, ok=not failed, sidecar=side, error=problem, media_seconds=pr.duration_s, ran=sorted(records)
                )
            if row is not None:
                self.store.set_path_sidecar(str(p), str(side))
            if p == Path(clip["path"]):
                first = outcome
        first = first or outcome
        self._drop_cache(fp, keys, rows)
        state = "failed" if (pr is None or failed) else "done"
        self.store.set_clip_state(fp, state, first.error, sidecar=str(first.sidecar))
        log.info("clip done", sidecar=str(first.sidecar), failed=sorted(failed) or None, places=len(present))
        return first

    def _remove_renamed(self, places: list[tuple[Path, Any]]) -> None:
        """Outputs of a path that is gone while the same content is at another path (a rename
        or a move): removed, with the path's record, so no stale sidecar names a file that
        is not there. A plain deletion (no other copy) keeps its outputs."""
        here = [p for p, _ in places if p.exists()]
        if not here:
            return
        for p, row in places:
            if row is None or not row["sidecar"] or p.exists():
                continue
            out_dir = Path(row["out_dir"]) if row["out_dir"] else output_dir_for(p, self.config)
            removed = remove_outputs(clip_outputs(p, out_dir, self.config))
            self.store.drop_path(str(p))
            log.info("renamed clip: old outputs removed", old=str(p), new=str(here[0]), removed=len(removed))

    def write_outputs(self, sidecar_file: Path, sidecar: dict[str, Any], out_dir: Path) -> None:
        """The one place files derived from a finished sidecar are written (OTIO; NLE marker formats)."""
        if not sidecar.get("timeline"):
            return  # a clip that failed to probe has no time axis to put markers on
        try:
            write_formats(sidecar, out_dir, self.config.output.formats, self.config.export)
        except ExportError as e:
            log.error("export failed", error=str(e), written=[str(p) for p in e.written])

    def _pass_error(self, fp: str) -> str | None:
        rows = self.store.query("SELECT last_error FROM passes WHERE fingerprint=?", (fp,))
        return rows[0]["last_error"] if rows else None

    def _drop_cache(self, fp: str, keys: dict[str, str], rows: dict[str, Any]) -> None:
        if self.config.media.keep_cache:
            return
        pending = [k for k in keys.values() if rows.get(k) is not None and rows[k]["state"] in ("queued", "running")]
        if not pending and self.cache_dir(fp).exists():
            shutil.rmtree(self.cache_dir(fp), ignore_errors=True)
            clip = self.store.clip(fp)
            if clip is not None:
                self.store.set_clip_state(fp, clip["state"], clip["last_error"], cache="deleted")

    def write_error_sidecar(self, path: Path, out_dir: Path, message: str, card: str | None, fp: str | None) -> None:
        try:
            size = os.path.getsize(path)
        except OSError:
            size = None
        data = build_sidecar(
            source_path=path,
            fingerprint=fp,
            probe=None,
            analyses={},
            markers=[],
            errors=[_err("probe", message)],
            card=card,
            size=size,
        )
        try:
            write_sidecar(sidecar_path(out_dir, path.name), data)
        except OSError as e:
            log.error("cannot write error sidecar", error=str(e))

    # Known clips after a config change ------------------------------------------------------------
    def replan_known(self, owner: str | None = None) -> int:
        """Queue the jobs a changed analyzer set or config needs for every known clip; returns clips touched."""
        touched = 0
        for row in self.store.query("SELECT * FROM clips WHERE state NOT IN ('missing','cancelled','replaced')"):
            path = Path(row["path"])
            if not path.exists():
                continue
            out_dir = Path(row["out_dir"]) if row["out_dir"] else output_dir_for(path, self.config)
            try:
                plan = self.enqueue_clip(
                    path,
                    out_dir,
                    card=row["card"],
                    card_path=row["card_path"],
                    card_rank=row["card_rank"] or 0.0,
                    owner=owner,
                    fp=row["fingerprint"],
                )
            except ClipError as e:
                log.warning("cannot plan clip again", error=str(e))
                continue
            touched += bool(plan.queued or plan.pass_queued)
        return touched

    # kinod scan ----------------------------------------------------------------------------------------
    def process(
        self,
        path: Path,
        out_dir: Path,
        *,
        force: bool = False,
        progress: Callable[[int, int], None] | None = None,
        card: str | None = None,
        cancelled: Callable[[], bool] | None = None,
        card_path: str | None = None,
        files: ClipFiles | None = None,
    ) -> ClipOutcome:
        """Plan, run and finalize one clip now, in this thread (``kinod scan``)."""
        path = path.absolute()
        stop = cancelled or (lambda: False)
        with structlog.contextvars.bound_contextvars(clip=str(path)):
            owner = make_owner("scan")
            try:
                plan = self.enqueue_clip(
                    path,
                    out_dir,
                    card=card,
                    card_path=card_path,
                    force=force,
                    retry_failed=True,
                    owner=owner,
                    files=files,
                )
            except ClipError as e:
                log.error("clip failed", error=str(e))
                self.write_error_sidecar(path, out_dir, str(e), card, None)
                return ClipOutcome(path, ok=False, error=str(e))
            if plan.up_to_date:
                clip = self.store.clip(plan.fingerprint)
                log.info("clip up to date", sidecar=str(sidecar_path(out_dir, path.name)))
                failed = clip is not None and clip["state"] == "failed"
                return ClipOutcome(
                    path,
                    ok=not failed,
                    sidecar=sidecar_path(out_dir, path.name),
                    skipped=True,
                    error=clip["last_error"] if failed and clip else None,
                )
            executor = InlineExecutor(lambda t, c: self.run_task(t, lambda: c() or stop(), progress))
            sched = Scheduler(
                self.store,
                executor,
                owner=owner,
                limits=Limits(cpu_slots=1),
                lease_seconds=self.config.jobs.lease_seconds,
                max_attempts=self.config.jobs.max_attempts,
                cpu_fallback=self.config.jobs.oom_cpu_fallback,
                scope={plan.fingerprint},
            )
            while not sched.idle() and not stop():
                sched.tick(0.0)
            out = self.finalize(plan.fingerprint, only=str(path))
            out.skipped = False
            return out


def make_runner(config: Config) -> Callable[[Task, Callable[[], bool]], TaskOutcome]:
    """The task runner of a worker process (``jobs.executor = "process"``).

    Runners only read the state file (clip facts, output folders); every write goes
    through the scheduler in the daemon, so a worker opens it read-only.
    """
    store = JobStore(config.state.dir / "kinod.sqlite", readonly=True)
    return ClipProcessor(config, store).run_task


class InlineExecutor:
    """Runs each task at once in the caller's thread (``kinod scan``): same interface, no concurrency."""

    def __init__(self, runner: Callable[[Task, Callable[[], bool]], TaskOutcome]) -> None:
        self.runner = runner
        self._done: queue.Queue[TaskOutcome] = queue.Queue()

    def submit(self, task: Task) -> None:
        self._done.put(self.runner(task, lambda: False))

    def cancel(self, key: str) -> None:
        return None

    def poll(self, timeout: float = 0.0) -> list[TaskOutcome]:
        out = []
        while not self._done.empty():
            out.append(self._done.get_nowait())
        return out

    def shutdown(self, grace_s: float) -> list[TaskOutcome]:
        return self.poll()


def _placed(marker: dict[str, Any], spans: list[dict[str, Any]]) -> dict[str, Any]:
    """The marker with the file of a spanned recording it lies in and its frame there."""
    where = place(int(marker["frame"]), spans)
    return {**marker, "file": where[0], "file_frame": where[1]} if where else marker


def _err(stage: str, message: str, analyzer: str | None = None) -> dict[str, Any]:
    return {"stage": stage, "analyzer": analyzer, "message": message}


def _finish_extras(extras: list[DecodeExtras], ok: bool) -> list[str]:
    """Commit (or clean up) the extra outputs; returns what went wrong, for the sidecar's errors."""
    problems = []
    for e in extras:
        if e.finish is not None:
            try:
                e.finish(ok)
            except Exception as err:
                log.error("decode branch finish failed", error=str(err))
                problems.append(str(err))
    return problems


def _model_failure(task: Task, path: Path, e: Exception) -> TaskOutcome:
    """Sort a model analyzer's exception into out-of-memory, retriable or final."""
    text = str(e)
    if isinstance(e, OutOfMemoryError):
        oom = OutOfMemory(e.batch_size, e.retry_batch_size, e.retry_on_cpu, text)
        return TaskOutcome(task.key, "failed", f"{path}: {task.analyzer}: {text}", oom=oom)
    if "out of memory" in text.lower() or "cudaerrormemoryallocation" in text.lower():
        # a framework's own CUDA error that the analyzer did not translate
        oom = OutOfMemory(None, None, True, text)
        return TaskOutcome(task.key, "failed", f"{path}: {task.analyzer}: {text}", oom=oom)
    if isinstance(e, AnalyzerError):
        return TaskOutcome(task.key, "failed", f"{path}: {task.analyzer}: {text}")
    retriable = isinstance(e, (OSError, MemoryError, TimeoutError))
    log.error("analyzer failed", error=text, exception=type(e).__name__)
    return TaskOutcome(task.key, "failed", f"{path}: {task.analyzer}: {type(e).__name__}: {text}", retriable=retriable)
