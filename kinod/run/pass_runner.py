"""The pass runner: probe a clip, run its one decode pass feeding every pending stream
analyzer, the analysis cache and extra outputs (proxies), and collect the records.

Also the task dispatch (:meth:`PassRunner.run_task`), the entry point of every executor.
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
from kinod.config import analysis_hash
from kinod.export.sidecar import (
    TimeBase,
    analysis_record,
    marker_record,
)
from kinod.fsutil import fit_name
from kinod.jobs.tasks import Task, TaskOutcome
from kinod.media.cache import AnalysisCacheWriter, FrameCacheFeeder
from kinod.media.cards.model import ClipFiles
from kinod.media.cards.tcrate import audio_tc_rate
from kinod.media.decode import DecodeError, DecodePass, needs_decode
from kinod.media.fingerprint import clip_fingerprint
from kinod.media.probe import Probe, ProbeError
from kinod.media.span import Part, probe_span
from kinod.media.timecode import parse_rate
from kinod.outputs import output_dir_for
from kinod.robust.clipcheck import pre_decode_problems
from kinod.robust.integrity import apply as apply_integrity
from kinod.robust.integrity import check_before_decode as check_integrity
from kinod.robust.space import pass_outcome_if_disk_full
from kinod.run.common import (
    DecodeExtras,
    Room,
    _err,
    _os_message,
)

log = structlog.get_logger("kinod.pipeline")


class PassRunner(Room):
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
        known = self.store.clip(fp)
        return known.clip if known is not None else ClipFiles.alone(path)

    def _audio_tc_rate(self, fp: str, path: Path) -> tuple[Fraction, str] | None:
        """For a WAV: the rate labelling its bext start if its iXML has none (see ``media.cards.tcrate``)."""
        if path.suffix.lower() not in (".wav", ".bwf"):
            return None
        row = self.store.clip(fp)
        card = Path(row.card_path) if row is not None and row.card_path else None
        return audio_tc_rate(card, parse_rate(self.config.cards.audio_tc_rate))

    def _clip_info(self, path: Path, pr: Probe, out_dir: Path) -> ClipInfo:
        return ClipInfo(
            path=path,
            probe=pr,
            rate=pr.rate_fraction,
            frames=pr.frames,
            artefact_dir=out_dir / "keyframes" / fit_name(path.name, out_dir),
            start_tc_frames=pr.start_tc_frames,
            drop_frame=pr.drop_frame,
        )

    def _out_dir(self, fp: str, path: Path) -> Path:
        clip = self.store.clip(fp)
        if clip is not None and clip.out_dir:
            return clip.out_dir
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
                clip_files.parts,
                clip_files.audio,
                audio_tc_rate=self._audio_tc_rate(task.fingerprint, path),
                camera=clip_files.camera,
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
        integ = check_integrity(path, pr, self.config.cards.integrity_check)
        errors.extend(_err("integrity", m) for m in pre_decode_problems(path, pr, integ))
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
