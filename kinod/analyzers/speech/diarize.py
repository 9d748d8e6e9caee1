"""Who speaks when: speech regions, GE2E d-vectors on sliding windows, clustering, frame labels, turns.

Why this shape: a speaker change inside one Whisper segment ("Hello. Oh, hello. I didn't
know you were there.") is lost when whole segments are clustered. So the audio is
labelled on its own, on a 10 ms grid: d-vectors of 1.6 s windows every 0.4 s inside the
speech regions (:mod:`vad`), clustered by :mod:`spectral` (the speaker count from the eigengap,
bounded by ``max_speakers``; speakers whose voices are closer than ``similarity`` are
merged), and each frame takes the label of the windows that cover it. The transcript's
words then take the speaker of the frames they span (:func:`label_spans`), and a segment
is split where its words change speaker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kinod.analyzers.speech import ge2e, vad
from kinod.analyzers.speech.spectral import spectral_cluster

RATE = 16000
FRAME_S = 0.01
WINDOW_S = 1.6
HOP_S = 0.4
MAX_CLUSTERED = 1000  # windows clustered directly (about 7 minutes of speech); see _labels
MIN_REGION_S = 0.4  # shorter regions are labelled from their neighbours, never embedded alone
#: Two speakers whose window centroids are at least this cosine-similar are one speaker.
#: Chosen from ``benchmarks/speakers.py`` (0.85 merged the two voices of sample.wav; 0.9 kept them).
SIMILARITY = 0.90


@dataclass
class Diarization:
    """Speech turns (start_s, end_s, label), one profile centroid per label, and how it was made."""

    turns: list[tuple[float, float, int]]
    centroids: dict[int, list[float]] = field(default_factory=dict)
    frames: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))  # label per 10 ms, -1 silence
    notes: list[str] = field(default_factory=list)

    @property
    def speaker_count(self) -> int:
        return len({lab for _, _, lab in self.turns})


def _window_starts(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(start_s, end_s) of the embedding windows: every 0.4 s inside each region, at least one per region."""
    out: list[tuple[float, float]] = []
    for a, b in regions:
        if b - a < MIN_REGION_S:
            continue
        if b - a <= WINDOW_S:
            out.append((a, b))
            continue
        t = a
        while t + WINDOW_S < b:
            out.append((t, t + WINDOW_S))
            t += HOP_S
        out.append((b - WINDOW_S, b))
    return out


def _embed(audio: np.ndarray, windows: list[tuple[float, float]]) -> np.ndarray:
    """One d-vector per window; a window shorter than 1.6 s is embedded over its own frames only."""
    mel = ge2e.mel_frames(ge2e.normalise_volume(audio))
    need = int(max((b for _, b in windows), default=0) / FRAME_S) + ge2e.PARTIAL_FRAMES + 1
    if mel.shape[0] < need:
        mel = np.pad(mel, ((0, need - mel.shape[0]), (0, 0)))
    enc = ge2e.VoiceEncoder.shared()
    full = [(i, round(a / FRAME_S)) for i, (a, b) in enumerate(windows) if b - a >= WINDOW_S - 1e-6]
    out = np.zeros((len(windows), 256), dtype=np.float32)
    for k in range(0, len(full), 64):
        part = full[k : k + 64]
        batch = np.stack([mel[s : s + ge2e.PARTIAL_FRAMES] for _, s in part])
        out[[i for i, _ in part]] = enc.embed_partials(batch)
    for i, (a, b) in enumerate(windows):
        if b - a < WINDOW_S - 1e-6:
            s, e = round(a / FRAME_S), round(b / FRAME_S)
            out[i] = enc.embed_partials(mel[s:e][None, :, :])[0]
    return out


def _frame_labels(
    n_frames: int, regions: list[tuple[float, float]], windows: list[tuple[float, float]], labels: np.ndarray, k: int
) -> np.ndarray:
    """Label per 10 ms frame: the speaker whose windows cover it most (centre-weighted); -1 outside speech."""
    votes = np.zeros((n_frames, k), dtype=np.float32)
    for (a, b), lab in zip(windows, labels, strict=True):
        s, e = int(a / FRAME_S), min(int(np.ceil(b / FRAME_S)), n_frames)
        if e > s:
            votes[s:e, lab] += np.hanning(e - s + 2)[1:-1].astype(np.float32)
    speech = np.zeros(n_frames, dtype=bool)
    for a, b in regions:
        speech[int(a / FRAME_S) : min(int(np.ceil(b / FRAME_S)), n_frames)] = True
    out = np.where(votes.sum(axis=1) > 0, votes.argmax(axis=1), -2).astype(np.int16)
    # Frames of speech no window covered (short regions) take the nearest covered frame's label.
    covered = np.flatnonzero(out >= 0)
    if covered.size:
        holes = np.flatnonzero(speech & (out < 0))
        if holes.size:
            nearest = np.clip(np.searchsorted(covered, holes), 0, covered.size - 1)
            left = np.clip(nearest - 1, 0, covered.size - 1)
            pick = np.where(np.abs(covered[left] - holes) < np.abs(covered[nearest] - holes), left, nearest)
            out[holes] = out[covered[pick]]
    out[~speech] = -1
    return out


