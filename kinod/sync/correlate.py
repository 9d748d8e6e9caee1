"""Cross-correlation by FFT: coarse on envelopes, fine on full-rate sound, and how sure each is.

Confidence is the height of the best peak against the best one elsewhere (outside
:data:`PEAK_EXCLUSION_S` of it): two recordings of one event give one peak that stands
alone; a different take of similar speech gives several of about the same height. A
ratio says that regardless of level, microphone or length, which a raw correlation
value would not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinod.sync.audio import ENVELOPE_RATE, Envelope

#: Peaks closer than this to the best one are its own shoulders, not a rival.
PEAK_EXCLUSION_S = 0.5
#: The fine stage's band (Hz): below, rumble; above, what a camera microphone lost.
FINE_BAND = (150.0, 6000.0)


@dataclass
class CoarseMatch:
    #: Recorder time minus camera time for one event (seconds): ``-offset``.
    lag_s: float
    #: Normalised correlation at the peak (about 1 for the same sound through the same mic).
    peak: float
    #: 1 - rival/peak: 0 when another lag fits as well, towards 1 when none does.
    confidence: float


def _fft_xcorr(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    """r[k] = sum_i a[i] * b[i + k] for k from -(len(a)-1) to len(b)-1; returns (r, index of k=0)."""
    n = 1 << int(np.ceil(np.log2(a.size + b.size - 1)))
    r = np.fft.irfft(np.conj(np.fft.rfft(a, n)) * np.fft.rfft(b, n), n)
    # Negative lags wrap to the end of the circular result: rotate them in front.
    full = np.concatenate([r[n - (a.size - 1) :], r[: b.size]]) if a.size > 1 else r[: b.size]
    return full, a.size - 1


def coarse_match(cam: Envelope, rec: Envelope, min_overlap_s: float = 3.0) -> CoarseMatch | None:
    """Where the camera's envelope fits best in the recorder's; None when they cannot overlap enough."""
    if not (cam.usable and rec.usable):
        return None
    a, b = cam.values.astype(np.float64), rec.values.astype(np.float64)
    r, zero = _fft_xcorr(a, b)
    lags = np.arange(r.size) - zero
    overlap = np.minimum(a.size, b.size - lags) - np.maximum(0, -lags)
    min_overlap = min(int(min_overlap_s * ENVELOPE_RATE), a.size, b.size)
    r = np.where(overlap >= min_overlap, r, 0.0) / min(a.size, b.size)
    best = int(np.argmax(r))
    peak = float(r[best])
    if peak <= 0:
        return None
    excl = int(PEAK_EXCLUSION_S * ENVELOPE_RATE)
    rest = np.concatenate([r[: max(0, best - excl)], r[best + excl + 1 :]])
    rival = float(rest.max()) if rest.size else 0.0
    confidence = 1.0 - max(0.0, rival) / peak
    return CoarseMatch(lag_s=float(lags[best]) / ENVELOPE_RATE, peak=peak, confidence=confidence)


@dataclass
class FineMatch:
    #: Samples into the recorder window where the camera window begins.
    lag: int
    confidence: float


def fine_match(cam: np.ndarray, rec: np.ndarray, rate: int) -> FineMatch | None:
    """Where ``cam`` (a few seconds) sits inside the slightly longer ``rec``, to the sample.

    Phase-transform weighting (GCC-PHAT) whitens both spectra, so the camera
    microphone's colour and the room's reverberation do not pull the peak: only the
    timing of what both heard counts.
    """
    if cam.size == 0 or rec.size < cam.size:
        return None
    n = 1 << int(np.ceil(np.log2(cam.size + rec.size)))
    spec = np.conj(np.fft.rfft(cam, n)) * np.fft.rfft(rec, n)
    freqs = np.fft.rfftfreq(n, 1 / rate)
    spec[(freqs < FINE_BAND[0]) | (freqs > min(FINE_BAND[1], rate / 2.2))] = 0
    spec /= np.abs(spec) + 1e-12
    r = np.fft.irfft(spec, n)[: rec.size - cam.size + 1]
    best = int(np.argmax(r))
    peak = float(r[best])
    if peak <= 0:
        return None
    excl = max(1, int(0.002 * rate))
    rest = np.concatenate([r[: max(0, best - excl)], r[best + excl + 1 :]])
    rival = float(rest.max()) if rest.size else 0.0
    return FineMatch(lag=best, confidence=1.0 - max(0.0, rival) / peak)
