"""Speaker turns: who speaks in each transcribed segment, as "Speaker 1".."Speaker N".

Backends (``[analyzers.speech] speakers``):

* ``mfcc`` (default; numpy only, no weights): each segment is described by the mean and
  variance of its MFCC frames (19 cepstra: timbre, vocal tract) and its median pitch.
  Two segments are "the same voice" when ``(timbre distance / 0.5)² + (pitch difference /
  5 semitones)² < speaker_threshold`` (1.0), timbre distance being the mean squared
  difference of the MFCC means in units of the pooled variance; segments are merged
  bottom-up (average linkage). Why not a neural embedding by default: see ``auto`` below.
  Limits, stated plainly: the scales were set on a handful of voices (espeak voices, one
  archival speech), not trained; it separates voices that differ in pitch register or
  timbre (typically a man and a woman, or two very different voices) but may merge two
  similar voices of the same sex on the same mic, and may split one person recorded on
  two very different mics (lav vs boom) because MFCC means carry the channel too;
  segments with under ~0.5 s of voiced audio are not clustered but take the speaker of
  the nearest segment in time; overlapping speech goes to one speaker; turns are at
  segment granularity (a change of speaker inside one Whisper segment is not split).
* ``resemblyzer`` (optional, needs ``resemblyzer==0.1.4`` with torch and
  ``setuptools<81``; the wheel ships the GE2E voice encoder weights): d-vectors per
  segment, merged average-linkage while the cosine similarity exceeds ``speaker_similarity``.
* ``pyannote`` (optional): a local pyannote.audio pipeline directory
  (``pyannote_pipeline``); segments get the speaker with the most overlap.
* ``auto``: mfcc. Measured on the fixtures (espeak voices A/B, jfk.flac split in four):
  resemblyzer 0.1.4 took ~5 s warm for 7 segments (mfcc: 0.2 s) plus ~60 s of first-use
  imports (torch, librosa, numba) on the shared 2-core box, and its cosine similarities
  did not separate better: A-B 0.72-0.74 against 0.59-0.80 within JFK's one voice, so
  no ``speaker_similarity`` splits A from B without splitting JFK; mfcc gives A-B >= 2.5
  against <= 0.9 within JFK. It also needs ``setuptools<81`` (webrtcvad imports
  pkg_resources). So auto means mfcc until a better embedding package ships weights.

Every backend returns per-speaker *profiles* (compact sufficient statistics or centroids)
in the summary so a card-level pass can link speakers across clips with
:func:`link_profiles`, the same criterion applied to clip speakers instead of segments.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from kinod.analyzers.base import AnalyzerError, ModelMissingError

RATE = 16000
N_FFT = 512
WIN = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
N_CEPS = 19  # c1..c19; c0 (loudness) says more about distance to the mic than about the voice
MIN_FRAMES = 50  # 0.5 s of voiced frames: below that a segment's Gaussian is noise


@dataclass
class SpeakerResult:
    """Per-span label (0-based, -1 = unknown), profiles per label, and notes for the summary."""

    labels: list[int]
    profiles: dict[int, dict[str, Any]] = field(default_factory=dict)
    backend: str = ""
    notes: list[str] = field(default_factory=list)


class SpeakerBackend(Protocol):
    """What a speaker backend implements; a pyannote or any other backend fills the same slot."""

    name: str

    def assign(self, audio: np.ndarray, spans: list[tuple[float, float]]) -> SpeakerResult:
        """Label each (start_s, end_s) span of the 16 kHz mono ``audio`` with a speaker."""
        ...


# ----------------------------------------------------------------------------- MFCC + pitch


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
            "mean": _r(mean),
            "var": _r(var),
            "pitch_st": None if self.pitch_st is None else round(self.pitch_st, 3),
            "pitch_frames": int(self.pitch_n),
        }

    @classmethod
    def from_profile(cls, profile: dict[str, Any]) -> VoiceStats:
        n = float(profile["frames"])
        mean = np.asarray(profile["mean"], dtype=np.float64)
        var = np.asarray(profile["var"], dtype=np.float64)
        return cls(n, mean * n, (var + mean**2) * n, profile.get("pitch_st"), float(profile.get("pitch_frames", 0)))


def _r(v: np.ndarray) -> list[float]:
    return [round(float(x), 4) for x in v]


#: Scales of the two distances: 0.5 in pooled-variance units of the MFCC means and 5 semitones
#: of median pitch each count as "one unit of different". Calibrated on a handful of voices
#: (espeak voices, one noisy archival speech); see the module docstring for the limits.
MFCC_SCALE = 0.5
PITCH_SCALE_ST = 5.0


def voice_distance(a: VoiceStats, b: VoiceStats) -> float:
    """Squared distance in "units of different": < 1 (``speaker_threshold``) means the same voice."""
    ma, va = a.mean_var()
    mb, vb = b.mean_var()
    timbre = float(np.mean((ma - mb) ** 2 / ((va + vb) / 2)))
    d = (timbre / MFCC_SCALE) ** 2
    if a.pitch_st is not None and b.pitch_st is not None:
        d += ((a.pitch_st - b.pitch_st) / PITCH_SCALE_ST) ** 2
    return d


def cluster_voices(stats: list[VoiceStats], threshold: float, max_clusters: int = 0) -> list[int]:
    """Average-linkage agglomerative clustering on :func:`voice_distance`; labels by first appearance."""
    n = len(stats)
    if n == 0:
        return []
    dist = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            dist[i, j] = dist[j, i] = voice_distance(stats[i], stats[j])
    return _average_linkage(dist, threshold, max_clusters)


def _average_linkage(dist: np.ndarray, threshold: float, max_clusters: int) -> list[int]:
    members: dict[int, list[int]] = {i: [i] for i in range(dist.shape[0])}
    while len(members) > 1:
        keys = sorted(members)
        best: tuple[float, int, int] | None = None
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                d = float(dist[np.ix_(members[a], members[b])].mean())
                if best is None or d < best[0]:
                    best = (d, a, b)
        assert best is not None
        d, a, b = best
        if d >= threshold and not (max_clusters and len(members) > max_clusters):
            break
        members[a] += members.pop(b)
    labels = [0] * dist.shape[0]
    for label, key in enumerate(sorted(members, key=lambda k: min(members[k]))):
        for i in members[key]:
            labels[i] = label
    return labels


def _fill_unknown(labels: list[int], spans: list[tuple[float, float]]) -> list[int]:
    """Give each unlabelled span the label of the nearest labelled span in time."""
    known = [i for i, label in enumerate(labels) if label >= 0]
    if not known:
        return [0 for _ in labels]
    out = list(labels)
    for i, label in enumerate(labels):
        if label < 0:
            mid = (spans[i][0] + spans[i][1]) / 2
            j = min(known, key=lambda k: abs((spans[k][0] + spans[k][1]) / 2 - mid))
            out[i] = labels[j]
    return out


class MfccPitchBackend:
    """Numpy-only speaker clustering; see the module docstring for what it can and cannot do."""

    name = "mfcc"

    def __init__(self, threshold: float = 1.0, max_speakers: int = 0) -> None:
        self.threshold = threshold
        self.max_speakers = max_speakers

    def assign(self, audio: np.ndarray, spans: list[tuple[float, float]]) -> SpeakerResult:
        stats = [VoiceStats.of(audio[int(a * RATE) : int(b * RATE)]) for a, b in spans]
        usable = [i for i, s in enumerate(stats) if s.n >= MIN_FRAMES]
        notes = []
        if len(usable) < len(spans):
            notes.append(f"{len(spans) - len(usable)} segment(s) under 0.5 s of voiced audio got the nearest speaker")
        labels = [-1] * len(spans)
        profiles: dict[int, dict[str, Any]] = {}
        if usable:
            sub = cluster_voices([stats[i] for i in usable], self.threshold, self.max_speakers)
            for i, label in zip(usable, sub, strict=True):
                labels[i] = label
            for label in sorted(set(sub)):
                total: VoiceStats | None = None
                for i, lab in zip(usable, sub, strict=True):
                    if lab == label:
                        total = stats[i] if total is None else total.merged(stats[i])
                assert total is not None
                profiles[label] = total.profile()
        return SpeakerResult(_fill_unknown(labels, spans), profiles, self.name, notes)


def link_profiles(profiles: list[dict[str, Any]], threshold: float = 1.0, similarity: float = 0.75) -> list[int]:
    """Card-level linking: one label per clip speaker profile; the same label means the same person.

    ``profiles`` are values of several clips' ``summary["speaker_profiles"]``, all of one
    kind: "mfcc-pitch" profiles are linked with :func:`voice_distance` < ``threshold``,
    "embedding" profiles with cosine similarity >= ``similarity``.
    """
    if not profiles:
        return []
    kinds = {p.get("kind") for p in profiles}
    if kinds == {"mfcc-pitch"}:
        return cluster_voices([VoiceStats.from_profile(p) for p in profiles], threshold)
    if kinds == {"embedding"}:
        return cosine_cluster(np.asarray([p["centroid"] for p in profiles], dtype=np.float32), similarity)
    raise AnalyzerError(f"speaker profiles of different kinds cannot be linked: {sorted(map(str, kinds))}")


# ----------------------------------------------------------------------------- embedding backends


def cosine_cluster(embeddings: np.ndarray, similarity: float, max_clusters: int = 0) -> list[int]:
    """Average-linkage agglomerative clustering on cosine similarity (merge while >= ``similarity``)."""
    if embeddings.shape[0] == 0:
        return []
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-9)
    return _average_linkage(1.0 - unit @ unit.T, 1.0 - similarity + 1e-12, max_clusters)


class ResemblyzerBackend:
    """GE2E d-vectors from resemblyzer's bundled ``pretrained.pt`` (needs torch, loaded lazily once)."""

    name = "resemblyzer"
    _encoder: ClassVar[Any] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, similarity: float = 0.75, max_speakers: int = 0) -> None:
        self.similarity = similarity
        self.max_speakers = max_speakers

    @staticmethod
    def missing() -> str | None:
        if importlib.util.find_spec("resemblyzer") is None or importlib.util.find_spec("torch") is None:
            return "speakers = 'resemblyzer' needs the resemblyzer package (and torch): pip install resemblyzer==0.1.4"
        return None

    def assign(self, audio: np.ndarray, spans: list[tuple[float, float]]) -> SpeakerResult:
        problem = self.missing()
        if problem:
            raise ModelMissingError(f"analyzers.speech.speakers: {problem}")
        from resemblyzer import VoiceEncoder, preprocess_wav  # type: ignore[import-not-found]

        with self._lock:
            if ResemblyzerBackend._encoder is None:
                ResemblyzerBackend._encoder = VoiceEncoder("cpu", verbose=False)
        usable, vectors = [], []
        for i, (a, b) in enumerate(spans):
            wav = preprocess_wav(audio[int(a * RATE) : int(b * RATE)], source_sr=RATE)
            if wav.shape[0] >= RATE // 2:
                usable.append(i)
                vectors.append(self._encoder.embed_utterance(wav))
        labels = [-1] * len(spans)
        profiles: dict[int, dict[str, Any]] = {}
        if usable:
            emb = np.asarray(vectors, dtype=np.float32)
            sub = cosine_cluster(emb, self.similarity, self.max_speakers)
            for i, label in zip(usable, sub, strict=True):
                labels[i] = label
            for label in set(sub):
                centroid = emb[[k for k, lab in enumerate(sub) if lab == label]].mean(axis=0)
                profiles[label] = {"kind": "embedding", "model": "resemblyzer-0.1.4", "centroid": _r(centroid)}
        return SpeakerResult(_fill_unknown(labels, spans), profiles, self.name)


