"""Resampling the analysis cache's audio to the rate the speech models hear."""

from __future__ import annotations

import numpy as np

from kinod.analyzers.base import AnalyzerError
from kinod.analyzers.speech.transcribe import RATE


def to_model_rate(mono: np.ndarray, rate: int) -> np.ndarray:
    """The cache's mono PCM at the 16 kHz the speech models were trained on.

    Why here: the analysis cache is at ``media.audio_rate`` (16 kHz by default, when this
    is a no-op), which a user may raise for other analyzers. Downsampling first low-passes
    with a windowed sinc below the new Nyquist (so nothing above 8 kHz folds into the
    voice band), then interpolates; upsampling only interpolates.
    """
    if rate == RATE or mono.shape[0] == 0:
        return mono
    if rate <= 0:
        raise AnalyzerError(f"speech: the analysis cache says its audio rate is {rate} Hz")
    x = mono.astype(np.float32, copy=False)
    if rate > RATE:
        cutoff = 0.95 * (RATE / 2) / rate  # cycles per input sample
        n = np.arange(-32, 33)
        taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(n.size)
        x = np.convolve(x, (taps / taps.sum()).astype(np.float32), mode="same")
    out_len = round(x.shape[0] * RATE / rate)
    t = np.arange(out_len, dtype=np.float64) * (rate / RATE)
    return np.interp(t, np.arange(x.shape[0], dtype=np.float64), x).astype(np.float32)
