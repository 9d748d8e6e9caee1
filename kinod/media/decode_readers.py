"""The decode pass's pipe readers: one thread per pipe, each feeding the analyzers that asked.

Every pipe has its own reader, so a slow consumer slows ffmpeg down but can never
deadlock it. A reader's exception is collected in ``errors`` and raised by the pass
in the main thread; an analyzer whose hook raises is cut off (:func:`call_hook`) and
the others go on.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import structlog

from kinod.contracts import AudioChunk, FilterEvent, Frame, StreamConsumer
from kinod.media.cache import AnalysisCacheWriter
from kinod.media.decode_plan import PlannedTap, VideoStream
from kinod.media.decode_types import AUDIO_CHUNK_SECONDS, MAX_STDERR_LINES, PassStats
from kinod.media.probe import Probe

if TYPE_CHECKING:
    from kinod.media.decode import DecodePass

#: The decode pass's log, under the name it has always had.
log = structlog.get_logger("kinod.media.decode")
_PTS_TIME = re.compile(r"pts_time:(\S+)")


def read_frames(
    stream: VideoStream,
    rate: Fraction,
    stats: PassStats,
    counts: dict[str, int],
    progress: Callable[[int], None] | None,
    errors: list[BaseException],
) -> None:
    """Feed one BGR frame pipe to its analyzers, each frame tagged with its clip frame index."""
    spec = stream.spec
    w, h = spec.width, spec.height
    frame_bytes = w * h * 3
    k = 0
    try:
        with os.fdopen(stream.pipe.read_fd, "rb", buffering=0) as pipe:
            while True:
                buf = bytearray(frame_bytes)
                if read_exact(pipe, memoryview(buf), frame_bytes) < frame_bytes:
                    break
                image = np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3)
                image.flags.writeable = False  # shared by every analyzer of the stream
                index = spec.index(k)
                frame = Frame(index=index, seconds=float(index / rate), image=image)
                for a, hook in stream.users:
                    if a.failure is None:
                        call_hook(a, hook, frame, stats)
                k += 1
                if spec.step is None:
                    counts["frames"] = max(counts["frames"], k)
                if progress is not None:
                    progress(index + 1)
    except BaseException as e:  # surfaced by run() in the main thread
        errors.append(e)


def read_tap(dp: DecodePass, tap: PlannedTap, stats: PassStats, errors: list[BaseException]) -> None:
    """Parse one tap's metadata printout into :class:`FilterEvent` values for its analyzer."""
    a = tap.analyzer
    rate = dp.rate
    offset = 0.0
    size = (0, 0)
    if tap.tap.media == "audio" and dp.probe.has_video:
        # The same alignment as the PCM pipe: clip time 0 is the first video frame.
        offset = dp.probe.audio_start_s - dp.probe.video_start_s
    elif tap.tap.media == "video":
        spec = dp.tap_spec()
        size = (spec.width, spec.height) if tap.tap.size == "small" else dp.coded_size()
    try:
        with os.fdopen(tap.pipe.read_fd, "r", encoding="utf-8", errors="replace") as pipe:
            pts: float | None = None
            values: dict[str, str] = {}
            for line in pipe:
                if line.startswith("frame:"):
                    if pts is not None:
                        tap_event(a, tap.tap.name, pts, values, offset, rate, size, stats)
                    m = _PTS_TIME.search(line)
                    pts = float_or_none(m.group(1)) if m else None
                    values = {}
                elif "=" in line:
                    key, _, value = line.rstrip("\n").partition("=")
                    values[key] = value
            if pts is not None:
                tap_event(a, tap.tap.name, pts, values, offset, rate, size, stats)
    except BaseException as e:
        errors.append(e)


def tap_event(
    a: StreamConsumer,
    name: str,
    pts: float,
    values: dict[str, str],
    offset: float,
    rate: Fraction,
    size: tuple[int, int],
    stats: PassStats,
) -> None:
    """Hand one printed frame's values to the analyzer, placed on the clip's frame axis."""
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
    call_hook(a, a.on_filter, event, stats)


