"""Which recorder take belongs to which camera clip, strongest evidence first.

1. Timecode: the take's bext start and length overlap the clip's start TC and length;
   the offset is exact from the two start times (samples), and drift is measured by
   waveform at the start and the end when both have sound.
2. Slate: the take's iXML scene/take equals the clip's slate (OCR, else its name);
   the offset comes from the waveform within that one pair.
3. Waveform: the clip's scratch track against every remaining take on coarse
   envelopes (cheap: all pairs), then the best few at full rate (dear: few pairs).

A waveform pair whose peak does not stand clear of the next-best is reported as
``uncertain`` with its offset, never attached as synced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kinod.export.sync_model import PictureClip, SoundFile, SoundMatch, SyncedClip
from kinod.sync.align import Aligner
from kinod.sync.correlate import CoarseMatch
from kinod.sync.sources import same_slate


@dataclass(frozen=True)
class Thresholds:
    #: Coarse peak against the next-best (1 - rival/peak) below which a pair is uncertain.
    confidence: float = 0.25
    #: Normalised coarse correlation below which two sounds are not the same event.
    min_peak: float = 0.2
    #: Full-rate peak against the next-best below which the exact offset is not trusted.
    fine_confidence: float = 0.1
    #: Takes per clip that reach the full-rate stage.
    candidates: int = 3


@dataclass
class PairingStats:
    coarse_pairs: int = 0
    fine_pairs: int = 0
    by_method: dict[str, int] = field(default_factory=dict)


Progress = Callable[[str], None]


class Pairer:
    def __init__(self, aligner: Aligner, thresholds: Thresholds = Thresholds(), measure_drift: bool = True) -> None:
        self.aligner = aligner
        self.t = thresholds
        self.measure_drift = measure_drift
        self.stats = PairingStats()

    def pair(
        self, pictures: list[PictureClip], sounds: list[SoundFile], progress: Progress | None = None
    ) -> list[SyncedClip]:
        usable = [s for s in sounds if s.samples and s.sample_rate]
        out: list[SyncedClip] = []
        for p in pictures:
            clip = SyncedClip(p)
            try:
                match = self._by_timecode(p, usable) or self._by_slate(p, usable) or self._by_waveform(p, usable)
            except Exception as e:  # one clip's failure is its own result, never the day's
                clip.unsynced_reason = f"sync failed: {type(e).__name__}: {e}"
                out.append(clip)
                continue
            if match is not None:
                clip.matches.append(match)
                self.stats.by_method[match.method] = self.stats.by_method.get(match.method, 0) + 1
            clip.unsynced_reason = _why_unsynced(p, match, usable)
            out.append(clip)
            if progress:
                progress(p.name)
        return out

    def _by_timecode(self, p: PictureClip, sounds: list[SoundFile]) -> SoundMatch | None:
        if not p.has_timecode:
            return None
        best: tuple[float, SoundFile] | None = None
        for s in sounds:
            start = s.start_s
            if start is None:
                continue
            overlap = min(p.start_s + p.duration_s, start + s.duration_s) - max(p.start_s, start)
            if overlap > 0 and (best is None or overlap > best[0]):
                best = (float(overlap), s)
        if best is None:
            return None
        s = best[1]
        assert s.time_reference is not None
        offset = s.time_reference - round(p.start_s * s.sample_rate)
        drift = self.aligner.verify(p, s, offset)[1] if self.measure_drift else None
        return SoundMatch(s, offset, "timecode", 1.0, drift_ppm=drift)

    def _by_slate(self, p: PictureClip, sounds: list[SoundFile]) -> SoundMatch | None:
        named = [s for s in sounds if same_slate(p.scene, p.take, s.scene, s.take)]
        if not named:
            return None
        s = named[0]
        note = f"slate {p.scene}/{p.take} ({p.slate_source}) = iXML scene/take"
        coarse = self.aligner.coarse(p, s)
        self.stats.coarse_pairs += 1
        if coarse is None:
            return SoundMatch(s, 0, "slate", 0.0, "uncertain", note=note + "; no sound to align by")
        match = self._exact(p, s, coarse, "slate", note)
        if match.status != "synced":
            match.note += "; slate matched but the waveforms did not agree"
        return match

    def _by_waveform(self, p: PictureClip, sounds: list[SoundFile]) -> SoundMatch | None:
        ranked: list[tuple[SoundFile, CoarseMatch]] = []
        for s in sounds:
            coarse = self.aligner.coarse(p, s)
            self.stats.coarse_pairs += 1
            if coarse is not None:
                ranked.append((s, coarse))
        ranked.sort(key=lambda r: -r[1].peak)
        best: SoundMatch | None = None
        for i, (s, coarse) in enumerate(ranked[: self.t.candidates]):
            if coarse.peak < self.t.min_peak * 0.5:
                break
            # Another take that fits nearly as well is a rival too: the clip is then uncertain.
            rival = max((c.peak for j, (_s, c) in enumerate(ranked) if j != i), default=0.0)
            coarse.confidence = min(coarse.confidence, 1.0 - rival / coarse.peak)
            match = self._exact(p, s, coarse, "waveform", "")
            if match.status == "synced":
                return match
            best = best or match
        return best

    def _exact(self, p: PictureClip, s: SoundFile, coarse: CoarseMatch, method: str, note: str) -> SoundMatch:
        """Refine a coarse pair to the sample; say "uncertain" when either stage is not sure."""
        self.stats.fine_pairs += 1
        rough = -round(coarse.lag_s * s.sample_rate)
        placed = self.aligner.place(p, s, coarse)
        offset, fine_conf = (placed.offset_samples, placed.fine_confidence) if placed else (rough, 0.0)
        sure = (
            coarse.confidence >= self.t.confidence
            and coarse.peak >= self.t.min_peak
            and placed is not None
            and fine_conf >= self.t.fine_confidence
        )
        why = (
            ""
            if sure
            else f"peak {coarse.peak:.2f}, clear of the next by {coarse.confidence:.2f}, fine {fine_conf:.2f}"
        )
        drift = None
        if sure:
            agree, drift = self.aligner.verify(p, s, offset)
            if not agree:
                sure, why = False, "the start and the end of the overlap do not line up at this offset"
        m = SoundMatch(s, offset, method, coarse.confidence, "synced" if sure else "uncertain")  # type: ignore[arg-type]
        m.note = "; ".join(x for x in (note, why) if x)
        m.drift_ppm = drift if self.measure_drift else None
        return m


def _why_unsynced(p: PictureClip, match: SoundMatch | None, sounds: list[SoundFile]) -> str | None:
    if match is not None and match.status == "synced":
        return None
    if match is not None:
        return f"uncertain: {match.sound.name} ({match.note})"
    if not sounds:
        return "no usable recorder take in scope"
    if not p.audio_channels:
        return "no timecode overlap or slate match, and no scratch audio to compare"
    return "no recorder take overlaps its timecode, matches its slate or its sound"