class PyannoteBackend:
    """A local pyannote.audio pipeline (``pyannote_pipeline`` = directory with config.yaml); never downloads."""

    name = "pyannote"

    def __init__(self, pipeline_dir: str | None) -> None:
        self.pipeline_dir = pipeline_dir

    def missing(self) -> list[str]:
        out = []
        if importlib.util.find_spec("pyannote") is None or importlib.util.find_spec("pyannote.audio") is None:
            out.append("the pyannote.audio package is not installed")
        if not self.pipeline_dir:
            out.append("analyzers.speech.pyannote_pipeline is not set (a local pipeline directory with config.yaml)")
        else:
            from pathlib import Path

            if not (Path(self.pipeline_dir).expanduser() / "config.yaml").is_file():
                out.append(f"analyzers.speech.pyannote_pipeline = {self.pipeline_dir!r} has no config.yaml")
        return out

    def assign(self, audio: np.ndarray, spans: list[tuple[float, float]]) -> SpeakerResult:
        problems = self.missing()
        if problems:
            raise ModelMissingError("analyzers.speech.speakers = 'pyannote': " + "; ".join(problems))
        from pathlib import Path

        import torch  # type: ignore[import-not-found]
        from pyannote.audio import Pipeline  # type: ignore[import-not-found]

        assert self.pipeline_dir is not None
        # A local pipeline only: with the hub offline, a config that names a hub model fails
        # here instead of downloading it.
        os.environ["HF_HUB_OFFLINE"] = "1"
        pipeline = Pipeline.from_pretrained(Path(self.pipeline_dir).expanduser() / "config.yaml")
        diarization = pipeline({"waveform": torch.from_numpy(audio[None, :]), "sample_rate": RATE})
        turns = [(t.start, t.end, spk) for t, _, spk in diarization.itertracks(yield_label=True)]
        names: dict[str, int] = {}
        labels = []
        for a, b in spans:
            overlap: dict[str, float] = {}
            for s, e, spk in turns:
                o = min(b, e) - max(a, s)
                if o > 0:
                    overlap[spk] = overlap.get(spk, 0.0) + o
            if overlap:
                spk = max(overlap, key=lambda k: overlap[k])
                labels.append(names.setdefault(spk, len(names)))
            else:
                labels.append(-1)
        return SpeakerResult(_fill_unknown(labels, spans), {}, self.name)


def make_backend(kind: str, threshold: float, similarity: float, max_speakers: int, pyannote_dir: str | None) -> Any:
    """The backend for ``[analyzers.speech] speakers`` ("off" is handled by the caller)."""
    if kind == "auto":
        kind = "mfcc"  # see the module docstring: resemblyzer measured slower and no better on our fixtures
    if kind == "mfcc":
        return MfccPitchBackend(threshold, max_speakers)
    if kind == "resemblyzer":
        return ResemblyzerBackend(similarity, max_speakers)
    if kind == "pyannote":
        return PyannoteBackend(pyannote_dir)
    raise AnalyzerError(f"analyzers.speech.speakers = {kind!r} is not a speaker backend")
