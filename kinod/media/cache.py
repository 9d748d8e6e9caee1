"""The analysis cache: what the one decode pass leaves for model analyzers.

Model analyzers (speech, faces, visual tags) run later than the decode pass, maybe
on a GPU slot that frees up an hour from now, maybe on another machine. They must
not decode the original again, so the pass leaves a small cache under
``<state dir>/cache/<fingerprint>/``:

* ``audio.f32``: all channels, interleaved float32 PCM at ``audio_rate`` (16 kHz);
* ``meta.json``: rate, channel count, sample count, written last (its presence means
  the cache is complete).

Writers write to temp names and rename, so a crash never leaves a cache that looks
complete but is not.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

META = "meta.json"
AUDIO = "audio.f32"


@dataclass(frozen=True)
class AnalysisCache:
    """Read side of a finished cache directory."""

    dir: Path
    audio_rate: int
    audio_channels: int
    audio_samples: int

    @classmethod
    def open(cls, directory: Path) -> AnalysisCache:
        meta_path = directory / META
        if not meta_path.is_file():
            raise FileNotFoundError(f"{directory}: analysis cache is missing or incomplete (no {META})")
        meta = json.loads(meta_path.read_text())
        return cls(directory, int(meta["audio_rate"]), int(meta["audio_channels"]), int(meta["audio_samples"]))

    @property
    def has_audio(self) -> bool:
        return self.audio_channels > 0 and self.audio_samples > 0

    def audio(self) -> np.ndarray:
        """All audio as (samples, channels) float32, memory-mapped (not read into RAM)."""
        if not self.has_audio:
            return np.zeros((0, max(self.audio_channels, 1)), dtype=np.float32)
        data = np.memmap(self.dir / AUDIO, dtype=np.float32, mode="r")
        return data.reshape(-1, self.audio_channels)


class AnalysisCacheWriter:
    """Write side, fed by the decode pass's audio thread."""

    def __init__(self, directory: Path, audio_rate: int, audio_channels: int) -> None:
        self.dir = directory
        self.audio_rate = audio_rate
        self.audio_channels = audio_channels
        self.samples = 0
        directory.mkdir(parents=True, exist_ok=True)
        self._tmp_audio = directory / (AUDIO + ".tmp")
        self._fh: BinaryIO | None = open(self._tmp_audio, "wb") if audio_channels else None  # noqa: SIM115

    def write_audio(self, samples: np.ndarray) -> None:
        if self._fh is None:
            return
        self._fh.write(np.ascontiguousarray(samples, dtype=np.float32).tobytes())
        self.samples += samples.shape[0]

    def commit(self) -> AnalysisCache:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None
            os.replace(self._tmp_audio, self.dir / AUDIO)
        meta = {"audio_rate": self.audio_rate, "audio_channels": self.audio_channels, "audio_samples": self.samples}
        tmp = self.dir / (META + ".tmp")
        with open(tmp, "w") as fh:
            json.dump(meta, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.dir / META)
        return AnalysisCache(self.dir, self.audio_rate, self.audio_channels, self.samples)

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        shutil.rmtree(self.dir, ignore_errors=True)
