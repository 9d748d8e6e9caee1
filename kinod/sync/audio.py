"""Sound as syncing reads it: a coarse envelope per file (decoded once) and short full-rate windows.

Why two reads: comparing every camera clip with every recorder take at 48 kHz costs
hours on a shooting day; a 100 Hz loudness envelope of a 5-minute take is 30,000
numbers, decoded once and kept, and all candidate pairs are compared on those. Only the
pairs that survive read a few seconds of each file at the recorder's own rate, through
ffmpeg's sample-accurate seek, to place the offset to the sample.
"""

from __future__ import annotations

import hashlib
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Rate of the decode the envelope is taken from (speech lives below 4 kHz).
ENVELOPE_DECODE_RATE = 8000
#: Envelope points per second.
ENVELOPE_RATE = 100
#: A band that both a clean boom and a muffled camera microphone carry (Hz).
_BAND = (150.0, 3000.0)


class AudioReadError(RuntimeError):
    """ffmpeg could not read the sound of a file; names the file."""


@dataclass
class Envelope:
    """Log loudness at :data:`ENVELOPE_RATE`, with the moving mean removed and unit variance."""

    values: np.ndarray
    #: Seconds of audio the envelope covers.
    seconds: float

    @property
    def usable(self) -> bool:
        """False for silence or a file too short to hold a pattern."""
        return self.values.size >= 2 * ENVELOPE_RATE and bool(np.any(self.values))


def decode_mono(ffmpeg: str, path: Path, rate: int, start_s: float = 0.0, seconds: float | None = None) -> np.ndarray:
    """Mono float32 PCM of ``path`` at ``rate`` from ``start_s`` (``seconds`` long, or to the end)."""
    args = [ffmpeg, "-v", "error", "-nostdin"]
    if start_s > 0:
        args += ["-ss", f"{start_s:.6f}"]
    args += ["-i", str(path)]
    if seconds is not None:
        args += ["-t", f"{seconds:.6f}"]
    args += ["-vn", "-sn", "-dn", "-ac", "1", "-ar", str(rate), "-f", "f32le", "-"]
    try:
        out = subprocess.run(args, capture_output=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise AudioReadError(f"{path}: cannot decode sound: {e}") from None
    if out.returncode != 0:
        why = out.stderr.decode("utf-8", "replace").strip().splitlines()
        raise AudioReadError(f"{path}: cannot decode sound: {why[-1] if why else 'ffmpeg failed'}")
    return np.frombuffer(out.stdout, dtype="<f4").astype(np.float32)


def envelope_of(pcm: np.ndarray, rate: int = ENVELOPE_DECODE_RATE) -> Envelope:
    """Loudness contour of ``pcm``: what speech, claps and footsteps share across microphones."""
    hop = rate // ENVELOPE_RATE
    n = pcm.size // hop
    if n < 2 * ENVELOPE_RATE:  # under two seconds: too short to hold a pattern (see Envelope.usable)
        return Envelope(np.zeros(n, dtype=np.float32), n / ENVELOPE_RATE)
    frames = pcm[: n * hop].reshape(n, hop).astype(np.float64)
    rms = np.sqrt(np.mean(frames * frames, axis=1)) + 1e-5
    log = 20 * np.log10(rms)
    # Onsets matter, levels do not: a one-second moving mean is removed, so room tone,
    # gain and microphone colour drop out and only how the loudness moves is compared.
    kernel = np.ones(ENVELOPE_RATE) / ENVELOPE_RATE
    trend = np.convolve(log, kernel, mode="same")
    flux = log - trend
    std = float(flux.std())
    values = (flux - flux.mean()) / std if std > 1e-6 else np.zeros_like(flux)
    return Envelope(values.astype(np.float32), n / ENVELOPE_RATE)


class EnvelopeCache:
    """Each file's envelope, decoded once per run (and kept on disk when given a folder)."""

    def __init__(self, ffmpeg: str, folder: Path | None = None) -> None:
        self.ffmpeg = ffmpeg
        self.folder = folder
        self._mem: dict[str, Envelope] = {}
        self.decodes = 0

    def get(self, path: Path) -> Envelope:
        key = str(path)
        if key in self._mem:
            return self._mem[key]
        env = self._from_disk(path)
        if env is None:
            env = self._decode(path)
            self.decodes += 1
            self._to_disk(path, env)
        self._mem[key] = env
        return env

    def prefetch(self, paths: list[Path], workers: int) -> None:
        """Decode the envelopes of ``paths`` not yet known, ``workers`` at a time.

        Why: a card's sync runs after its last clip, when the machine is otherwise idle; one
        ffmpeg decode after another would leave all cores but one waiting. A file that cannot
        be read is left for :meth:`get`, which raises for it where it is asked.
        """
        todo = [p for p in dict.fromkeys(paths) if str(p) not in self._mem and self._from_disk(p) is None]
        if len(todo) < 2 or workers < 2:
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for path, env in zip(todo, pool.map(self._decode_or_none, todo), strict=True):
                if env is not None:
                    self.decodes += 1
                    self._to_disk(path, env)
                    self._mem[str(path)] = env

    def _decode(self, path: Path) -> Envelope:
        return envelope_of(_band(decode_mono(self.ffmpeg, path, ENVELOPE_DECODE_RATE, 0.0, None)))

    def _decode_or_none(self, path: Path) -> Envelope | None:
        try:
            return self._decode(path)
        except AudioReadError:
            return None

    def _disk_path(self, path: Path) -> Path | None:
        if self.folder is None:
            return None
        try:
            st = path.stat()
        except OSError:
            return None
        key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|v1".encode()).hexdigest()[:24]
        return self.folder / f"{key}.npy"

    def _from_disk(self, path: Path) -> Envelope | None:
        p = self._disk_path(path)
        if p is None or not p.is_file():
            return None
        try:
            values = np.load(p, allow_pickle=False)
        except (OSError, ValueError):
            return None
        return Envelope(values, values.size / ENVELOPE_RATE)

    def _to_disk(self, path: Path, env: Envelope) -> None:
        p = self._disk_path(path)
        if p is None:
            return
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            np.save(p, env.values, allow_pickle=False)
        except OSError:
            pass  # a cache that cannot be written only costs a decode next time


def _band(pcm: np.ndarray) -> np.ndarray:
    """Keep :data:`_BAND`: rumble and hiss differ between microphones, speech does not."""
    if pcm.size == 0:
        return pcm
    spec = np.fft.rfft(pcm)
    freqs = np.fft.rfftfreq(pcm.size, 1 / ENVELOPE_DECODE_RATE)
    spec[(freqs < _BAND[0]) | (freqs > _BAND[1])] = 0
    return np.fft.irfft(spec, n=pcm.size).astype(np.float32)
