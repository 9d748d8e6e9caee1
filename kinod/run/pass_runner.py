"""The pass runner: probe a clip, run its one decode pass feeding every pending stream
analyzer, the analysis cache and extra outputs (proxies), and collect the records.

It reads the task and the footage, nothing else: the coordinator put the clip's files,
output folder, cache folder and card folder into the task.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import structlog

from kinod.analyzers.base import (
    Analyzer,
    ClipInfo,
    Result,
    finish_order,
)
from kinod.config import Config
from kinod.export.layout import clip_out_dir
from kinod.export.sidecar import TimeBase
from kinod.jobs.tasks import Task, TaskOutcome
from kinod.media.cache import AnalysisCacheWriter, FrameCacheFeeder
from kinod.media.cards.model import CameraFacts, ClipFiles
from kinod.media.cards.tcrate import audio_tc_rate
from kinod.media.clipcheck import pre_decode_problems
from kinod.media.decode import DecodeError, DecodePass, needs_decode
from kinod.media.ffmpeg import ffmpeg_path
from kinod.media.fingerprint import clip_fingerprint
from kinod.media.imageseq_probe import probe_sequence
from kinod.media.probe import Probe, ProbeError
from kinod.media.proxy import plan_proxy
from kinod.media.span import Part, probe_span
from kinod.media.timecode import parse_rate
from kinod.run.analyzer_set import AnalyzerSet
from kinod.run.common import (
    BranchProvider,
    DecodeExtras,
    _err,
    _os_message,
    cache_dir_for,
    clip_info,
)
from kinod.run.integrity import apply as apply_integrity
from kinod.run.integrity import check_before_decode as check_integrity
from kinod.run.space import pass_outcome_if_disk_full

log = structlog.get_logger("kinod.run.processor")


class PassRunner:
    """Runs pass tasks from their fields alone (no job store): see :class:`~kinod.jobs.tasks.Task`."""

    def __init__(
        self, config: Config, analyzers: AnalyzerSet, branch_providers: Sequence[BranchProvider] | None = None
    ) -> None:
        self.config = config
        self.analyzers = analyzers
        self.ffmpeg = ffmpeg_path(config.media.ffmpeg)
        #: Extra decode-pass outputs; by default the edit proxy when ``[proxy]`` is enabled.
        self.branch_providers: list[BranchProvider] = (
            list(branch_providers) if branch_providers is not None else default_branch_providers(config, self.ffmpeg)
        )

    def _audio_tc_rate(
        self, path: Path, card_path: str | None, camera: CameraFacts | None
    ) -> tuple[Fraction, str] | None:
        """For a WAV: the rate labelling its bext start if its iXML has none (see ``media.cards.tcrate``).

        The card lifecycle looked it up once per card and it travels on the clip's facts;
        a clip planned without them (a loose file, an older record) reads its card here.
        """
        if path.suffix.lower() not in (".wav", ".bwf"):
            return None
        default = parse_rate(self.config.cards.audio_tc_rate)
        known = camera.bwf_tc_rate(default) if camera is not None else None
        if known is not None:
            return known
        return audio_tc_rate(Path(card_path) if card_path else None, default)

    def _probe(self, path: Path, task: Task, clip_files: ClipFiles) -> tuple[Probe, list[Part]]:
        """The clip's probe and its parts: a recording's files, or an image sequence's frames as one."""
        if clip_files.sequence is not None:
            return probe_sequence(clip_files.sequence, parse_rate(self.config.cards.sequence_rate)), []
        return probe_span(
            clip_files.parts,
            clip_files.audio,
            audio_tc_rate=self._audio_tc_rate(path, task.card_path or clip_files.card_path, clip_files.camera),
            camera=clip_files.camera,
        )

    def run(
        self, task: Task, cancelled: Callable[[], bool], progress: Callable[[int, int], None] | None = None
    ) -> TaskOutcome:
        """Probe, decode once for every pending stream analyzer and the cache; the records come back."""
        t0 = time.monotonic()
        path = Path(task.path)
        clip_files = ClipFiles.from_json(task.files) if task.files else ClipFiles.alone(path)
        files = list(clip_files.files)
        try:
            pr, parts = self._probe(path, task, clip_files)
            if clip_fingerprint(files, clip_files.sequence) != task.fingerprint:
                msg = f"{path}: file changed since it was queued; it is planned again once it has settled"
                return TaskOutcome(task.key, "cancelled", msg, problem="changed_while_processing")
        except ProbeError as e:
            return TaskOutcome(task.key, "failed", str(e), clip={"errors": [_err("probe", str(e))]})
        except FileNotFoundError as e:
            msg = f"{_os_message(path, e)} (the file was removed or its share unmounted)"
            return TaskOutcome(task.key, "failed", msg, clip={"errors": [_err("probe", msg)]}, problem="vanished")
        except OSError as e:
            return TaskOutcome(task.key, "failed", _os_message(path, e), retriable=True)
        out_dir = clip_out_dir(task.out_dir, path, self.config)
        info = clip_info(path, pr, out_dir)
        errors = [_err("probe", w) for w in pr.warnings]
        if pr.truncated:
            errors.append(_err("probe", f"{path}: file is truncated"))
        # A sequence's integrity is its own: empty and truncated frames were found with its card.
        integ = check_integrity(path, pr, self.config.cards.integrity_check and pr.sequence is None)
        errors.extend(_err("integrity", m) for m in pre_decode_problems(path, pr, integ))
        failures: dict[str, str] = {}
        live = self._start(task, info, failures)
        want_cache = bool(task.options.get("cache"))
        outcome = TaskOutcome(task.key, "done", media_seconds=pr.duration_s)
        try:
            cache_dir = Path(task.cache_dir) if task.cache_dir else cache_dir_for(self.config, task.fingerprint)
            decode = self._decode(
                path, pr, info, live, cache_dir if want_cache else None, out_dir, outcome, failures, errors,
                progress, cancelled, parts, clip_files.audio,
            )
        except DecodeError as e:
            status = "cancelled" if cancelled() else "failed"
            return TaskOutcome(
                task.key, status, str(e), clip={"probe": pr.to_json(), "errors": [*errors, _err("decode", str(e))]}
            )
        except OSError as e:
            full = pass_outcome_if_disk_full(task, {}, e)  # the cache's disk is full: waits for space
            return full or TaskOutcome(task.key, "failed", _os_message(path, e), retriable=True)
        if cancelled():
            return TaskOutcome(task.key, "cancelled", f"{path}: stopped")
        full = pass_outcome_if_disk_full(task, failures)  # a keyframe hit a full disk: not failed for good
        if full is not None:
            return full
        if not all(p.exists() for p in files):
            # Deleted while decoding: an open file reads to its end on Linux, so the decode
            # succeeds; the pass must still not report results for a file that is gone,
            # whether or not the watcher's news has arrived yet.
            msg = f"{path}: the file was deleted (or moved away) while it was processed; cancelled"
            return TaskOutcome(task.key, "cancelled", msg, problem="vanished")
        outcome.failures = failures
        outcome.clip = {"probe": pr.to_json(), "decode": decode, "errors": errors, "cache": want_cache}
        outcome.elapsed_s = time.monotonic() - t0
        apply_integrity(outcome, pr, integ)  # results end where the file breaks
        return outcome

    def _start(self, task: Task, info: ClipInfo, failures: dict[str, str]) -> list[Analyzer]:
        """The task's stream analyzers, started; one this config would not plan the same way fails."""
        path = info.path
        wanted: dict[str, str] = task.options.get("stream", {})
        specs = self.analyzers.specs(task.fingerprint, path) if wanted else {}
        live: list[Analyzer] = []
        for name, key in wanted.items():
            if name not in specs or specs[name].key != key:
                failures[name] = f"{path}: {name}: no longer enabled with this config; planned again on the next scan"
                continue
            a = self.analyzers.make(name)
            try:
                a.start(info)
                live.append(a)
            except Exception as e:
                failures[name] = f"{path}: {name}: {e}"
        return live

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
        cache_dir: Path | None,
        out_dir: Path,
        outcome: TaskOutcome,
        failures: dict[str, str],
        errors: list[dict[str, Any]],
        progress: Callable[[int, int], None] | None,
        cancelled: Callable[[], bool],
        parts: Sequence[Part] = (),
        audio_inputs: Sequence[Path] = (),
    ) -> dict[str, Any] | None:
        """Set up the pass's consumers, decode once when any of them wants pictures or sound, then
        finish the analyzers and close the cache; the decode's facts come back (None: no decode)."""
        frame_spec = self.analyzers.cache_frame_spec() if cache_dir is not None and pr.has_video else None
        media = self.config.media
        cache_writer = (
            AnalysisCacheWriter(cache_dir, media.audio_rate, pr.audio_channels, frame_spec, pr.timeline_rate)
            if cache_dir is not None
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
            decode_info, elapsed, outcome.hook_cpu = self._run_pass(
                path, pr, live, feeders, cache_writer, extras, errors, progress, cancelled, parts, audio_inputs
            )
        self._finish_analyzers(path, pr, live, elapsed, outcome, failures)
        _close_cache(path, cache_writer, feeders, errors)
        return decode_info

    def _run_pass(
        self,
        path: Path,
        pr: Probe,
        live: list[Analyzer],
        feeders: list[FrameCacheFeeder],
        cache_writer: AnalysisCacheWriter | None,
        extras: list[DecodeExtras],
        errors: list[dict[str, Any]],
        progress: Callable[[int, int], None] | None,
        cancelled: Callable[[], bool],
        parts: Sequence[Part],
        audio_inputs: Sequence[Path],
    ) -> tuple[dict[str, Any], float, dict[str, float]]:
        """The decode itself, every consumer fed from it; its facts for the sidecar and its wall time.

        A decode that fails or is stopped leaves no half-written cache and no half-made extra output.
        """
        dp = DecodePass(
            path,
            pr,
            ffmpeg=self.ffmpeg,
            width=self.config.media.analysis_width,
            audio_rate=self.config.media.audio_rate,
            threads=self.config.media.decode_threads,
            fast_decode=self.config.media.fast_decode,
            hw_decode=self.config.media.hw_decode,
            parts=[p.path for p in parts],
            audio_inputs=audio_inputs,
        )
        t0 = time.monotonic()
        total = pr.frames
        cb = (lambda n: progress(n, total)) if progress is not None else None
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
        decode_info: dict[str, Any] = {
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
        return decode_info, time.monotonic() - t0, stats.hook_cpu

    def _finish_analyzers(
        self,
        path: Path,
        pr: Probe,
        live: list[Analyzer],
        elapsed: float,
        outcome: TaskOutcome,
        failures: dict[str, str],
    ) -> None:
        """Each analyzer's result made into its record; one that fails costs only its own result."""
        tb = TimeBase.from_probe(pr)
        results: dict[str, Result] = {}
        for a in finish_order(live):  # an analyzer that reads another's results finishes after it
            with structlog.contextvars.bound_contextvars(analyzer=a.name):
                try:
                    t1, c1 = time.monotonic(), time.thread_time()
                    a.use_results({n: results[n] for n in a.needs.results_of if n in results})
                    res = a.finish()
                    outcome.hook_cpu[a.name] = outcome.hook_cpu.get(a.name, 0.0) + time.thread_time() - c1
                    results[a.name] = res
                    outcome.records[a.name] = self.analyzers.record(a, res, elapsed + time.monotonic() - t1, tb)
                except Exception as e:
                    log.error("analyzer failed", error=str(e))
                    failures[a.name] = f"{path}: {a.name}: {e}"


def _close_cache(
    path: Path, cache_writer: AnalysisCacheWriter | None, feeders: list[FrameCacheFeeder], errors: list[dict[str, Any]]
) -> None:
    """Commit the analysis cache, or drop it when a frame feeder failed (the error says why)."""
    broken = [f.failure for f in feeders if f.failure]
    if cache_writer is not None and broken:
        cache_writer.abort()  # a cache missing frames must not look complete
        errors.append(_err("decode", f"{path}: cannot keep frames in the analysis cache: {broken[0]}"))
    elif cache_writer is not None:
        cache_writer.commit()


def default_branch_providers(config: Config, ffmpeg: str) -> list[BranchProvider]:
    """The extra outputs ``config`` asks for: the clip's edit proxy, encoded from the same decode."""
    if not config.proxy.enabled:
        return []

    def proxy(path: Path, pr: Probe, out_dir: Path) -> DecodeExtras:
        if not pr.has_video:
            return DecodeExtras()
        job = plan_proxy(path, pr, out_dir, config.proxy, ffmpeg=ffmpeg, clip_name=pr.clip_name)

        def finish(ok: bool) -> None:
            if ok:
                result = job.finalize()
                log.info("proxy written", proxy=str(result.path) if hasattr(result, "path") else str(result))
            else:
                job.abort()

        return DecodeExtras(tuple(job.video_branches), tuple(job.audio_branches), finish)

    return [proxy]


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
