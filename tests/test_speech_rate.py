"""Speech hears 16 kHz whatever ``media.audio_rate`` the analysis cache was written at."""

from __future__ import annotations

import numpy as np
import pytest

from kinod.analyzers.speech.analyzer import to_model_rate


def _tone(rate: int, hz: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.sin(2 * np.pi * hz * t).astype(np.float32)


def _peak_hz(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[int(np.argmax(spec))])


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000, 8000])
def test_cache_audio_is_brought_to_16_khz(rate: int) -> None:
    out = to_model_rate(_tone(rate, 440.0), rate)
    assert out.dtype == np.float32 and abs(out.size - 16000) <= 1
    assert abs(_peak_hz(out, 16000) - 440.0) < 3.0
    if rate == 16000:
        assert np.array_equal(out, _tone(rate, 440.0))


def test_content_above_8_khz_does_not_fold_into_the_voice_band() -> None:
    out = to_model_rate(_tone(48000, 12000.0), 48000)  # would alias to 4 kHz
    assert float(np.sqrt(np.mean(out**2))) < 0.05
