"""Small interval helpers shared by the signal analyzers (black, freeze, silence, ...).

Intervals are half-open ``(start, end)`` pairs on one axis (frames or seconds), kept
sorted and disjoint. ffmpeg's detectors report an interval as two events (start, then
end); :class:`EventIntervals` pairs them up and closes what is still open at the end
of the clip, which ffmpeg cannot report because no frame is left to carry the news.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from kinod.analyzers.base import FilterEvent

T = TypeVar("T", int, float)


class EventIntervals(Generic[T]):
    """Collects intervals from start/end events in stream order."""

    def __init__(self) -> None:
        self.intervals: list[tuple[T, T]] = []
        self.open_at: T | None = None

    def start(self, at: T) -> None:
        if self.open_at is None:
            self.open_at = at

    def end(self, at: T) -> None:
        if self.open_at is not None:
            if at > self.open_at:
                self.intervals.append((self.open_at, at))
            self.open_at = None

    def feed(self, start: T | None, end: T | None) -> None:
        """Apply one frame's events in time order.

        A detector that reports a start late (freezedetect, once ``d`` has passed)
        can put a run's start and its end on the same frame.
        """
        if start is not None and end is not None and start <= end:
            self.start(start)
            self.end(end)
            return
        if end is not None:
            self.end(end)
        if start is not None:
            self.start(start)

    def close(self, at: T) -> list[tuple[T, T]]:
        """Close an interval still open at the end of the stream; returns all intervals."""
        self.end(at)
        return self.intervals


def intersect(a: Sequence[tuple[T, T]], b: Sequence[tuple[T, T]]) -> list[tuple[T, T]]:
    """The parts covered by both lists (each sorted and disjoint)."""
    out: list[tuple[T, T]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def merge(intervals: Iterable[tuple[T, T]], gap: T) -> list[tuple[T, T]]:
    """Sorted union, joining intervals separated by at most ``gap``."""
    out: list[tuple[T, T]] = []
    for s, e in sorted(intervals):
        if out and s - out[-1][1] <= gap:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def runs(positions: Sequence[int], flags: Sequence[bool], step: int) -> list[tuple[int, int]]:
    """Intervals of consecutive flagged samples; each sample covers ``step`` frames from its position."""
    out: list[tuple[int, int]] = []
    start: int | None = None
    for pos, flag in zip(positions, flags, strict=True):
        if flag and start is None:
            start = pos
        elif not flag and start is not None:
            out.append((start, pos))
            start = None
    if start is not None and positions:
        out.append((start, positions[-1] + step))
    return out


#: freezedetect's metadata keys (read by freeze, inactivity and dynamism).
FREEZE_START = "lavfi.freezedetect.freeze_start"
FREEZE_END = "lavfi.freezedetect.freeze_end"


def feed_frame_events(runs: EventIntervals[int], event: FilterEvent, start_key: str, end_key: str) -> None:
    """Turn a video detect filter's start/end metadata (blackdetect, freezedetect) into frame events."""
    start = event.values.get(start_key)
    end = event.values.get(end_key)
    runs.feed(
        event.clip_frame(start) if start is not None else None,
        event.clip_frame(end) if end is not None else None,
    )
