"""Black: intervals of black picture, with ffmpeg blackdetect's semantics.

blackdetect is what users already run (``-vf blackdetect``) and what post houses
quote in their QC specs, so we run it rather than imitate it: as a filter tap inside
the one decode pass, on the picture point-scaled to 256 px wide (decimation
keeps every sampled pixel's own value, so the share of black pixels is the full
picture's). A frame is black when at least ``picture_threshold`` of its pixels have
luma at or below ``pixel_threshold`` of the video range (blackdetect's ``pic_th`` and
``pix_th``); an interval counts when it lasts ``min_duration`` seconds (``d``).

blackdetect reports every black run on the frames themselves, however short; its
``d`` only filters what it logs. We therefore run it with ``d=0`` and apply the
minimum here, and close a run still open at the last frame (black to the end of the
clip), which the filter has no frame left to report on.
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
from kinod.analyzers.intervals import EventIntervals, feed_frame_events


class BlackConfig(AnalyzerConfig):
    #: Shortest black interval reported, in seconds (blackdetect ``d``).
    min_duration: float = Field(2.0, gt=0)
    #: Share of a frame's pixels that must be black for the frame to be black (``pic_th``).
    picture_threshold: float = Field(0.98, gt=0, le=1)
    #: Luma at or below this share of the video range is a black pixel (``pix_th``).
    pixel_threshold: float = Field(0.10, ge=0, le=1)


class BlackAnalyzer(StreamAnalyzer):
    name = "black"
    version = "1"
    needs = Needs(filters=(FilterTap("blackdetect", "video"),))
    resources = Resources(cpu=1, ram_mb=64)
    Config = BlackConfig
    marker_categories = (MarkerCategorySpec("black", "BLACK", "Black", order=20),)

    config: BlackConfig

    def filter_chain(self, tap: str) -> str:
        c = self.config
        return f"blackdetect=d=0:pic_th={c.picture_threshold}:pix_th={c.pixel_threshold}"

    def start(self, clip: ClipInfo) -> None:
        self.clip = clip
        self.runs: EventIntervals[int] = EventIntervals()
        self.frames = 0

    def on_filter(self, event: FilterEvent) -> None:
        feed_frame_events(self.runs, event, "lavfi.black_start", "lavfi.black_end")

    def on_end(self, end: StreamEnd) -> None:
        self.frames = end.frames

    def finish(self) -> Result:
        self.raise_if_failed()
        rate = self.clip.rate
        if not self.clip.probe.has_video:
            return Result(summary={"intervals": 0, "has_video": False}, warnings=["the clip has no picture"])
        min_frames = self.config.min_duration * rate
        intervals = [(s, e) for s, e in self.runs.close(self.frames) if e - s >= min_frames - 1e-9]
        items: list[dict[str, Any]] = []
        markers: list[Marker] = []
        for s, e in intervals:
            seconds = round(float((e - s) / rate), 3)
            items.append({"start_frame": s, "end_frame": e, "duration_s": seconds})
            markers.append(
                Marker(
                    category="black",
                    frame=s,
                    duration_frames=e - s,
                    name="Black",
                    comment=f"black: {seconds:.2f} s below {self.config.pixel_threshold:g} of range",
                )
            )
        total = sum(e - s for s, e in intervals)
        return Result(
            items=items,
            summary={
                "intervals": len(items),
                "black_s": round(float(total / rate), 3),
                "black_ratio": round(total / self.frames, 4) if self.frames else 0.0,
                "starts_black": bool(intervals and intervals[0][0] == 0),
                "ends_black": bool(intervals and intervals[-1][1] >= self.frames),
                "frames_seen": self.frames,
            },
            markers=markers,
        )
