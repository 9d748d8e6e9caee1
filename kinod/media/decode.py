"""The one decode pass: a single ffmpeg process per clip, fanned out to every consumer.

Decoding is the expensive part of looking at footage, so it happens once. One ffmpeg
process reads the original and its filter graph splits the decoded picture and sound
into every consumer the analyzers declared (:class:`~kinod.contracts.Needs`):

* **frame streams**: BGR frames on a pipe each, one per distinct (width, scaling,
  sampling) any analyzer asked for; every frame is tagged with its exact index.
  Sampled streams are selected inside ffmpeg, so frames nobody looks at are never
  scaled, converted or copied through a pipe;
* **PCM**: float32 audio of all channels at ``media.audio_rate`` (analyzers and the
  analysis cache for model analyzers), plus a second pipe at the source's own rate for
  analyzers that need sample-exact peaks;
* **filter taps**: ffmpeg measuring filters (blackdetect, freezedetect, silencedetect,
  ebur128, idet, cropdetect) on their own legs of the graph, each ending in a
  ``metadata`` printer on a pipe that is parsed and handed to the analyzer that asked;
* optional extra branches (``VideoBranch``/``AudioBranch``): the proxy encode rides the
  same decode instead of starting its own.

Why ffmpeg over PyAV for this: one process can feed many outputs from one ``split``
filter graph, the filters run on ffmpeg's threads rather than under the GIL, and each
pipe is a natural backpressure point. Every pipe has its own reader thread, so a slow
consumer slows ffmpeg down but can never deadlock it.

Frame indices: for constant-frame-rate clips the n-th frame of the graph is frame n
of the clip. Variable-frame-rate clips are resampled onto the nominal rate's grid
(an ``fps`` filter ahead of every analysis leg), so every index is a frame of the
timeline the NLE will show.


An analyzer whose hook raises is cut off (``StreamConsumer.failure``) and the pass goes on
for the others: one bad analyzer must not cost the clip its other results.

Where things are: the values the pass is made of in :mod:`kinod.media.decode_types`,
what it wires up for its analyzers in :mod:`kinod.media.decode_plan`, the ffmpeg filter
graph in :mod:`kinod.media.decode_graph` and the pipe readers in
:mod:`kinod.media.decode_readers`. This module runs the pass; every public name of the
others is importable from here.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog

from kinod.contracts import FilterTap, FrameNeeds, StreamConsumer, StreamEnd
from kinod.media.cache import AnalysisCacheWriter
from kinod.media.decode_graph import filter_graph, input_path, sequence_input, write_concat_list, write_sequence_list
from kinod.media.decode_plan import PassPlan, needs_decode, plan_pass
from kinod.media.decode_readers import call_hook, count_frames, drain_stderr, read_audio, read_frames, read_tap
from kinod.media.decode_types import (
    AUDIO_CHUNK_SECONDS,
    MAX_STDERR_LINES,
    POINT_FLAGS,
    SCALE_FLAGS,
    TAP_WIDTH,
    AudioBranch,
    DecodeError,
    PassStats,
    StreamSpec,
    VideoBranch,
    analysis_size,
    sample_step,
)
from kinod.media.hwdecode import decoder_options
from kinod.media.probe import Probe

__all__ = [
    "AUDIO_CHUNK_SECONDS",
    "MAX_STDERR_LINES",
    "POINT_FLAGS",
    "SCALE_FLAGS",
    "TAP_WIDTH",
    "AudioBranch",
    "DecodeError",
    "DecodePass",
    "PassStats",
    "StreamSpec",
    "VideoBranch",
    "analysis_size",
    "needs_decode",
    "sample_step",
]

log = structlog.get_logger(__name__)


class DecodePass:
    """Runs one ffmpeg over a clip and feeds every consumer. Use once per clip."""

    def __init__(
        self,
        path: Path,
        probe: Probe,
        *,
        ffmpeg: str,
        width: int = 480,
        audio_rate: int = 16000,
        threads: int = 0,
        parts: Sequence[Path] = (),
        audio_inputs: Sequence[Path] = (),
        fast_decode: bool = True,
        hw_decode: str = "off",
    ) -> None:
        self.path = path
        #: Decode with :data:`FAST_DECODE_OPTIONS` when no proxy shares the pass (a proxy
        #: is a picture people look at, so it gets every frame decoded to the letter).
        self.fast_decode = fast_decode
        self.hw_decode = hw_decode  # media.hw_decode: NVDEC where this ffmpeg can (kinod.media.hwdecode)
        #: Separate audio essences (P2 OP-Atom): further inputs, one channel each, whose
        #: first audio streams make the clip's sound (``probe.audio`` describes them).
        self.audio_inputs = tuple(audio_inputs)
        #: A spanned recording's files in order (chapters): decoded as one input by ffmpeg's
        #: concat demuxer (no re-encode), so frame numbers run over the whole recording.
        #: An image sequence (``probe.sequence``) is read by the image2 demuxer, or frame by
        #: frame from a concat list where gaps must keep their length.
        self.parts = tuple(parts) if len(parts) > 1 else ()
        self._concat_list: Path | None = None
        self.probe = probe
        self.ffmpeg = ffmpeg
        self.width = width
        self.size = analysis_size(probe, width) if probe.has_video else (0, 0)
        self.audio_rate = audio_rate
        self.threads = threads
        self.rate = probe.timeline_rate
        self.native_rate = max((a.sample_rate for a in probe.audio), default=0) or 48000

    def coded_size(self) -> tuple[int, int]:
        """The decoded picture's size as the filter graph sees it (ffmpeg applies rotation)."""
        w, h = self.probe.width or 0, self.probe.height or 0
        return (h, w) if abs(self.probe.rotation) % 180 == 90 else (w, h)

    def tap_spec(self) -> StreamSpec:
        """The picture small filter taps see: the every-frame detection stream's."""
        return self.stream_spec(FrameNeeds(every_frame=True, width=TAP_WIDTH, scaling="point"))

    # Planning ---------------------------------------------------------------------------------
    def stream_spec(self, needs: FrameNeeds) -> StreamSpec:
        """The frame stream that serves one FrameNeeds on this clip."""
        width = needs.width or self.width
        step = sample_step(self.rate, needs.sample_fps) if not needs.every_frame else None
        if needs.scaling == "point":
            full_w, full_h = analysis_size(self.probe, 1 << 20)
            if full_w >= 2 * width:
                w, h = analysis_size(self.probe, width)
            else:
                w, h = full_w, full_h
            return StreamSpec(w, h, "point", step)
        w, h = analysis_size(self.probe, width)
        return StreamSpec(w, h, needs.scaling, step)

    def command(
        self,
        want_video: bool,
        want_audio: bool,
        video_fd: int | str,
        audio_fd: int | str,
        video_branches: Sequence[VideoBranch] = (),
        audio_branches: Sequence[AudioBranch] = (),
    ) -> list[str]:
        """The ffmpeg argument list for the plain analysis stream and PCM (tests and benchmarks).

        ``want_video`` adds one every-frame BGR stream at the analysis size on
        ``video_fd``; ``want_audio`` the PCM at the pass rate on ``audio_fd``.
        """
        streams = [(StreamSpec(*self.size, "area"), video_fd)] if want_video and self.probe.has_video else []
        pcm = audio_fd if want_audio and self.probe.audio_channels else None
        return self._command(streams, [], None, pcm, None, video_branches, audio_branches)

    def _command(
        self,
        streams: Sequence[tuple[StreamSpec, int | str]],
        taps: Sequence[tuple[FilterTap, str, int]],
        counter_fd: int | None,
        pcm_fd: int | str | None,
        native_fd: int | None,
        video_branches: Sequence[VideoBranch],
        audio_branches: Sequence[AudioBranch],
    ) -> list[str]:
        """The whole command: inputs (a concat list for a spanned recording), the graph, every output."""
        cmd = [self.ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error"]
        if self.threads:
            cmd += ["-threads", str(self.threads)]
        analysis_only = not video_branches and bool(streams or taps or counter_fd is not None)
        cmd += decoder_options(self.probe, self.hw_decode, self.fast_decode and analysis_only, self.ffmpeg)
        if self._concat_list is not None:
            cmd += ["-f", "concat", "-safe", "0", "-i", input_path(self._concat_list)]
        elif self.probe.sequence is not None:
            cmd += sequence_input(self.probe.sequence, self.rate)
        else:
            cmd += ["-i", input_path(self.path)]
        for a in self.audio_inputs:
            cmd += ["-i", input_path(a)]
        graph, outputs = filter_graph(
            self, streams, taps, counter_fd, pcm_fd, native_fd, video_branches, audio_branches
        )
        if not outputs:
            raise DecodeError(f"{self.path}: nothing to decode (no video or audio wanted, or none present)")
        cmd += ["-filter_complex", ";".join(graph)]
        for o in outputs:
            cmd += o
        return cmd

    # Running ----------------------------------------------------------------------------------
    def run(
        self,
        analyzers: Sequence[StreamConsumer],
        cache: AnalysisCacheWriter | None = None,
        video_branches: Sequence[VideoBranch] = (),
        audio_branches: Sequence[AudioBranch] = (),
        progress: Callable[[int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> PassStats:
        if self.parts:
            self._concat_list = write_concat_list(self.parts)
        elif self.probe.sequence is not None and self.probe.sequence.get("input") == "concat":
            self._concat_list = write_sequence_list(self.probe.sequence, self.rate)
        else:
            return self._run(analyzers, cache, video_branches, audio_branches, progress, cancelled)
        try:
            return self._run(analyzers, cache, video_branches, audio_branches, progress, cancelled)
        finally:
            self._concat_list.unlink(missing_ok=True)
            self._concat_list = None

    def _run(
        self,
        analyzers: Sequence[StreamConsumer],
        cache: AnalysisCacheWriter | None,
        video_branches: Sequence[VideoBranch],
        audio_branches: Sequence[AudioBranch],
        progress: Callable[[int], None] | None,
        cancelled: Callable[[], bool] | None,
    ) -> PassStats:
        """Plan, start ffmpeg, read every pipe on a thread of its own, then judge how it went."""
        stats = PassStats()
        plan = plan_pass(self, analyzers, cache)
        stats.analyzer_errors.update({a.name: a.failure for a in analyzers if a.failure is not None})
        cmd = self._plan_command(plan, video_branches, audio_branches)
        log.debug("decode pass", cmd=cmd)
        t0, c0 = time.monotonic(), _children_cpu()
        proc = self._start(cmd, plan)
        stderr_lines: list[str] = []
        errors: list[BaseException] = []
        counts: dict[str, int] = {"frames": 0, "counted": 0}
        threads = [_thread(drain_stderr, proc.stderr, stderr_lines)]
        threads += self._readers(plan, analyzers, cache, stats, counts, progress, errors)
        rc = _supervise(proc, threads, cancelled)
        stats.wall_s = time.monotonic() - t0
        stats.cpu_s = _children_cpu() - c0
        stats.frames = counts["frames"] or counts["counted"]
        self._check_outcome(rc, plan, stats, stderr_lines, errors, cancelled)
        end = StreamEnd(frames=stats.frames, audio_seconds=stats.audio_samples / self.audio_rate)
        for a in analyzers:
            if not a.needs.cache and a.failure is None:
                call_hook(a, a.on_end, end, stats)
        return stats

    def _plan_command(
        self, plan: PassPlan, video_branches: Sequence[VideoBranch], audio_branches: Sequence[AudioBranch]
    ) -> list[str]:
        """The ffmpeg command for a plan; the plan's pipes are closed when it cannot be built."""
        try:
            return self._command(
                [(s.spec, s.pipe.write_fd) for s in plan.streams],
                [(t.tap, t.chain, t.pipe.write_fd) for t in plan.taps],
                plan.counter.write_fd if plan.counter else None,
                plan.pcm.write_fd if plan.pcm else None,
                plan.native.write_fd if plan.native else None,
                video_branches,
                audio_branches,
            )
        except BaseException:
            for p in plan.pipes():
                os.close(p.read_fd)
                os.close(p.write_fd)
            raise

    def _start(self, cmd: list[str], plan: PassPlan) -> subprocess.Popen[bytes]:
        """Start ffmpeg with the plan's write ends; ours are closed once it has them (or could not start)."""
        write_fds = tuple(p.write_fd for p in plan.pipes())
        try:
            return subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=write_fds,
                bufsize=0,
            )
        except OSError as e:
            for p in plan.pipes():
                os.close(p.read_fd)
            raise DecodeError(f"{self.path}: cannot start ffmpeg ({self.ffmpeg}): {e.strerror or e}") from None
        finally:
            for fd in write_fds:
                os.close(fd)

    def _readers(
        self,
        plan: PassPlan,
        analyzers: Sequence[StreamConsumer],
        cache: AnalysisCacheWriter | None,
        stats: PassStats,
        counts: dict[str, int],
        progress: Callable[[int], None] | None,
        errors: list[BaseException],
    ) -> list[threading.Thread]:
        """One reader thread per pipe of the plan (not started); the first frame stream reports progress."""
        threads = []
        for i, s in enumerate(plan.streams):
            threads.append(_thread(read_frames, s, self.rate, stats, counts, progress if i == 0 else None, errors))
        for t in plan.taps:
            threads.append(_thread(read_tap, self, t, stats, errors))
        if plan.counter is not None:
            threads.append(_thread(count_frames, plan.counter.read_fd, counts, errors))
        if plan.pcm is not None:
            pcm_users = [a for a in analyzers if a.needs.audio is not None and not a.needs.audio.native]
            pcm_users = [a for a in pcm_users if not a.needs.cache]
            threads.append(
                _thread(
                    read_audio, self.probe, plan.pcm.read_fd, self.audio_rate, pcm_users, cache, stats, True, errors
                )
            )
        if plan.native is not None:
            nat_users = [a for a in analyzers if a.needs.audio is not None and a.needs.audio.native]
            threads.append(
                _thread(
                    read_audio, self.probe, plan.native.read_fd, plan.native_rate, nat_users, None, stats, False, errors
                )
            )
        return threads

    def _check_outcome(
        self,
        rc: int,
        plan: PassPlan,
        stats: PassStats,
        stderr_lines: list[str],
        errors: list[BaseException],
        cancelled: Callable[[], bool] | None,
    ) -> None:
        """Raise what failed (a reader, a cancel, nothing decoded); note in ``stats`` what merely went badly."""
        if errors:
            raise errors[0]
        if cancelled is not None and cancelled():
            raise DecodeError(f"{self.path}: decode cancelled")
        message = "; ".join(stderr_lines[-5:]) or f"exit status {rc}"
        if rc != 0 and stats.frames == 0 and stats.audio_samples == 0:
            raise DecodeError(f"{self.path}: ffmpeg could not decode it: {message}")
        if rc != 0:
            stats.warnings.append(f"ffmpeg stopped early (exit {rc}): {message}")
        elif stderr_lines:
            stats.warnings.append(f"ffmpeg reported decode errors: {message}")
        wants_frames = bool(plan.streams) or plan.counter is not None
        if wants_frames and stats.frames == 0:
            raise DecodeError(f"{self.path}: no video frames could be decoded: {message}")


def _thread(target: Callable[..., None], *args: Any) -> threading.Thread:
    """A daemon thread: a reader stuck on a pipe must never keep the daemon from exiting."""
    return threading.Thread(target=target, args=args, daemon=True)


def _supervise(
    proc: subprocess.Popen[bytes], threads: list[threading.Thread], cancelled: Callable[[], bool] | None
) -> int:
    """Start the readers, wait for ffmpeg (killed when ``cancelled``), join the readers; ffmpeg's exit status."""
    for t in threads:
        t.start()
    try:
        while True:
            try:
                rc = proc.wait(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                if cancelled is not None and cancelled():
                    proc.kill()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        for t in threads[1:]:
            t.join()
        threads[0].join(timeout=5)
    return rc


def _children_cpu() -> float:
    """CPU seconds of this process and its finished children (ffmpeg counts once it is reaped)."""
    t = os.times()
    return t.children_user + t.children_system + t.user + t.system
