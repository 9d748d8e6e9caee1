"""Clustering voices into speakers: average linkage on a voice distance or on cosine similarity.

Split from :mod:`kinod.analyzers.speech.speakers`; the same criterion groups a clip's
segments into speakers and, at card level, a card's clip speakers into people.
"""

from __future__ import annotations

import numpy as np

from kinod.analyzers.speech.voice_features import VoiceStats

#: Scales of the two distances: 0.5 in pooled-variance units of the MFCC means and 5 semitones
#: of median pitch each count as "one unit of different". Calibrated on a handful of voices
#: (espeak voices, one noisy archival speech); see :mod:`kinod.analyzers.speech.speakers` for the
#: limits.
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


def cosine_cluster(embeddings: np.ndarray, similarity: float, max_clusters: int = 0) -> list[int]:
    """Average-linkage agglomerative clustering on cosine similarity (merge while >= ``similarity``)."""
    if embeddings.shape[0] == 0:
        return []
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-9)
    return _average_linkage(1.0 - unit @ unit.T, 1.0 - similarity + 1e-12, max_clusters)
