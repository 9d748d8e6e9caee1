"""Freeze and inactivity: picture that does not change, and stretches an editor skips.

**Freeze** has ffmpeg freezedetect's semantics, run as a filter tap inside the one
decode pass: frames whose mean absolute difference from the first frame of the run
stays below ``noise`` (a share of the full range; freezedetect's ``n``) for at least
``min_duration`` seconds (``d``). The interval runs from that first frame to the
first frame that differs. The tap sees the picture point-scaled to 256 px wide:
decimation keeps each sampled pixel's own value, so the difference (noise included)
measures what it measures on the full picture.

**Inactive** periods are where neither picture nor sound changes: the picture is
still within a looser ``inactive_noise`` (a locked-off camera on an empty set still
has sensor noise and flicker), *and* the sound stays below ``inactive_silence_db``,
both for ``inactive_min_duration`` seconds. A clip without sound is judged on its
picture alone; after the sound ends, it counts as silent.
"""

from __future__ import annotations

from dataclasses import replace
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
from kinod.analyzers.intervals import FREEZE_END, FREEZE_START, EventIntervals, feed_frame_events, intersect, merge
from kinod.analyzers.silence import feed_silence, silencedetect_chain

FREEZE, STILL, QUIET = "freeze", "still", "quiet"


class FreezeConfig(AnalyzerConfig):
    #: Largest mean absolute difference (share of full range) that still counts as frozen (freezedetect ``n``).
    noise: float = Field(0.001, gt=0, lt=1)
    #: Shortest freeze reported, in seconds (freezedetect ``d``).
    min_duration: float = Field(2.0, gt=0)
    #: Also find inactive periods (still picture and no sound).
    inactive: bool = True
    #: Picture difference (share of full range) below which the picture counts as still.
    inactive_noise: float = Field(0.02, gt=0, lt=1)
    #: Sound at or below this level (dBFS) counts as silent.
    inactive_silence_db: float = Field(-50.0, le=0)
    #: Shortest inactive period reported, in seconds.
    inactive_min_duration: float = Field(10.0, gt=0)


class FreezeAnalyzer(StreamAnalyzer):
    name = "freeze"
    version = "1"
    needs = Needs(filters=(FilterTap(FREEZE, "video"), FilterTap(STILL, "video"), FilterTap(QUIET, "audio")))
    resources = Resources(cpu=1, ram_mb=64)
    Config = FreezeConfig
    marker_categories = (
        MarkerCategorySpec("freeze", "ORANGE", "Freeze", order=30),
        MarkerCategorySpec("inactive", "YELLOW", "Inactive", order=31),
    )

    config: FreezeConfig

    def configure_needs(self, needs: Needs) -> Needs:
        if self.config.inactive:
            return needs
        return replace(needs, filters=tuple(t for t in needs.filters if t.name == FREEZE))

    def filter_chain(self, tap: str) -> str:
        c = self.config
        if tap == FREEZE:
            return f"freezedetect=n={c.noise:g}:d={c.min_duration:g}"
        if tap == STILL:
            return f"freezedetect=n={c.inactive_noise:g}:d={c.inactive_min_duration:g}"
        return silencedetect_chain(c.inactive_silence_db, c.inactive_min_duration)

    def start(self, clip: ClipInfo) -> None:
        self.clip = clip
        self.frozen: EventIntervals[int] = EventIntervals()
        self.still: EventIntervals[int] = EventIntervals()
        self.quiet: EventIntervals[float] = EventIntervals()
        self.end = StreamEnd(0, 0.0)

    def on_filter(self, event: FilterEvent) -> None:
        if event.tap == QUIET:
            feed_silence(self.quiet, event)
            return
        runs = self.frozen if event.tap == FREEZE else self.still
        feed_frame_events(runs, event, FREEZE_START, FREEZE_END)

    def on_end(self, end: StreamEnd) -> None:
        self.end = end

    def finish(self) -> Result:
        self.raise_if_failed()
        if not self.clip.probe.has_video:
            return Result(summary={"freezes": 0, "has_video": False}, warnings=["the clip has no picture"])
        c, rate, frames = self.config, self.clip.rate, self.end.frames
        freezes = self.frozen.close(frames)
        inactive = self._inactive(frames) if c.inactive else []
        items: list[dict[str, Any]] = []
        markers: list[Marker] = []
        for kind, intervals, note in (
            ("freeze", freezes, f"picture change below {c.noise:g}"),
            (
                "inactive",
                inactive,
                f"picture change below {c.inactive_noise:g}, sound below {c.inactive_silence_db:g} dBFS",
            ),
        ):
            for s, e in intervals:
                seconds = round(float((e - s) / rate), 3)
                items.append({"kind": kind, "start_frame": s, "end_frame": e, "duration_s": seconds})
                markers.append(
                    Marker(
                        category="freeze" if kind == "freeze" else "inactive",
                        frame=s,
                        duration_frames=e - s,
                        name="Frozen picture" if kind == "freeze" else "Inactive",
                        comment=f"{kind}: {seconds:.2f} s, {note}",
                    )
                )
        items.sort(key=lambda i: (i["start_frame"], i["kind"]))
        frozen_total = sum(e - s for s, e in freezes)
        inactive_total = sum(e - s for s, e in inactive)
        return Result(
            items=items,
            summary={
                "freezes": len(freezes),
                "frozen_s": round(float(frozen_total / rate), 3),
                "frozen_ratio": round(frozen_total / frames, 4) if frames else 0.0,
                "inactive_periods": len(inactive) if c.inactive else None,
                "inactive_s": round(float(inactive_total / rate), 3) if c.inactive else None,
                "frames_seen": frames,
            },
            markers=markers,
        )

    def _inactive(self, frames: int) -> list[tuple[int, int]]:
        rate = self.clip.rate
        still = self.still.close(frames)
        if self.clip.probe.audio_channels:
            audio_end = self.end.audio_seconds
            quiet_s = self.quiet.close(audio_end)
            if audio_end * rate < frames:
                quiet_s = [*quiet_s, (audio_end, float(frames / rate))]  # no sound after it ends
            quiet = [(max(0, round(s * rate)), round(e * rate)) for s, e in quiet_s]
            still = intersect(still, merge((q for q in quiet if q[1] > q[0]), 0))
        minimum = self.config.inactive_min_duration * rate
        return [(s, e) for s, e in still if e - s >= minimum - 1e-9]
