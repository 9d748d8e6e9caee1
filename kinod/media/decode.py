"""The one decode pass: a single ffmpeg process per clip, fanned out to every consumer.

Decoding is the expensive part of looking at footage, so it happens once. One ffmpeg
process reads the original and writes:

* scaled BGR frames (``media.analysis_width`` wide) to a pipe, delivered to every
  stream analyzer that asked for frames, each frame tagged with its exact index;
* float32 PCM of all audio channels at ``media.audio_rate`` to a second pipe,
  delivered to audio analyzers and to the analysis cache for model analyzers;
* optional extra branches of the same filter graph (``VideoBranch``/``AudioBranch``):
  the proxy encode and ffmpeg measuring filters ride the same decode instead of
  starting their own.

Why ffmpeg over PyAV for this: one process can feed several outputs from one
``split`` filter graph (our pipes plus a proxy file), the filters run on ffmpeg's
threads rather than under the GIL, and the pipe is a natural backpressure point.

Frame indices: for constant-frame-rate clips the n-th frame out of the pipe is frame
n of the clip. Variable-frame-rate clips are resampled onto the nominal rate's grid
(``-fps_mode cfr``), so every index is a frame of the timeline the NLE will show.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np
import structlog

from kinod.analyzers.base import Analyzer, AudioChunk, Frame
from kinod.media.cache import AnalysisCacheWriter
from kinod.media.probe import Probe

log = structlog.get_logger(__name__)

AUDIO_CHUNK_SECONDS = 0.5
#: swscale's default fast path rounds chroma coarsely in the YUV->BGR step; the hue
#: noise that leaves in flat areas adds false cuts (testvideo.mp4: 211, 360, 692).
#: Accurate rounding with full chroma interpolation matches OpenCV/PyAV conversion.
SCALE_FLAGS = "area+accurate_rnd+full_chroma_int"
MAX_STDERR_LINES = 200


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
    ) -> None:
        self.path = path
        self.probe = probe
        self.ffmpeg = ffmpeg
        self.size = analysis_size(probe, width) if probe.has_video else (0, 0)
        self.audio_rate = audio_rate
        self.threads = threads
        self.rate = probe.rate_fraction

    def command(
        self,
        want_video: bool,
        want_audio: bool,
        video_fd: int | str,
        audio_fd: int | str,
        video_branches: Sequence[VideoBranch] = (),
        audio_branches: Sequence[AudioBranch] = (),
    ) -> list[str]:
        """The ffmpeg argument list (exposed so tests and benchmarks can see it)."""
        cmd = [self.ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error"]
        if self.threads:
            cmd += ["-threads", str(self.threads)]
        cmd += ["-i", _input_path(self.path)]
        graph: list[str] = []
        outputs: list[list[str]] = []
        if want_video or video_branches:
            w, h = self.size
            labels = [f"v{i}" for i in range(int(want_video) + len(video_branches))]
            if len(labels) == 1:
                graph.append(f"[0:v:0]null[{labels[0]}]")
            else:
                graph.append(f"[0:v:0]split={len(labels)}" + "".join(f"[{lb}]" for lb in labels))
            idx = 0
            if want_video:
                fps = f",fps={self.rate.numerator}/{self.rate.denominator}" if self.probe.vfr else ""
                graph.append(f"[{labels[0]}]scale={w}:{h}:flags={SCALE_FLAGS}{fps},format=bgr24[ana]")
                # passthrough: never pad the start with duplicated frames when audio begins
                # before video (short_hamilton_clip.mp4), so pipe frame n is clip frame n.
                outputs.append(["-map", "[ana]", "-fps_mode", "passthrough", "-f", "rawvideo", f"pipe:{video_fd}"])
                idx = 1
            for b, lb in zip(video_branches, labels[idx:], strict=True):
                graph.append(f"[{lb}]{b.filters or 'null'}[{lb}o]")
                outputs.append(["-map", f"[{lb}o]", *b.output_args])
        n_audio = len(self.probe.audio)
        if (want_audio or audio_branches) and n_audio:
            alabels = [f"a{i}" for i in range(int(want_audio) + len(audio_branches))]
            ins = "".join(f"[0:a:{i}]" for i in range(n_audio))
            merged = f"{ins}amerge=inputs={n_audio}" if n_audio > 1 else f"{ins}anull"
            if len(alabels) == 1:
                graph.append(f"{merged}[{alabels[0]}]")
            else:
                graph.append(f"{merged},asplit={len(alabels)}" + "".join(f"[{lb}]" for lb in alabels))
            idx = 0
            if want_audio:
                graph.append(f"[{alabels[0]}]aresample={self.audio_rate},aformat=sample_fmts=flt[pcm]")
                outputs.append(["-map", "[pcm]", "-f", "f32le", f"pipe:{audio_fd}"])
                idx = 1
            for ab, lb in zip(audio_branches, alabels[idx:], strict=True):
                graph.append(f"[{lb}]{ab.filters or 'anull'}[{lb}o]")
                outputs.append(["-map", f"[{lb}o]", *ab.output_args])
        if not outputs:
            raise DecodeError(f"{self.path}: nothing to decode (no video or audio wanted, or none present)")
        cmd += ["-filter_complex", ";".join(graph)]
        for o in outputs:
            cmd += o
        return cmd

    def run(
        self,
        analyzers: Sequence[Analyzer],
        cache: AnalysisCacheWriter | None = None,
        video_branches: Sequence[VideoBranch] = (),
        audio_branches: Sequence[AudioBranch] = (),
        progress: Callable[[int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> PassStats:
        frame_users = [a for a in analyzers if a.needs.frames is not None]
        audio_users = [a for a in analyzers if a.needs.audio is not None and not a.needs.cache]
        want_video = bool(frame_users) and self.probe.has_video
        audio_channels = self.probe.audio_channels
        want_audio = (bool(audio_users) or cache is not None) and audio_channels > 0

        stats = PassStats()
        t0, c0 = time.monotonic(), _children_cpu()
        read_fd, write_fd = os.pipe() if want_audio else (-1, -1)
        cmd = self.command(want_video, want_audio, 1, write_fd, video_branches, audio_branches)
        log.debug("decode pass", cmd=cmd)
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if want_video else subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(write_fd,) if want_audio else (),
                bufsize=0,
            )
        finally:
            if want_audio:
                os.close(write_fd)
        stderr_lines: list[str] = []
        err_thread = threading.Thread(target=_drain_stderr, args=(proc.stderr, stderr_lines), daemon=True)
        err_thread.start()
        audio_thread = None
        audio_error: list[BaseException] = []
        if want_audio:
            audio_thread = threading.Thread(
                target=self._read_audio,
                args=(read_fd, audio_channels, audio_users, cache, stats, audio_error),
                daemon=True,
            )
            audio_thread.start()
        try:
            if want_video:
                assert proc.stdout is not None
                self._read_video(proc.stdout, frame_users, stats, progress, cancelled, proc)
            rc = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            if audio_thread is not None:
                audio_thread.join()
            err_thread.join(timeout=5)
        stats.wall_s = time.monotonic() - t0
        stats.cpu_s = _children_cpu() - c0
        if audio_error:
            raise audio_error[0]
        if cancelled is not None and cancelled():
            raise DecodeError(f"{self.path}: decode cancelled")
        message = "; ".join(stderr_lines[-5:]) or f"exit status {rc}"
        if rc != 0 and stats.frames == 0 and stats.audio_samples == 0:
            raise DecodeError(f"{self.path}: ffmpeg could not decode it: {message}")
        if rc != 0:
            stats.warnings.append(f"ffmpeg stopped early (exit {rc}): {message}")
        elif stderr_lines:
            stats.warnings.append(f"ffmpeg reported decode errors: {message}")
        if want_video and stats.frames == 0:
            raise DecodeError(f"{self.path}: no video frames could be decoded: {message}")
        return stats

    def _read_video(
        self,
        pipe: BinaryIO,
        users: Sequence[Analyzer],
        stats: PassStats,
        progress: Callable[[int], None] | None,
        cancelled: Callable[[], bool] | None,
        proc: subprocess.Popen[bytes],
    ) -> None:
        w, h = self.size
        frame_bytes = w * h * 3
        every = [a for a in users if a.needs.frames is not None and a.needs.frames.every_frame]
        sampled = [(a, a.needs.frames.sample_fps) for a in users if a.needs.frames and not a.needs.frames.every_frame]
        rate = self.rate
        index = 0
        buf = bytearray(frame_bytes)
        view = memoryview(buf)
        while True:
            got = _read_exact(pipe, view, frame_bytes)
            if got < frame_bytes:
                break
            image = np.frombuffer(bytes(buf), dtype=np.uint8).reshape(h, w, 3)
            frame = Frame(index=index, seconds=float(index / rate), image=image)
            for a in every:
                with a.lock:
                    a.on_frame(frame)
            for a, fps in sampled:
                if fps is None or _is_sample(index, rate, fps):
                    with a.lock:
                        a.on_frame(frame)
            index += 1
            stats.frames = index
            if progress is not None:
                progress(index)
            if cancelled is not None and index % 16 == 0 and cancelled():
                proc.kill()
                break

    def _read_audio(
        self,
        fd: int,
        channels: int,
        users: Sequence[Analyzer],
        cache: AnalysisCacheWriter | None,
        stats: PassStats,
        errors: list[BaseException],
    ) -> None:
        chunk_samples = int(self.audio_rate * AUDIO_CHUNK_SECONDS)
        chunk_bytes = chunk_samples * channels * 4
        # Align sample 0 with video frame 0: streams rarely start at the same instant.
        skip = round((self.probe.video_start_s - self.probe.audio_start_s) * self.audio_rate)
        skip = skip if self.probe.has_video else 0
        position = 0
        try:
            with os.fdopen(fd, "rb", buffering=0) as pipe:
                if skip < 0:
                    self._deliver(np.zeros((-skip, channels), np.float32), 0, users, cache)
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
                    self._deliver(samples, position, users, cache)
                    position += samples.shape[0]
                    stats.audio_samples = position
        except BaseException as e:  # surfaced by run() in the main thread
            errors.append(e)

    def _deliver(
        self, samples: np.ndarray, position: int, users: Sequence[Analyzer], cache: AnalysisCacheWriter | None
    ) -> None:
        chunk = AudioChunk(start_sample=position, rate=self.audio_rate, samples=samples)
        for a in users:
            with a.lock:
                a.on_audio(chunk)
        if cache is not None:
            cache.write_audio(samples)


def _is_sample(index: int, rate: Fraction, fps: float) -> bool:
    """True for the first frame of each 1/fps period, so samples land on exact frames."""
    if index == 0:
        return True
    step = Fraction(fps).limit_denominator(1000) / rate
    return int(index * step) != int((index - 1) * step)


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
