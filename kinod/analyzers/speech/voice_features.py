"""Voice features for speaker turns: MFCC frames, median pitch, and their running statistics.

Split from :mod:`kinod.analyzers.speech.speakers` (the ``mfcc`` backend and the card-level
linking use these). numpy only: a 40-band mel filterbank from 60 Hz to 7.6 kHz, 19
cepstra (c0 is left out: loudness says more about distance to the mic than about the
voice), and F0 by normalised autocorrelation. :class:`VoiceStats` keeps sums so that
merging two clusters, or two clips' speakers, is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

RATE = 16000
N_FFT = 512
WIN = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
N_CEPS = 19  # c1..c19; c0 (loudness) says more about distance to the mic than about the voice


def _mel_filterbank() -> np.ndarray:
    def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    mels = np.linspace(hz_to_mel(60.0), hz_to_mel(7600.0), N_MELS + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    bins = np.floor((N_FFT + 1) * hz / RATE).astype(int)
    fb = np.zeros((N_MELS, N_FFT // 2 + 1), dtype=np.float32)
    for m in range(1, N_MELS + 1):
        lo, mid, hi = bins[m - 1], bins[m], bins[m + 1]
        for k in range(lo, mid):
            fb[m - 1, k] = (k - lo) / max(mid - lo, 1)
        for k in range(mid, hi):
            fb[m - 1, k] = (hi - k) / max(hi - mid, 1)
    return fb


_FB = _mel_filterbank()
_DCT = np.sqrt(2.0 / N_MELS) * np.cos(
    np.pi / N_MELS * (np.arange(N_MELS)[None, :] + 0.5) * np.arange(1, N_CEPS + 1)[:, None]
).astype(np.float32)
_WINDOW = np.hamming(WIN).astype(np.float32)
_PITCH_FRAME = 640  # 40 ms: two periods at 60 Hz
_PITCH_WINDOW = np.hanning(_PITCH_FRAME).astype(np.float32)


def _frames(signal: np.ndarray, size: int, hop: int = HOP) -> np.ndarray:
    n = 1 + (signal.shape[0] - size) // hop
    idx = np.arange(size)[None, :] + hop * np.arange(n)[:, None]
    return signal[idx]


def mfcc_frames(signal: np.ndarray) -> np.ndarray:
    """MFCC frames (n, 19) of a mono 16 kHz signal, frames more than 30 dB below the loud ones dropped."""
    if signal.shape[0] < WIN:
        return np.zeros((0, N_CEPS), dtype=np.float32)
    x = np.append(signal[0], signal[1:] - 0.97 * signal[:-1]).astype(np.float32)
    power = np.abs(np.fft.rfft(_frames(x, WIN) * _WINDOW, N_FFT)) ** 2
    energy = 10 * np.log10(power.sum(axis=1) + 1e-10)
    keep = energy > max(float(np.percentile(energy, 95)) - 30.0, -50.0)
    logmel = np.log(power[keep] @ _FB.T + 1e-8)
    return (logmel @ _DCT.T).astype(np.float32)


def pitch_hz(signal: np.ndarray, fmin: float = 60.0, fmax: float = 400.0) -> np.ndarray:
    """F0 of the voiced frames (normalised autocorrelation, 40 ms frames, 20 ms hop: a median needs no more)."""
    if signal.shape[0] < _PITCH_FRAME:
        return np.zeros(0, dtype=np.float32)
    fr = _frames(signal.astype(np.float32), _PITCH_FRAME, 2 * HOP)
    fr = fr - fr.mean(axis=1, keepdims=True)
    energy = np.square(fr).sum(axis=1)
    fr = fr[energy > max(float(np.percentile(energy, 95)) * 10**-2.5, 1e-6)] * _PITCH_WINDOW
    if fr.shape[0] == 0:
        return np.zeros(0, dtype=np.float32)
    # 1024 >= frame + longest lag (640 + 267): the circular autocorrelation does not wrap.
    ac = np.fft.irfft(np.abs(np.fft.rfft(fr, 1024)) ** 2)[:, :_PITCH_FRAME]
    ac = ac / np.maximum(ac[:, :1], 1e-9)
    lo, hi = int(RATE / fmax), int(RATE / fmin)
    band = ac[:, lo:hi]
    peak = band.max(axis=1)
    # The shortest lag within 90 % of the best peak: the period, not a multiple of it.
    lag = lo + (band >= 0.9 * peak[:, None]).argmax(axis=1)
    return (RATE / lag[peak > 0.6]).astype(np.float32)


@dataclass
class VoiceStats:
    """What the mfcc backend knows of a voice: MFCC frame statistics and median pitch.

    Kept as sums so that merging two clusters (or two clips' speakers) is exact for the
    MFCC part; the pitch of a merged cluster is the frame-weighted mean of the medians.
    """

    n: float
    s1: np.ndarray
    s2: np.ndarray
    pitch_st: float | None  # median F0 in semitones above 100 Hz; None when unvoiced
    pitch_n: float

    @classmethod
    def of(cls, signal: np.ndarray) -> VoiceStats:
        f = mfcc_frames(signal).astype(np.float64)
        f0 = pitch_hz(signal)
        pitch = float(12 * np.log2(np.median(f0) / 100.0)) if f0.shape[0] >= 5 else None
        return cls(float(f.shape[0]), f.sum(axis=0), np.square(f).sum(axis=0), pitch, float(f0.shape[0]))

    def mean_var(self) -> tuple[np.ndarray, np.ndarray]:
        mean = self.s1 / max(self.n, 1.0)
        return mean, np.maximum(self.s2 / max(self.n, 1.0) - mean**2, 1e-4)

    def merged(self, other: VoiceStats) -> VoiceStats:
        if self.pitch_st is None or other.pitch_st is None:
            pitch, pn = (self.pitch_st, self.pitch_n) if other.pitch_st is None else (other.pitch_st, other.pitch_n)
        else:
            pn = self.pitch_n + other.pitch_n
            pitch = (self.pitch_st * self.pitch_n + other.pitch_st * other.pitch_n) / pn
        return VoiceStats(self.n + other.n, self.s1 + other.s1, self.s2 + other.s2, pitch, pn)

    def profile(self) -> dict[str, Any]:
        mean, var = self.mean_var()
        return {
            "kind": "mfcc-pitch",
            "frames": int(self.n),
            "mean": rounded(mean),
            "var": rounded(var),
            "pitch_st": None if self.pitch_st is None else round(self.pitch_st, 3),
            "pitch_frames": int(self.pitch_n),
        }

    @classmethod
    def from_profile(cls, profile: dict[str, Any]) -> VoiceStats:
        n = float(profile["frames"])
        mean = np.asarray(profile["mean"], dtype=np.float64)
        var = np.asarray(profile["var"], dtype=np.float64)
        return cls(n, mean * n, (var + mean**2) * n, profile.get("pitch_st"), float(profile.get("pitch_frames", 0)))


def rounded(v: np.ndarray) -> list[float]:
    return [round(float(x), 4) for x in v]
