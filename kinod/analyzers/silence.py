"""Silence: intervals where every audio channel stays below a level (silencedetect semantics).

We run ffmpeg's silencedetect as a filter tap inside the one decode pass, at the
source's own sample rate, so intervals are sample-accurate: far inside the 10 ms an
editor can hear. silencedetect's rules apply: silence is when all channels stay at or
below ``noise_db`` (dBFS), and an interval is reported once it has lasted
``min_duration`` seconds. A silence still running at the end of the clip is closed
there (the filter has no later audio frame to report it on).

Times are on the clip's timeline (video frame 0 is 0 s; audio that starts before the
picture is shifted the same way as the PCM the pass hands to analyzers), kept to the
0.1 ms with the nearest frame beside them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kinod.analyzers.base import (
    AnalyzerConfig,
    ClipInfo,
    FilterEvent,
    FilterTap,
    Marker,
    MarkerCategorySpec,
    Needs,
    Resources,
    Result,
    StreamAnalyzer,
    StreamEnd,
)
from kinod.analyzers.intervals import EventIntervals


class SilenceConfig(AnalyzerConfig):
    #: Level in dBFS at or below which a sample is silent (silencedetect ``n``).
    noise_db: float = Field(-60.0, le=0)
    #: Shortest silence reported, in seconds (silencedetect ``d``).
    min_duration: float = Field(2.0, gt=0)


class SilenceAnalyzer(StreamAnalyzer):
    name = "silence"
    version = "1"
    needs = Needs(filters=(FilterTap("silencedetect", "audio"),))
    resources = Resources(cpu=1, ram_mb=64)
    Config = SilenceConfig
    marker_categories = (MarkerCategorySpec("silence", "WHITE", "Silence", order=40),)

    config: SilenceConfig

    def filter_chain(self, tap: str) -> str:
        return silencedetect_chain(self.config.noise_db, self.config.min_duration)

    def start(self, clip: ClipInfo) -> None:
        self.clip = clip
        self.runs: EventIntervals[float] = EventIntervals()
        self.audio_seconds = 0.0

    def on_filter(self, event: FilterEvent) -> None:
        feed_silence(self.runs, event)

    def on_end(self, end: StreamEnd) -> None:
        self.audio_seconds = end.audio_seconds

    def finish(self) -> Result:
        self.raise_if_failed()
        if not self.clip.probe.audio_channels:
            return Result(summary={"intervals": 0, "has_audio": False}, warnings=["the clip has no sound"])
        rate = self.clip.rate
        intervals = [(max(0.0, s), e) for s, e in self.runs.close(self.audio_seconds) if e > 0]
        items: list[dict[str, Any]] = []
        markers: list[Marker] = []
        for s, e in intervals:
            start_frame, end_frame = round(s * rate), max(round(s * rate), round(e * rate))
            items.append(
                {
                    "start_frame": start_frame,
                    "end_frame": end_frame,
                    "start_s": round(s, 4),
                    "end_s": round(e, 4),
                    "duration_s": round(e - s, 4),
                }
            )
            markers.append(
                Marker(
                    category="silence",
                    frame=start_frame,
                    duration_frames=end_frame - start_frame,
                    name="Silence",
                    comment=f"silence: {e - s:.2f} s below {self.config.noise_db:g} dBFS",
                )
            )
        total = sum(e - s for s, e in intervals)
        return Result(
            items=items,
            summary={
                "intervals": len(items),
                "silence_s": round(total, 3),
                "silence_ratio": round(total / self.audio_seconds, 4) if self.audio_seconds else 0.0,
                "audio_s": round(self.audio_seconds, 3),
            },
            markers=markers,
        )


def silencedetect_chain(noise_db: float, min_duration: float) -> str:
    return f"silencedetect=n={noise_db:g}dB:d={min_duration:g}"


def feed_silence(runs: EventIntervals[float], event: FilterEvent) -> None:
    """Turn silencedetect's metadata into interval events (shared with inactivity)."""
    start = event.values.get("lavfi.silence_start")
    end = event.values.get("lavfi.silence_end")
    runs.feed(
        event.clip_seconds(start) if start is not None else None,
        event.clip_seconds(end) if end is not None else None,
    )
