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
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import structlog

from kinod.contracts import (
    AudioChunk,
    FilterEvent,
    FilterTap,
    Frame,
    FrameNeeds,
    StreamConsumer,
    StreamEnd,
)
from kinod.media.cache import AnalysisCacheWriter
from kinod.media.probe import Probe

log = structlog.get_logger(__name__)

AUDIO_CHUNK_SECONDS = 0.5
#: swscale's default fast path rounds chroma coarsely in the YUV->BGR step; the hue
#: noise that leaves in flat areas adds false cuts (testvideo.mp4: 211, 360, 692).
#: Accurate rounding with full chroma interpolation matches OpenCV/PyAV conversion.
SCALE_FLAGS = "area+accurate_rnd+full_chroma_int"
#: Nearest-pixel decimation (FrameNeeds scaling "point" and the filter taps' picture).
POINT_FLAGS = "neighbor"
#: Width of the picture small filter taps see: that of the shots detection stream, so
#: both share one scaling (the costliest step after decoding itself).
TAP_WIDTH = 256
MAX_STDERR_LINES = 200
_PTS_TIME = re.compile(r"pts_time:(\S+)")


class DecodeError(RuntimeError):
    """ffmpeg could not decode the clip; the message names the file and ffmpeg's words."""


@dataclass(frozen=True)
class VideoBranch:
    """An extra consumer of the decoded picture inside the same ffmpeg process.

    ``filters`` is a filter chain applied to the full-resolution picture (may be
    empty); ``output_args`` are the ffmpeg output options and the output target.
    """

    filters: str
    output_args: tuple[str, ...]


@dataclass(frozen=True)
class AudioBranch:
    """An extra consumer of the decoded audio (all streams merged) in the same process."""

    filters: str
    output_args: tuple[str, ...]


@dataclass
class PassStats:
    frames: int = 0
    audio_samples: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    #: Analyzers cut off because a hook raised: name -> what it raised.
    analyzer_errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamSpec:
    """One BGR frame pipe: its size, how it is scaled, and which frames it carries."""

    width: int
    height: int
    scaling: Literal["area", "point"]
    #: None: every frame. Else frames per frame of the clip (< 1): the stream carries
    #: frame n when floor(n * step) > floor((n - 1) * step), selected inside ffmpeg.
    step: Fraction | None = None

    def index(self, k: int) -> int:
        """Clip frame index of the k-th frame out of this stream."""
        if self.step is None:
            return k
        return math.ceil(k / self.step)


