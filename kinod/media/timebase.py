"""A clip's timeline: frame indices to seconds and to source timecode.

Results are kept as frame indices; seconds and timecode labels are derived from this
at the edge (sidecar, exports, pages), so a corrected start timecode relabels everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from kinod.media.probe import Probe
from kinod.media.timecode import frames_to_tc


@dataclass(frozen=True)
class TimeBase:
    """Converts frames of a clip's timeline to seconds and source timecode."""

    rate: Fraction
    start_tc_frames: int = 0
    drop_frame: bool = False

    def seconds(self, frame: int) -> float:
        return round(float(frame / self.rate), 6)

    def tc(self, frame: int) -> str:
        return frames_to_tc(self.start_tc_frames + frame, self.rate, self.drop_frame)

    @classmethod
    def from_probe(cls, probe: Probe) -> TimeBase:
        return cls(probe.timeline_rate, probe.start_tc_frames, probe.drop_frame)