def _turns(frames: np.ndarray) -> list[tuple[float, float, int]]:
    turns: list[tuple[float, float, int]] = []
    start = 0
    for i in range(1, frames.shape[0] + 1):
        if i == frames.shape[0] or frames[i] != frames[start]:
            if frames[start] >= 0:
                turns.append((round(start * FRAME_S, 3), round(i * FRAME_S, 3), int(frames[start])))
            start = i
    return turns


@dataclass
class Windows:
    """What clustering starts from: the speech regions, the embedding windows and their d-vectors."""

    n_frames: int
    regions: list[tuple[float, float]]
    spans: list[tuple[float, float]]
    vectors: np.ndarray


def embed_windows(audio: np.ndarray, regions: list[tuple[float, float]] | None = None) -> Windows:
    """Speech regions (the Silero VAD's unless given) and the d-vectors of their sliding windows."""
    regions = vad.detect(audio) if regions is None else regions
    n_frames = int(np.ceil(audio.shape[0] / RATE / FRAME_S))
    spans = _window_starts(regions)
    vectors = _embed(audio, spans) if spans else np.zeros((0, 256), dtype=np.float32)
    return Windows(n_frames, regions, spans, vectors)


def _labels(emb: np.ndarray, max_speakers: int, similarity: float) -> np.ndarray:
    """Spectral clustering of at most MAX_CLUSTERED evenly spaced windows; the rest join the nearest centroid.

    Why: the affinity matrix is n² and its diffusion n³; an hour of speech has ~9,000
    windows (a 650 MB matrix), 1,000 of them still hear every speaker who talks for long.
    """
    if emb.shape[0] <= MAX_CLUSTERED:
        return spectral_cluster(emb, max_speakers or 8, similarity)
    pick = np.linspace(0, emb.shape[0] - 1, MAX_CLUSTERED).round().astype(int)
    sub = spectral_cluster(emb[pick], max_speakers or 8, similarity)
    keys = sorted(set(sub.tolist()))
    cents = np.stack([emb[pick][sub == k].mean(axis=0) for k in keys])
    cents /= np.maximum(np.linalg.norm(cents, axis=1, keepdims=True), 1e-9)
    return np.asarray(keys)[np.argmax(emb @ cents.T, axis=1)]


def cluster(win: Windows, max_speakers: int = 0, similarity: float = SIMILARITY) -> Diarization:
    """Speakers of embedded windows: labels numbered by first appearance, frames, turns and centroids."""
    if not win.spans:
        empty = np.full(win.n_frames, -1, dtype=np.int16)
        return Diarization([], {}, empty, ["no speech long enough to tell voices"])
    emb = win.vectors
    labels = _labels(emb, max_speakers, similarity)
    keys = sorted(set(labels.tolist()), key=lambda k: int(np.flatnonzero(labels == k)[0]))
    remap = {k: i for i, k in enumerate(keys)}
    labels = np.asarray([remap[k] for k in labels.tolist()])
    frames = _frame_labels(win.n_frames, win.regions, win.spans, labels, len(keys))
    centroids = {}
    for i in range(len(keys)):
        c = emb[labels == i].mean(axis=0)
        centroids[i] = [round(float(x), 4) for x in c / max(float(np.linalg.norm(c)), 1e-9)]
    return Diarization(_turns(frames), centroids, frames)


def diarize(
    audio: np.ndarray,
    max_speakers: int = 0,
    similarity: float = SIMILARITY,
    regions: list[tuple[float, float]] | None = None,
) -> Diarization:
    """Speaker turns of 16 kHz mono ``audio``; ``regions`` (speech, in seconds) default to the Silero VAD's."""
    return cluster(embed_windows(audio, regions), max_speakers, similarity)


def label_spans(frames: np.ndarray, spans: list[tuple[float, float]]) -> list[int]:
    """The speaker with most frames inside each (start_s, end_s) span; -1 when it holds no labelled frame."""
    out = []
    for a, b in spans:
        s = int(a / FRAME_S)
        e = max(int(np.ceil(b / FRAME_S)), s + 1)
        seg = frames[s:e]
        seg = seg[seg >= 0]
        out.append(int(np.bincount(seg).argmax()) if seg.size else -1)
    return out