def analysis_size(probe: Probe, width: int) -> tuple[int, int]:
    """Width and height of analysis frames: ``width`` wide (never upscaled), even, aspect kept."""
    src_w, src_h = probe.width or width, probe.height or width * 9 // 16
    if abs(probe.rotation) % 180 == 90:
        src_w, src_h = src_h, src_w
    par = Fraction(1)
    if probe.pixel_aspect:
        try:
            par = Fraction(probe.pixel_aspect).limit_denominator(1000)
        except (ValueError, ZeroDivisionError):
            par = Fraction(1)
    display_w = src_w * par
    w = min(width, int(display_w) // 2 * 2) or 2
    h = max(2, round(w * src_h / display_w / 2) * 2)
    return w, int(h)


def sample_step(rate: Fraction, fps: float | None) -> Fraction | None:
    """Frames kept per clip frame for sampling at ``fps``; None when that is every frame."""
    if fps is None or fps <= 0:
        return None
    step = Fraction(fps).limit_denominator(1000) / rate
    return None if step >= 1 else step


def needs_decode(analyzers: Sequence[StreamConsumer], probe: Probe) -> bool:
    """True when some analyzer has something to take from a decode pass of this clip."""
    for a in analyzers:
        n = a.needs
        if n.cache:
            continue
        if probe.has_video and n.wants_picture():
            return True
        if probe.audio_channels and n.wants_sound():
            return True
    return False


@dataclass
class _Pipe:
    """One pipe from ffmpeg to us: the write end goes to ffmpeg, we read the other."""

    read_fd: int
    write_fd: int

    @classmethod
    def open(cls) -> _Pipe:
        r, w = os.pipe()
        return cls(r, w)


@dataclass
class _VideoStream:
    spec: StreamSpec
    pipe: _Pipe
    #: (analyzer, hook) pairs fed by this stream.
    users: list[tuple[StreamConsumer, Callable[[Frame], None]]] = field(default_factory=list)


@dataclass
class _Tap:
    analyzer: StreamConsumer
    tap: FilterTap
    chain: str
    pipe: _Pipe


@dataclass
class _Plan:
    """Everything one run wires up: the streams, taps and PCM pipes behind one command."""

    streams: list[_VideoStream] = field(default_factory=list)
    taps: list[_Tap] = field(default_factory=list)
    counter: _Pipe | None = None
    pcm: _Pipe | None = None
    native: _Pipe | None = None
    native_rate: int = 0

    def pipes(self) -> list[_Pipe]:
        out = [s.pipe for s in self.streams] + [t.pipe for t in self.taps]
        out += [p for p in (self.counter, self.pcm, self.native) if p is not None]
        return out


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
    ) -> None:
        self.path = path
        #: Separate audio essences (P2 OP-Atom): further inputs, one channel each, whose
        #: first audio streams make the clip's sound (``probe.audio`` describes them).
        self.audio_inputs = tuple(audio_inputs)
        #: A spanned recording's files in order (chapters): decoded as one input by ffmpeg's
        #: concat demuxer (no re-encode), so frame numbers run over the whole recording.
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
        return StreamSpec(w, h, "area", step)

    def _plan(self, analyzers: Sequence[StreamConsumer], cache: AnalysisCacheWriter | None) -> _Plan:
        plan = _Plan()
        live = [a for a in analyzers if not a.needs.cache and a.failure is None]
        if self.probe.has_video:
            by_spec: dict[StreamSpec, _VideoStream] = {}
            for a in live:
                for needs, hook in ((a.needs.frames, a.on_frame), (a.needs.stills, a.on_still)):
                    if needs is None:
                        continue
                    spec = self.stream_spec(needs)
                    if spec not in by_spec:
                        by_spec[spec] = _VideoStream(spec, _Pipe.open())
                    by_spec[spec].users.append((a, hook))
            # Every-frame streams first: the first one counts frames and reports progress.
            plan.streams = sorted(by_spec.values(), key=lambda s: s.spec.step is not None)
        channels = self.probe.audio_channels
        for a in live:
            taps = [
                t
                for t in a.needs.filters
                if (t.media == "video" and self.probe.has_video) or (t.media == "audio" and channels)
            ]
            try:
                chains = [a.filter_chain(t.name) for t in taps]
            except Exception as e:  # a bad chain costs its analyzer, not the pass
                a.failure = f"{type(e).__name__}: {e}"
                continue
            plan.taps += [_Tap(a, t, chain, _Pipe.open()) for t, chain in zip(taps, chains, strict=True)]
        video_taps = any(t.tap.media == "video" for t in plan.taps)
        if (plan.streams or video_taps) and not any(s.spec.step is None for s in plan.streams):
            # Something must count every frame: sampled streams skip some, and taps
            # need the end of the clip to close what is still open there.
            plan.counter = _Pipe.open()
        if channels:
            audio_taps = any(t.tap.media == "audio" for t in plan.taps)
            pass_rate = any(a.needs.audio is not None and not a.needs.audio.native for a in live)
            if pass_rate or cache is not None or audio_taps:
                plan.pcm = _Pipe.open()
            if any(a.needs.audio is not None and a.needs.audio.native for a in live):
                plan.native = _Pipe.open()
                plan.native_rate = self.native_rate
        return plan

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
        cmd = [self.ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error"]
        if self.threads:
            cmd += ["-threads", str(self.threads)]
        if self._concat_list is not None:
            cmd += ["-f", "concat", "-safe", "0", "-i", _input_path(self._concat_list)]
        else:
            cmd += ["-i", _input_path(self.path)]
        for a in self.audio_inputs:
            cmd += ["-i", _input_path(a)]
        graph: list[str] = []
        outputs: list[list[str]] = []
        vtaps = [t for t in taps if t[0].media == "video"]
        ataps = [t for t in taps if t[0].media == "audio"]
        if self.probe.has_video:
            self._video_graph(graph, outputs, streams, vtaps, counter_fd, video_branches)
        if self.probe.audio:
            self._audio_graph(graph, outputs, pcm_fd, native_fd, ataps, audio_branches)
        if not outputs:
            raise DecodeError(f"{self.path}: nothing to decode (no video or audio wanted, or none present)")
        cmd += ["-filter_complex", ";".join(graph)]
        for o in outputs:
            cmd += o
        return cmd

    def _video_graph(
        self,
        graph: list[str],
        outputs: list[list[str]],
        streams: Sequence[tuple[StreamSpec, int | str]],
        taps: Sequence[tuple[FilterTap, str, int]],
        counter_fd: int | None,
        branches: Sequence[VideoBranch],
    ) -> None:
        small = [t for t in taps if t[0].size == "small"]
        full = [t for t in taps if t[0].size == "full"]
        tap_spec = self.tap_spec()
        # The small taps ride the detection stream's scaling when there is one of their size.
        shared = next((i for i, (spec, _fd) in enumerate(streams) if spec == tap_spec), None) if small else None
        legs = len(streams) + bool(small and shared is None) + bool(full) + (counter_fd is not None)
        if not legs and not branches:
            return
        top = _split(graph, "[0:v:0]", "split", "v", int(bool(legs)) + len(branches))
        for b, lb in zip(branches, top[int(bool(legs)) :], strict=True):
            graph.append(f"{lb}{b.filters or 'null'}[{lb[1:-1]}o]")
            outputs.append(["-map", f"[{lb[1:-1]}o]", *b.output_args])
        if not legs:
            return
        r = self.rate
        head = top[0] + (f"fps={r.numerator}/{r.denominator}," if self.probe.vfr else "")
        labels = _split(graph, head, "split", "an", legs)
        for i, (spec, fd) in enumerate(streams):
            chain = []
            if spec.step is not None:
                # Same rule as StreamSpec.index: exact in doubles for any real clip length.
                a, b = spec.step.numerator, spec.step.denominator
                chain.append(f"select='gt(floor(n*{a}/{b}),floor((n-1)*{a}/{b}))'")
            if spec.scaling == "area":
                chain.append(f"scale={spec.width}:{spec.height}:flags={SCALE_FLAGS}")
            else:
                # Always through 8-bit 4:2:0, so the BGR is the same whether taps share it or not.
                chain.append(f"scale={spec.width}:{spec.height}:flags={POINT_FLAGS},format=yuv420p")
            if i == shared:
                graph.append(f"{labels[i]}{','.join(chain)},split=2[p{i}][tapsrc]")
                graph.append(f"[p{i}]format=bgr24[s{i}]")
            else:
                graph.append(f"{labels[i]}{','.join(chain)},format=bgr24[s{i}]")
            # passthrough: never pad the start with duplicated frames when audio begins
            # before video (short_hamilton_clip.mp4), so pipe frame n is clip frame n.
            outputs.append(["-map", f"[s{i}]", "-fps_mode", "passthrough", "-f", "rawvideo", f"pipe:{fd}"])
        rest = labels[len(streams) :]
        if small:
            if shared is not None:
                src = "[tapsrc]setpts=PTS-STARTPTS,"
            else:
                w, h = tap_spec.width, tap_spec.height
                src = f"{rest.pop(0)}setpts=PTS-STARTPTS,scale={w}:{h}:flags={POINT_FLAGS},format=yuv420p,"
            self._tap_legs(graph, src, "ts", small, "nullsink")
        if full:
            self._tap_legs(graph, f"{rest.pop(0)}setpts=PTS-STARTPTS,", "tf", full, "nullsink")
        if counter_fd is not None:
            # An output of its own: a graph of taps alone still needs one for ffmpeg to run.
            graph.append(
                f"{rest.pop(0)}metadata=mode=add:key=kinod.n:value=1,"
                f"metadata=mode=print:file='pipe\\:{counter_fd}'[cnt]"
            )
            outputs.append(["-map", "[cnt]", "-f", "null", "-"])

    def _audio_graph(
        self,
        graph: list[str],
        outputs: list[list[str]],
        pcm_fd: int | str | None,
        native_fd: int | None,
        taps: Sequence[tuple[FilterTap, str, int]],
        branches: Sequence[AudioBranch],
    ) -> None:
        legs = (pcm_fd is not None) + (native_fd is not None) + bool(taps) + len(branches)
        if not legs:
            return
        n_audio = len(self.probe.audio)
        if self.audio_inputs:
            n_audio = len(self.audio_inputs)
            ins = "".join(f"[{i + 1}:a:0]" for i in range(n_audio))
        else:
            ins = "".join(f"[0:a:{i}]" for i in range(n_audio))
        merged = f"{ins}amerge=inputs={n_audio}," if n_audio > 1 else ins
        labels = _split(graph, merged, "asplit", "a", legs)
        if pcm_fd is not None:
            graph.append(f"{labels.pop(0)}aresample={self.audio_rate},aformat=sample_fmts=flt[pcm]")
            outputs.append(["-map", "[pcm]", "-f", "f32le", f"pipe:{pcm_fd}"])
        if native_fd is not None:
            graph.append(f"{labels.pop(0)}aresample={self.native_rate},aformat=sample_fmts=flt[nat]")
            outputs.append(["-map", "[nat]", "-f", "f32le", f"pipe:{native_fd}"])
        if taps:
            self._tap_legs(graph, f"{labels.pop(0)}asetpts=PTS-STARTPTS,", "ta", taps, "anullsink", audio=True)
        for ab, lb in zip(branches, labels, strict=True):
            graph.append(f"{lb}{ab.filters or 'anull'}[{lb[1:-1]}o]")
            outputs.append(["-map", f"[{lb[1:-1]}o]", *ab.output_args])

    @staticmethod
    def _tap_legs(
        graph: list[str],
        head: str,
        prefix: str,
        taps: Sequence[tuple[FilterTap, str, int]],
        sink: str,
        audio: bool = False,
    ) -> None:
        printer = "ametadata" if audio else "metadata"
        legs = _split(graph, head, "asplit" if audio else "split", prefix, len(taps))
        for lb, (_tap, chain, fd) in zip(legs, taps, strict=True):
            graph.append(f"{lb}{chain},{printer}=mode=print:file='pipe\\:{fd}',{sink}")

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
        if not self.parts:
            return self._run(analyzers, cache, video_branches, audio_branches, progress, cancelled)
        self._concat_list = _write_concat_list(self.parts)
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
        stats = PassStats()
        plan = self._plan(analyzers, cache)
        stats.analyzer_errors.update({a.name: a.failure for a in analyzers if a.failure is not None})
        try:
            cmd = self._command(
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
        log.debug("decode pass", cmd=cmd)
        t0, c0 = time.monotonic(), _children_cpu()
        write_fds = tuple(p.write_fd for p in plan.pipes())
        try:
            proc = subprocess.Popen(
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

        stderr_lines: list[str] = []
        errors: list[BaseException] = []
        counts: dict[str, int] = {"frames": 0, "counted": 0}
        threads = [threading.Thread(target=_drain_stderr, args=(proc.stderr, stderr_lines), daemon=True)]
        for i, s in enumerate(plan.streams):
            threads.append(self._thread(self._read_frames, s, stats, counts, progress if i == 0 else None, errors))
        for t in plan.taps:
            threads.append(self._thread(self._read_tap, t, stats, errors))
        if plan.counter is not None:
            threads.append(self._thread(self._count_frames, plan.counter.read_fd, counts, errors))
        if plan.pcm is not None:
            pcm_users = [a for a in analyzers if a.needs.audio is not None and not a.needs.audio.native]
            pcm_users = [a for a in pcm_users if not a.needs.cache]
            threads.append(
                self._thread(self._read_audio, plan.pcm.read_fd, self.audio_rate, pcm_users, cache, stats, True, errors)
            )
        if plan.native is not None:
            nat_users = [a for a in analyzers if a.needs.audio is not None and a.needs.audio.native]
            threads.append(
                self._thread(
                    self._read_audio, plan.native.read_fd, plan.native_rate, nat_users, None, stats, False, errors
                )
            )
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
        stats.wall_s = time.monotonic() - t0
        stats.cpu_s = _children_cpu() - c0
        stats.frames = counts["frames"] or counts["counted"]
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
        end = StreamEnd(frames=stats.frames, audio_seconds=stats.audio_samples / self.audio_rate)
        for a in analyzers:
            if not a.needs.cache and a.failure is None:
                _call(a, a.on_end, end, stats)
        return stats

    @staticmethod
    def _thread(target: Callable[..., None], *args: Any) -> threading.Thread:
        return threading.Thread(target=target, args=args, daemon=True)

    def _read_frames(
        self,
        stream: _VideoStream,
        stats: PassStats,
        counts: dict[str, int],
        progress: Callable[[int], None] | None,
        errors: list[BaseException],
    ) -> None:
        spec = stream.spec
        w, h = spec.width, spec.height
        frame_bytes = w * h * 3
        rate = self.rate
        k = 0
        try:
            with os.fdopen(stream.pipe.read_fd, "rb", buffering=0) as pipe:
                while True:
                    buf = bytearray(frame_bytes)
                    if _read_exact(pipe, memoryview(buf), frame_bytes) < frame_bytes:
                        break
                    image = np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3)
                    image.flags.writeable = False  # shared by every analyzer of the stream
                    index = spec.index(k)
                    frame = Frame(index=index, seconds=float(index / rate), image=image)
                    for a, hook in stream.users:
                        if a.failure is None:
                            _call(a, hook, frame, stats)
                    k += 1
                    if spec.step is None:
                        counts["frames"] = max(counts["frames"], k)
                    if progress is not None:
                        progress(index + 1)
        except BaseException as e:  # surfaced by run() in the main thread
            errors.append(e)

    def _read_tap(self, tap: _Tap, stats: PassStats, errors: list[BaseException]) -> None:
        a = tap.analyzer
        rate = self.rate
        offset = 0.0
        size = (0, 0)
        if tap.tap.media == "audio" and self.probe.has_video:
            # The same alignment as the PCM pipe: clip time 0 is the first video frame.
            offset = self.probe.audio_start_s - self.probe.video_start_s
        elif tap.tap.media == "video":
            spec = self.tap_spec()
            size = (spec.width, spec.height) if tap.tap.size == "small" else self.coded_size()
        try:
            with os.fdopen(tap.pipe.read_fd, "r", encoding="utf-8", errors="replace") as pipe:
                pts: float | None = None
                values: dict[str, str] = {}
                for line in pipe:
                    if line.startswith("frame:"):
                        if pts is not None:
                            self._tap_event(a, tap.tap.name, pts, values, offset, rate, size, stats)
                        m = _PTS_TIME.search(line)
                        pts = _float_or_none(m.group(1)) if m else None
                        values = {}
                    elif "=" in line:
                        key, _, value = line.rstrip("\n").partition("=")
                        values[key] = value
                if pts is not None:
                    self._tap_event(a, tap.tap.name, pts, values, offset, rate, size, stats)
        except BaseException as e:
            errors.append(e)

    @staticmethod
    def _tap_event(
        a: StreamConsumer,
        name: str,
        pts: float,
        values: dict[str, str],
        offset: float,
        rate: Fraction,
        size: tuple[int, int],
        stats: PassStats,
    ) -> None:
        if a.failure is not None:
            return
        seconds = pts + offset
        event = FilterEvent(
            tap=name,
            frame=max(0, round(seconds * rate)),
            seconds=seconds,
            values=values,
            rate=rate,
            offset_s=offset,
            width=size[0],
            height=size[1],
        )
        _call(a, a.on_filter, event, stats)

    @staticmethod
    def _count_frames(fd: int, counts: dict[str, int], errors: list[BaseException]) -> None:
        try:
            with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as pipe:
                for line in pipe:
                    if line.startswith("frame:"):
                        counts["counted"] += 1
        except BaseException as e:
            errors.append(e)

    def _read_audio(
        self,
        fd: int,
        rate: int,
        users: Sequence[StreamConsumer],
        cache: AnalysisCacheWriter | None,
        stats: PassStats,
        counts: bool,
        errors: list[BaseException],
    ) -> None:
        """Feed one PCM pipe; the pass-rate pipe ``counts`` the samples (the clip's audio length)."""
        channels = self.probe.audio_channels
        chunk_samples = int(rate * AUDIO_CHUNK_SECONDS)
        chunk_bytes = chunk_samples * channels * 4
        # Align sample 0 with video frame 0: streams rarely start at the same instant.
        skip = round((self.probe.video_start_s - self.probe.audio_start_s) * rate)
        skip = skip if self.probe.has_video else 0
        position = 0
        try:
            with os.fdopen(fd, "rb", buffering=0) as pipe:
                if skip < 0:
                    self._deliver(np.zeros((-skip, channels), np.float32), 0, rate, users, cache, stats)
                    position = -skip
                buf = bytearray(chunk_bytes)
                view = memoryview(buf)
                while True:
                    got = _read_exact(pipe, view, chunk_bytes)
                    got -= got % (channels * 4)
                    if got <= 0:
                        break
                    samples = np.frombuffer(bytes(buf[:got]), dtype=np.float32).reshape(-1, channels)
                    if skip > 0:
                        drop = min(skip, samples.shape[0])
                        samples, skip = samples[drop:], skip - drop
                        if not samples.shape[0]:
                            continue
                    self._deliver(samples, position, rate, users, cache, stats)
                    position += samples.shape[0]
                    if counts:
                        stats.audio_samples = position
        except BaseException as e:  # surfaced by run() in the main thread
            errors.append(e)

    @staticmethod
    def _deliver(
        samples: np.ndarray,
        position: int,
        rate: int,
        users: Sequence[StreamConsumer],
        cache: AnalysisCacheWriter | None,
        stats: PassStats,
    ) -> None:
        samples.flags.writeable = False
        chunk = AudioChunk(start_sample=position, rate=rate, samples=samples)
        for a in users:
            if a.failure is None:
                _call(a, a.on_audio, chunk, stats)
        if cache is not None:
            cache.write_audio(samples)


def _call(a: StreamConsumer, hook: Callable[[Any], None], arg: Any, stats: PassStats) -> None:
    """Call one hook under the analyzer's lock; a hook that raises cuts the analyzer off."""
    try:
        with a.lock:
            hook(arg)
    except Exception as e:
        if a.failure is None:
            a.failure = f"{type(e).__name__}: {e}"
            stats.analyzer_errors[a.name] = a.failure
            log.error("analyzer failed during the decode pass", analyzer=a.name, error=a.failure)


def _split(graph: list[str], head: str, kind: str, prefix: str, n: int) -> list[str]:
    """Labels of ``n`` copies of ``head`` (a pad label, maybe followed by filters ending in ',')."""
    labels = [f"[{prefix}{i}]" for i in range(n)]
    if n == 1 and head.endswith(","):
        graph.append(f"{head[:-1]}{labels[0]}")
    elif n == 1:
        graph.append(f"{head}{'anull' if kind == 'asplit' else 'null'}{labels[0]}")
    else:
        graph.append(f"{head}{kind}={n}{''.join(labels)}")
    return labels


def _is_sample(index: int, rate: Fraction, fps: float) -> bool:
    """True for the first frame of each 1/fps period, so samples land on exact frames."""
    step = sample_step(rate, fps)
    if step is None or index == 0:
        return True
    return int(index * step) != int((index - 1) * step)


def _float_or_none(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _read_exact(pipe: BinaryIO, view: memoryview, n: int) -> int:
    got = 0
    while got < n:
        r = pipe.readinto(view[got:n])  # type: ignore[attr-defined]
        if not r:
            break
        got += r
    return got


def _drain_stderr(pipe: BinaryIO | None, lines: list[str]) -> None:
    if pipe is None:
        return
    for raw in pipe:
        line = raw.decode("utf-8", "replace").strip()
        if line and len(lines) < MAX_STDERR_LINES:
            lines.append(line)


def _children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system + t.user + t.system


def _input_path(path: Path) -> str:
    """A path ffmpeg will not mistake for an option or a protocol (leading dash, colon)."""
    return "file:" + str(Path(path).absolute())


def _write_concat_list(parts: Sequence[Path]) -> Path:
    """An ffconcat list of the parts (absolute paths, quotes escaped), in a private temp file."""
    import tempfile

    lines = ["ffconcat version 1.0"]
    for p in parts:
        quoted = str(Path(p).absolute()).replace("'", "'\\''")
        lines.append(f"file 'file:{quoted}'")
    fd, name = tempfile.mkstemp(prefix="kinod-span-", suffix=".ffconcat")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return Path(name)
