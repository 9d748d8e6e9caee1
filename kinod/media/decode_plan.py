"""What one decode pass wires up: which frame streams, filter taps and PCM pipes its analyzers need.

The plan is made before ffmpeg starts: analyzers asking for the same frames share
one stream, every tap gets a pipe of its own, and a frame counter is added when no
stream sees every frame. :func:`needs_decode` says whether a clip needs a pass at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kinod.contracts import FilterTap, Frame, StreamConsumer
from kinod.media.cache import AnalysisCacheWriter
from kinod.media.decode_types import StreamSpec
from kinod.media.probe import Probe

if TYPE_CHECKING:
    from kinod.media.decode import DecodePass


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
class Pipe:
    """One pipe from ffmpeg to us: the write end goes to ffmpeg, we read the other."""

    read_fd: int
    write_fd: int

    @classmethod
    def open(cls) -> Pipe:
        r, w = os.pipe()
        return cls(r, w)


@dataclass
class VideoStream:
    """One BGR frame pipe and the analyzer hooks it feeds."""

    spec: StreamSpec
    pipe: Pipe
    #: (analyzer, hook) pairs fed by this stream.
    users: list[tuple[StreamConsumer, Callable[[Frame], None]]] = field(default_factory=list)


@dataclass
class PlannedTap:
    """One analyzer's filter tap: its chain in the graph and the pipe its metadata printer writes to."""

    analyzer: StreamConsumer
    tap: FilterTap
    chain: str
    pipe: Pipe


@dataclass
class PassPlan:
    """Everything one run wires up: the streams, taps and PCM pipes behind one command."""

    streams: list[VideoStream] = field(default_factory=list)
    taps: list[PlannedTap] = field(default_factory=list)
    counter: Pipe | None = None
    pcm: Pipe | None = None
    native: Pipe | None = None
    native_rate: int = 0

    def pipes(self) -> list[Pipe]:
        out = [s.pipe for s in self.streams] + [t.pipe for t in self.taps]
        out += [p for p in (self.counter, self.pcm, self.native) if p is not None]
        return out


def plan_pass(dp: DecodePass, analyzers: Sequence[StreamConsumer], cache: AnalysisCacheWriter | None) -> PassPlan:
    """The streams, taps and pipes for the live analyzers; a tap whose chain cannot be built cuts its analyzer off."""
    plan = PassPlan()
    live = [a for a in analyzers if not a.needs.cache and a.failure is None]
    if dp.probe.has_video:
        by_spec: dict[StreamSpec, VideoStream] = {}
        for a in live:
            for needs, hook in ((a.needs.frames, a.on_frame), (a.needs.stills, a.on_still)):
                if needs is None:
                    continue
                spec = dp.stream_spec(needs)
                if spec not in by_spec:
                    by_spec[spec] = VideoStream(spec, Pipe.open())
                by_spec[spec].users.append((a, hook))
        # Every-frame streams first: the first one counts frames and reports progress.
        plan.streams = sorted(by_spec.values(), key=lambda s: s.spec.step is not None)
    channels = dp.probe.audio_channels
    for a in live:
        taps = [
            t
            for t in a.needs.filters
            if (t.media == "video" and dp.probe.has_video) or (t.media == "audio" and channels)
        ]
        try:
            chains = [a.filter_chain(t.name) for t in taps]
        except Exception as e:  # a bad chain costs its analyzer, not the pass
            a.failure = f"{type(e).__name__}: {e}"
            continue
        plan.taps += [PlannedTap(a, t, chain, Pipe.open()) for t, chain in zip(taps, chains, strict=True)]
    video_taps = any(t.tap.media == "video" for t in plan.taps)
    if (plan.streams or video_taps) and not any(s.spec.step is None for s in plan.streams):
        # Something must count every frame: sampled streams skip some, and taps
        # need the end of the clip to close what is still open there.
        plan.counter = Pipe.open()
    if channels:
        audio_taps = any(t.tap.media == "audio" for t in plan.taps)
        pass_rate = any(a.needs.audio is not None and not a.needs.audio.native for a in live)
        if pass_rate or cache is not None or audio_taps:
            plan.pcm = Pipe.open()
        if any(a.needs.audio is not None and a.needs.audio.native for a in live):
            plan.native = Pipe.open()
            plan.native_rate = dp.native_rate
    return plan
