"""Placing one recorder take against one camera clip: rough from envelopes, exact from a short window.

All positions are integer recorder samples, so a waveform offset and a timecode offset
are the same kind of number and compare exactly. The camera's window is decoded at the
recorder's own rate (44.1 kHz, 48 kHz, a 48.048 kHz pull-up alike), so no rate
conversion ever enters the offset.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from kinod.export.sync_model import PictureClip, SoundFile
from kinod.sync.audio import AudioReadError, EnvelopeCache, decode_mono
from kinod.sync.correlate import CoarseMatch, coarse_match, fine_match

#: Seconds of camera sound compared at full rate.
FINE_WINDOW_S = 6.0
#: How far the fine stage looks either side of the coarse offset.
FINE_MARGIN_S = 0.25
#: Shortest overlap on which drift is measured (a start and an end window, well apart).
DRIFT_MIN_OVERLAP_S = 20.0
#: How far the start and end windows may land from the offset and still agree with it:
#: a few samples of jitter, plus what a free-running clock drifts over the span.
AGREE_S = 0.002
MAX_DRIFT_PPM = 100.0
#: A check window whose full-rate peak stands less clear than this of its next-best found nothing.
MIN_WINDOW_CONFIDENCE = 0.2


@dataclass
class Placement:
    offset_samples: int
    coarse: CoarseMatch | None
    fine_confidence: float
    drift_ppm: float | None = None


class Aligner:
    def __init__(self, ffmpeg: str, envelopes: EnvelopeCache) -> None:
        self.ffmpeg = ffmpeg
        self.envelopes = envelopes
        self.fine_decodes = 0

    def coarse(self, picture: PictureClip, sound: SoundFile) -> CoarseMatch | None:
        """The rough offset of ``sound`` against ``picture``'s scratch track, or None."""
        if not picture.audio_channels or not sound.samples:
            return None
        try:
            cam = self.envelopes.get(Path(picture.path))
            rec = self.envelopes.get(Path(sound.path))
        except AudioReadError:
            return None
        return coarse_match(cam, rec)

    def place(self, picture: PictureClip, sound: SoundFile, coarse: CoarseMatch) -> Placement | None:
        """The offset to the sample near the coarse one, or None when the full-rate peak is not there."""
        sr = sound.sample_rate
        rough = -round(coarse.lag_s * sr)
        found = self.refine_at(picture, sound, rough, None)
        if found is None:
            return None
        offset, conf = found
        return Placement(offset, coarse, conf)

    def refine_at(
        self, picture: PictureClip, sound: SoundFile, rough: int, at_s: float | None, window_s: float = FINE_WINDOW_S
    ) -> tuple[int, float] | None:
        """(exact offset, fine confidence) near ``rough`` from a window at camera time ``at_s`` (None: middle)."""
        sr = sound.sample_rate
        lo, hi = _overlap_s(picture, sound, rough)
        window = min(window_s, hi - lo - 2 * FINE_MARGIN_S)
        if window < 1.0:
            return None
        start = (lo + hi - window) / 2 if at_s is None else min(max(lo, at_s), hi - window)
        c0 = round(start * sr)
        margin = round(FINE_MARGIN_S * sr)
        r0 = max(0, c0 - rough - margin)
        # The two windows are read side by side: each is mostly ffmpeg starting and seeking.
        with ThreadPoolExecutor(max_workers=2) as pool:
            cam_f = pool.submit(decode_mono, self.ffmpeg, Path(picture.path), sr, c0 / sr, window)
            rec_f = pool.submit(decode_mono, self.ffmpeg, Path(sound.path), sr, r0 / sr, window + 2 * FINE_MARGIN_S)
            try:
                cam, rec = cam_f.result(), rec_f.result()
            except AudioReadError:
                return None
        self.fine_decodes += 1
        fine = fine_match(cam, rec, sr)
        if fine is None:
            return None
        return c0 - (r0 + fine.lag), fine.confidence

    def verify(self, picture: PictureClip, sound: SoundFile, offset: int) -> tuple[bool, float | None]:
        """(both ends agree, drift in ppm): the offset checked again near the start and the end.

        One stretch that happens to match (a line said the same way in another take,
        the same music) places the middle but not both ends: their full-rate peaks land
        elsewhere, and the pair is not to be trusted. Where both ends agree, their
        difference over the span between them is the clock drift (on long overlaps).
        """
        if not picture.audio_channels or not sound.samples:
            return True, None
        lo, hi = _overlap_s(picture, sound, offset)
        w = min(FINE_WINDOW_S, (hi - lo) / 3)
        if w < 2.0:
            return True, None  # too short to check twice; the middle window stands alone
        first = self.refine_at(picture, sound, offset, lo + FINE_MARGIN_S, w)
        last = self.refine_at(picture, sound, offset, hi - w - FINE_MARGIN_S, w)
        if first is None or last is None or min(first[1], last[1]) < MIN_WINDOW_CONFIDENCE:
            return False, None
        span = (hi - w - FINE_MARGIN_S) - (lo + FINE_MARGIN_S)
        tolerance = sound.sample_rate * (AGREE_S + span * MAX_DRIFT_PPM / 1e6)
        agree = abs(first[0] - offset) <= tolerance and abs(last[0] - offset) <= tolerance
        if not agree or hi - lo < DRIFT_MIN_OVERLAP_S:
            return agree, None
        return True, (last[0] - first[0]) / (span * sound.sample_rate) * 1e6


def _overlap_s(picture: PictureClip, sound: SoundFile, offset: int) -> tuple[float, float]:
    """Camera-time span where both recorded, for recorder start = camera start + ``offset`` samples."""
    off_s = offset / sound.sample_rate
    return max(0.0, off_s), min(float(picture.duration_s), off_s + float(sound.duration_s))
