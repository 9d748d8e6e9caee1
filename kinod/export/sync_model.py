"""What syncing found: picture clips, the sound takes that belong to them, multicam groups.

These values sit in ``export`` (below the package that computes them) because the NLE
writers, the sidecar ``sync`` block and the card report all read them, and none of those
may know how a pair was found. Every offset is an exact count of recorder samples, so a
writer derives seconds (a ``Fraction``) and frames from one number and never rounds twice.

Sign convention, everywhere: ``offset_samples`` is the recorder's start minus the camera's
start, in recorder samples. Negative: the recorder rolled first (the usual case), and the
camera's first frame plays with recorder sample ``-offset_samples``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from kinod.media.timecode import format_rate, frames_to_tc

Method = Literal["timecode", "slate", "waveform"]
Status = Literal["synced", "uncertain"]


@dataclass
class PictureClip:
    """A camera clip as syncing sees it: its time of day, its rate and its scratch audio."""

    path: str
    name: str
    rate: Fraction
    frames: int
    #: Start timecode as a frame count at ``rate`` (0 when the camera wrote none).
    start_frames: int = 0
    drop_frame: bool = False
    has_timecode: bool = False
    audio_rate: int | None = None
    audio_channels: int = 0
    camera: str = ""
    scene: str | None = None
    take: str | None = None
    slate_source: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def start_s(self) -> Fraction:
        return Fraction(self.start_frames) / self.rate

    @property
    def duration_s(self) -> Fraction:
        return Fraction(self.frames) / self.rate

    @property
    def start_tc(self) -> str:
        return frames_to_tc(self.start_frames, self.rate, self.drop_frame)


@dataclass
class SoundFile:
    """A recorder take (one poly file or the first of a split set) and what its bext/iXML say."""

    path: str
    name: str
    sample_rate: int
    channels: int
    samples: int
    #: bext time reference (samples since midnight); None without a usable bext chunk.
    time_reference: int | None = None
    tc_rate: Fraction | None = None
    tc_drop_frame: bool = False
    scene: str | None = None
    take: str | None = None
    tape: str | None = None
    track_names: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def start_s(self) -> Fraction | None:
        if self.time_reference is None or not self.time_reference or not self.sample_rate:
            return None
        return Fraction(self.time_reference, self.sample_rate)

    @property
    def duration_s(self) -> Fraction:
        return Fraction(self.samples, self.sample_rate) if self.sample_rate else Fraction(0)


@dataclass
class SoundMatch:
    """One recorder take attached to one picture clip."""

    sound: SoundFile
    offset_samples: int
    method: Method
    confidence: float
    status: Status = "synced"
    drift_ppm: float | None = None
    note: str = ""

    @property
    def offset_s(self) -> Fraction:
        return Fraction(self.offset_samples, self.sound.sample_rate)

    def offset_frames(self, rate: Fraction) -> Fraction:
        return self.offset_s * rate


@dataclass
class SyncedClip:
    picture: PictureClip
    matches: list[SoundMatch] = field(default_factory=list)
    #: Why no sound was attached (None when one was).
    unsynced_reason: str | None = None

    @property
    def synced(self) -> list[SoundMatch]:
        return [m for m in self.matches if m.status == "synced"]


@dataclass
class Angle:
    picture: PictureClip
    #: Where the angle starts on the group's timeline (seconds, >= 0).
    at_s: Fraction
    method: Method
    confidence: float


@dataclass
class MulticamGroup:
    name: str
    angles: list[Angle]
    #: Recorder takes in the group, with where each starts on the group's timeline.
    sounds: list[tuple[SoundFile, Fraction]] = field(default_factory=list)

    @property
    def rate(self) -> Fraction:
        return self.angles[0].picture.rate

    @property
    def duration_s(self) -> Fraction:
        ends = [a.at_s + a.picture.duration_s for a in self.angles]
        ends += [at + s.duration_s for s, at in self.sounds]
        return max(ends)


def sync_block(clip: SyncedClip, groups: list[MulticamGroup]) -> dict[str, Any]:
    """The sidecar's ``sync`` block for one picture clip (schema 1.1)."""
    rate = clip.picture.rate
    block: dict[str, Any] = {
        "rate": format_rate(rate),
        "sounds": [_match_record(m, rate) for m in clip.matches],
        "unsynced_reason": clip.unsynced_reason,
        "multicam": None,
    }
    for g in groups:
        for a in g.angles:
            if a.picture.path == clip.picture.path:
                block["multicam"] = {
                    "group": g.name,
                    "angles": len(g.angles),
                    "at_s": float(a.at_s),
                    "at_frames": float(a.at_s * rate),
                    "method": a.method,
                    "confidence": round(a.confidence, 3),
                }
    return block


def _match_record(m: SoundMatch, rate: Fraction) -> dict[str, Any]:
    s = m.sound
    return {
        "path": s.path,
        "name": s.name,
        "status": m.status,
        "method": m.method,
        "offset_samples": m.offset_samples,
        "sample_rate": s.sample_rate,
        "offset_s": float(m.offset_s),
        "offset_frames": round(float(m.offset_frames(rate)), 4),
        "confidence": round(m.confidence, 3),
        "drift_ppm": None if m.drift_ppm is None else round(m.drift_ppm, 2),
        "scene": s.scene,
        "take": s.take,
        "tape": s.tape,
        "track_names": list(s.track_names),
        "note": m.note,
    }
