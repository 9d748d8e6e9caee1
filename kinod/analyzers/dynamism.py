"""Dynamism: is the clip static or dynamic, the way large video datasets sort clips.

The rule (as used to filter static footage out of video datasets): split the clip
into ``segment_seconds`` segments, run freeze detection in each with a loose noise
tolerance (``noise`` 0.05) and a long minimum (``min_freeze_seconds`` 50 s), and call
the clip static when at least ``static_ratio`` (40 %) of the segments contain such a
freeze. The per-segment facts, the ratio and the verdict are all recorded, so a
different policy can be applied later without decoding again.

freezedetect runs once over the whole clip as a filter tap in the one decode pass,
and each freeze is then cut at the segment boundaries: a segment contains a freeze
when the part of one inside it lasts ``min_freeze_seconds``, which is what running
the detector on that segment alone would find. A segment shorter than
``min_freeze_seconds`` (the clip's tail) cannot hold such a freeze, so it is not
judged; a clip with no judged segment is "undetermined".
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kinod.analyzers.base import (
    AnalyzerConfig,
    ClipInfo,
    FilterEvent,
    FilterTap,
    Marker,
    Needs,
    Resources,
    Result,
    StreamAnalyzer,
    StreamEnd,
)
from kinod.analyzers.intervals import FREEZE_END, FREEZE_START, EventIntervals, feed_frame_events, intersect


class DynamismConfig(AnalyzerConfig):
    #: Length of the segments the clip is judged in, in seconds.
    segment_seconds: float = Field(60.0, gt=0)
    #: freezedetect noise tolerance (share of full range) for "no change".
    noise: float = Field(0.05, gt=0, lt=1)
    #: A segment contains a freeze when one lasts this long inside it, in seconds.
    min_freeze_seconds: float = Field(50.0, gt=0)
    #: The clip is static when at least this share of judged segments contain a freeze.
    static_ratio: float = Field(0.4, gt=0, le=1)


class DynamismAnalyzer(StreamAnalyzer):
    name = "dynamism"
    version = "1"
    needs = Needs(filters=(FilterTap("freezedetect", "video"),))
    resources = Resources(cpu=1, ram_mb=64)
    Config = DynamismConfig

    config: DynamismConfig

    def filter_chain(self, tap: str) -> str:
        return f"freezedetect=n={self.config.noise:g}:d={self.config.min_freeze_seconds:g}"

    def start(self, clip: ClipInfo) -> None:
        self.clip = clip
        self.frozen: EventIntervals[int] = EventIntervals()
        self.frames = 0

    def on_filter(self, event: FilterEvent) -> None:
        feed_frame_events(self.frozen, event, FREEZE_START, FREEZE_END)

    def on_end(self, end: StreamEnd) -> None:
        self.frames = end.frames

    def finish(self) -> Result:
        self.raise_if_failed()
        c, rate, frames = self.config, self.clip.rate, self.frames
        if not self.clip.probe.has_video or frames == 0:
            return Result(summary={"verdict": "undetermined", "segments": 0}, warnings=["the clip has no picture"])
        freezes = self.frozen.close(frames)
        seg_frames = max(1, round(c.segment_seconds * rate))
        need = c.min_freeze_seconds * rate - 1e-9
        items: list[dict[str, Any]] = []
        for n, s in enumerate(range(0, frames, seg_frames)):
            e = min(frames, s + seg_frames)
            inside = intersect(freezes, [(s, e)])
            longest = max((b - a for a, b in inside), default=0)
            judged = (e - s) >= need
            items.append(
                {
                    "index": n,
                    "start_frame": s,
                    "end_frame": e,
                    "judged": judged,
                    "longest_freeze_s": round(float(longest / rate), 3),
                    "has_freeze": judged and longest >= need,
                }
            )
        judged = [i for i in items if i["judged"]]
        with_freeze = sum(1 for i in judged if i["has_freeze"])
        ratio = with_freeze / len(judged) if judged else None
        verdict: Literal["static", "dynamic", "undetermined"] = "undetermined"
        if ratio is not None:
            verdict = "static" if ratio >= c.static_ratio else "dynamic"
        markers = []
        if verdict == "static":
            markers.append(
                Marker(
                    category="tag",
                    frame=0,
                    name="Static clip",
                    comment=(
                        f"dynamism: {with_freeze} of {len(judged)} segments hold a {c.min_freeze_seconds:g} s freeze"
                    ),
                )
            )
        return Result(
            items=items,
            summary={
                "verdict": verdict,
                "segments": len(items),
                "judged_segments": len(judged),
                "segments_with_freeze": with_freeze,
                "freeze_ratio": round(ratio, 4) if ratio is not None else None,
                "frames_seen": frames,
            },
            markers=markers,
        )