def count_frames(fd: int, counts: dict[str, int], errors: list[BaseException]) -> None:
    """Count the frame counter's printed frames (the clip's length when no stream sees every frame)."""
    try:
        with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as pipe:
            for line in pipe:
                if line.startswith("frame:"):
                    counts["counted"] += 1
    except BaseException as e:
        errors.append(e)


def read_audio(
    probe: Probe,
    fd: int,
    rate: int,
    users: Sequence[StreamConsumer],
    cache: AnalysisCacheWriter | None,
    stats: PassStats,
    counts: bool,
    errors: list[BaseException],
) -> None:
    """Feed one PCM pipe; the pass-rate pipe ``counts`` the samples (the clip's audio length)."""
    channels = probe.audio_channels
    chunk_samples = int(rate * AUDIO_CHUNK_SECONDS)
    chunk_bytes = chunk_samples * channels * 4
    # Align sample 0 with video frame 0: streams rarely start at the same instant.
    skip = round((probe.video_start_s - probe.audio_start_s) * rate)
    skip = skip if probe.has_video else 0
    position = 0
    try:
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            if skip < 0:
                deliver(np.zeros((-skip, channels), np.float32), 0, rate, users, cache, stats)
                position = -skip
            buf = bytearray(chunk_bytes)
            view = memoryview(buf)
            while True:
                got = read_exact(pipe, view, chunk_bytes)
                got -= got % (channels * 4)
                if got <= 0:
                    break
                samples = np.frombuffer(bytes(buf[:got]), dtype=np.float32).reshape(-1, channels)
                if skip > 0:
                    drop = min(skip, samples.shape[0])
                    samples, skip = samples[drop:], skip - drop
                    if not samples.shape[0]:
                        continue
                deliver(samples, position, rate, users, cache, stats)
                position += samples.shape[0]
                if counts:
                    stats.audio_samples = position
    except BaseException as e:  # surfaced by run() in the main thread
        errors.append(e)


def deliver(
    samples: np.ndarray,
    position: int,
    rate: int,
    users: Sequence[StreamConsumer],
    cache: AnalysisCacheWriter | None,
    stats: PassStats,
) -> None:
    """One chunk of samples to every live analyzer of the pipe and to the analysis cache."""
    samples.flags.writeable = False
    chunk = AudioChunk(start_sample=position, rate=rate, samples=samples)
    for a in users:
        if a.failure is None:
            call_hook(a, a.on_audio, chunk, stats)
    if cache is not None:
        cache.write_audio(samples)


def call_hook(a: StreamConsumer, hook: Callable[[Any], None], arg: Any, stats: PassStats) -> None:
    """Call one hook under the analyzer's lock; a hook that raises cuts the analyzer off."""
    try:
        with a.lock:
            c0 = time.thread_time()
            hook(arg)
            stats.hook_cpu[a.name] = stats.hook_cpu.get(a.name, 0.0) + time.thread_time() - c0
    except Exception as e:
        if a.failure is None:
            a.failure = f"{type(e).__name__}: {e}"
            stats.analyzer_errors[a.name] = a.failure
            log.error("analyzer failed during the decode pass", analyzer=a.name, error=a.failure)


def float_or_none(text: str) -> float | None:
    """A printed number, or None when it is not a finite one (``nan``, ``inf``, garbage)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_exact(pipe: BinaryIO, view: memoryview, n: int) -> int:
    """Read up to ``n`` bytes into ``view``, fewer only at the end of the pipe; how many were read."""
    got = 0
    while got < n:
        r = pipe.readinto(view[got:n])  # type: ignore[attr-defined]
        if not r:
            break
        got += r
    return got


def drain_stderr(pipe: BinaryIO | None, lines: list[str]) -> None:
    """Keep ffmpeg's first error lines (for the pass's message) and discard the rest, so it never blocks."""
    if pipe is None:
        return
    for raw in pipe:
        line = raw.decode("utf-8", "replace").strip()
        if line and len(lines) < MAX_STDERR_LINES:
            lines.append(line)
