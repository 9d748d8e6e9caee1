"""Speaker turns: who speaks in each transcribed segment, as "Speaker 1".."Speaker N".

Backends (``[analyzers.speech] speakers``):

* ``ge2e`` (the pinned Resemblyzer and silero-vad wheels, installed by the Makefile):
  diarization of the audio itself (:mod:`.diarize`:
  Silero VAD, GE2E d-vectors run in numpy, spectral clustering with the count from the
  eigengap, bounded by ``max_speakers``), then segments are split where their words
  change speaker (:mod:`.turns`). Measured on real conversations by
  ``benchmarks/speakers.py``; the figures are in the README.
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
* ``auto``: mfcc. Why not ge2e yet: on jfk.flac (11 s, one noisy archival voice) its
  window centroids are as far apart (cosine 0.69) as the two real people of the pyannote
  sample are close (0.88), so it finds 2 speakers in JFK, where mfcc finds one. Why not the
  ``resemblyzer`` package: measured on the fixtures (espeak voices A/B, jfk.flac split in four):
  resemblyzer 0.1.4 took ~5 s warm for 7 segments (mfcc: 0.2 s) plus ~60 s of first-use
  imports (torch, librosa, numba) on the shared 2-core box, and its cosine similarities
  did not separate better: A-B 0.72-0.74 against 0.59-0.80 within JFK's one voice, so
  no ``speaker_similarity`` splits A from B without splitting JFK; mfcc gives A-B >= 2.5
  against <= 0.9 within JFK. It also needs ``setuptools<81`` (webrtcvad imports
  pkg_resources). The ge2e backend runs the same weights in numpy, on sliding windows
  rather than whole segments, and is measured on real conversations instead.

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
from kinod.analyzers.speech import ge2e, vad
from kinod.analyzers.speech.diarize import Diarization, diarize, label_spans
from kinod.analyzers.speech.voice_clustering import (
    MFCC_SCALE,
    PITCH_SCALE_ST,
    cluster_voices,
    cosine_cluster,
    voice_distance,
)
from kinod.analyzers.speech.voice_features import RATE, VoiceStats, mfcc_frames, pitch_hz, rounded

__all__ = [
    "MFCC_SCALE",
    "PITCH_SCALE_ST",
    "RATE",
    "Ge2eBackend",
    "MfccPitchBackend",
    "PyannoteBackend",
    "ResemblyzerBackend",
    "SpeakerBackend",
    "SpeakerResult",
    "VoiceStats",
    "cluster_voices",
    "cosine_cluster",
    "link_profiles",
    "make_backend",
    "mfcc_frames",
    "pitch_hz",
    "voice_distance",
]


MIN_FRAMES = 50  # 0.5 s of voiced frames: below that a segment's Gaussian is noise


@dataclass
class SpeakerResult:
    """Per-span label (0-based, -1 = unknown), profiles per label, and notes for the summary."""

    labels: list[int]
    profiles: dict[int, dict[str, Any]] = field(default_factory=dict)
    backend: str = ""
    notes: list[str] = field(default_factory=list)
    #: (start_s, end_s, label) of the diarization, for backends that label the audio itself.
    turns: list[tuple[float, float, int]] = field(default_factory=list)


class SpeakerBackend(Protocol):
    """What a speaker backend implements; a pyannote or any other backend fills the same slot."""

    name: str

    def assign(self, audio: np.ndarray, spans: list[tuple[float, float]]) -> SpeakerResult:
        """Label each (start_s, end_s) span of the 16 kHz mono ``audio`` with a speaker."""
        ...


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
                profiles[label] = {"kind": "embedding", "model": "resemblyzer-0.1.4", "centroid": rounded(centroid)}
        return SpeakerResult(_fill_unknown(labels, spans), profiles, self.name)


class Ge2eBackend:
    """Frame-level diarization (:mod:`.diarize`); the analyzer splits segments with its frames."""

    name = "ge2e"

    def __init__(self, max_speakers: int = 0) -> None:
        self.max_speakers = max_speakers

    @staticmethod
    def missing() -> str | None:
        try:
            ge2e.weights_path()
            vad.model_path()
        except ModelMissingError as exc:
            return str(exc)
        return None

    def diarize(self, audio: np.ndarray) -> Diarization:
        return diarize(audio, self.max_speakers)

    def profiles(self, result: Diarization) -> dict[int, dict[str, Any]]:
        return {lab: {"kind": "embedding", "model": ge2e.MODEL, "centroid": c} for lab, c in result.centroids.items()}

    def assign(self, audio: np.ndarray, spans: list[tuple[float, float]]) -> SpeakerResult:
        result = self.diarize(audio)
        labels = _fill_unknown(label_spans(result.frames, spans), spans)
        return SpeakerResult(labels, self.profiles(result), self.name, result.notes)


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
        kind = "mfcc"  # see the module docstring: ge2e is not yet right on short or noisy one-voice clips
    if kind == "ge2e":
        return Ge2eBackend(max_speakers)
    if kind == "mfcc":
        return MfccPitchBackend(threshold, max_speakers)
    if kind == "resemblyzer":
        return ResemblyzerBackend(similarity, max_speakers)
    if kind == "pyannote":
        return PyannoteBackend(pyannote_dir)
    raise AnalyzerError(f"analyzers.speech.speakers = {kind!r} is not a speaker backend")
