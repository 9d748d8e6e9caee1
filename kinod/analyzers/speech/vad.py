"""Voice activity from the Silero VAD model that the ``silero-vad`` wheel ships (ONNX, MIT).

Why: Whisper's own segments start and end where its text does, often hundreds of
milliseconds off, and silence between two speakers' replies is inside one segment; a
frame-level VAD gives the speech regions the speaker windows are cut from and scores
as diarization measures them. The ONNX file is sha256-checked and run with onnxruntime
(already a dependency); the package is installed with ``--no-deps`` (no torch) and not
imported. Decisions follow the package's ``get_speech_timestamps`` defaults: 32 ms
chunks, speech above 0.5, ends below 0.35, speech under 250 ms and pauses under 100 ms
ignored, 30 ms of padding.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kinod.analyzers.base import ModelMissingError
from kinod.analyzers.weights import cached_sha256, package_dir

RATE = 16000
CHUNK = 512  # 32 ms
CONTEXT = 64  # the model sees the last 64 samples of the previous chunk
DISTRIBUTION = "silero-vad==6.2.3"
ONNX = "data/silero_vad.onnx"
ONNX_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
MODEL = "silero-vad-6.2.3"


def model_path() -> Path:
    root = package_dir("silero_vad")
    path = root / ONNX if root else None
    if path is None or not path.is_file():
        raise ModelMissingError(f"voice activity needs the {DISTRIBUTION} wheel: pip install --no-deps {DISTRIBUTION}")
    got = cached_sha256(path)
    if got != ONNX_SHA256:
        raise ModelMissingError(f"{path}: sha256 mismatch (expected {ONNX_SHA256}, got {got})")
    return path


class SileroVad:
    """Speech probability per 32 ms chunk; one ONNX session per process."""

    _session: ClassVar[Any] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def session(cls) -> Any:
        with cls._lock:
            if cls._session is None:
                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.inter_op_num_threads = 1
                opts.intra_op_num_threads = 1
                cls._session = ort.InferenceSession(
                    str(model_path()), sess_options=opts, providers=["CPUExecutionProvider"]
                )
            return cls._session

    @classmethod
    def probabilities(cls, audio: np.ndarray) -> np.ndarray:
        """One probability per 512-sample chunk of 16 kHz mono ``audio`` (the model is recurrent: in order)."""
        sess = cls.session()
        n = audio.shape[0] // CHUNK
        x = np.concatenate([np.zeros(CONTEXT, np.float32), audio[: n * CHUNK].astype(np.float32)])
        state = np.zeros((2, 1, 128), dtype=np.float32)
        sr = np.array(RATE, dtype=np.int64)
        out = np.empty(n, dtype=np.float32)
        for i in range(n):
            chunk = x[i * CHUNK : (i + 1) * CHUNK + CONTEXT][None, :]
            prob, state = sess.run(None, {"input": chunk, "state": state, "sr": sr})
            out[i] = float(prob[0, 0])
        return out


def speech_regions(
    probs: np.ndarray,
    threshold: float = 0.35,
    min_speech_s: float = 0.25,
    min_silence_s: float = 0.6,
    pad_s: float = 0.03,
) -> list[tuple[float, float]]:
    """(start_s, end_s) speech regions from chunk probabilities, with hysteresis, merged and padded."""
    step = CHUNK / RATE
    low = max(threshold - 0.15, 0.01)
    regions: list[list[float]] = []
    start: float | None = None
    for i, p in enumerate(probs):
        if start is None and p >= threshold:
            start = i * step
        elif start is not None and p < low:
            regions.append([start, i * step])
            start = None
    if start is not None:
        regions.append([start, len(probs) * step])
    merged: list[list[float]] = []
    for r in regions:
        if merged and r[0] - merged[-1][1] < min_silence_s:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    end = len(probs) * step
    return [(max(0.0, a - pad_s), min(end, b + pad_s)) for a, b in merged if b - a >= min_speech_s]


def detect(audio: np.ndarray) -> list[tuple[float, float]]:
    """Speech regions of 16 kHz mono ``audio`` in seconds."""
    return speech_regions(SileroVad.probabilities(audio))
