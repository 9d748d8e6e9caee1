"""Spectral clustering of d-vectors with the speaker count from the eigengap.

Why: average linkage on raw cosine needed one threshold for every recording, and GE2E
similarities shift with the room and the mic (same voice 0.68-0.83, two voices 0.55-0.68
on the benchmark set), so no single threshold fits. The affinity refinement of Wang et
al., "Speaker Diarization with LSTM" (ICASSP 2018), makes the structure, not the
absolute level, decide: keep each row's strongest 20 % of similarities, symmetrise,
diffuse (A·Aᵀ), normalise rows; the count is the largest gap among the first
eigenvalues of the normalised Laplacian, at least two (one-speaker clips are caught by
the merge step: speakers whose centroids are more alike than ``merge_similarity`` become
one), at most ``max_k``.
"""

from __future__ import annotations

import numpy as np

KEEP = 0.2  # the share of each row's similarities kept before diffusion ...
MIN_KEPT = 8  # ... but at least this many: a short clip's few windows otherwise fall into cliques of 2-3


def _affinity(emb: np.ndarray) -> np.ndarray:
    sim = emb @ emb.T
    n = sim.shape[0]
    keep = max(KEEP, min(1.0, MIN_KEPT / n))
    cut = np.quantile(sim, 1.0 - keep, axis=1, keepdims=True)
    aff = np.where(sim >= cut, sim, sim * 0.01)
    aff = np.maximum(aff, aff.T)
    aff = aff @ aff.T
    aff = aff / np.maximum(aff.max(axis=1, keepdims=True), 1e-9)
    return (aff + aff.T) / 2


def _kmeans(x: np.ndarray, k: int, rounds: int = 30) -> np.ndarray:
    """k-means with farthest-point seeding from the first row: deterministic, no random state."""
    seeds = [0]
    for _ in range(1, k):
        dist = np.min([np.square(x - x[j]).sum(axis=1) for j in seeds], axis=0)
        seeds.append(int(np.argmax(dist)))
    cents = x[seeds]
    labels = np.zeros(x.shape[0], dtype=np.int64)
    for _ in range(rounds):
        labels = np.argmin(np.square(x[:, None, :] - cents[None]).sum(axis=2), axis=1)
        cents = np.stack([x[labels == j].mean(axis=0) if np.any(labels == j) else cents[j] for j in range(k)])
    return labels


def _merge_close(emb: np.ndarray, labels: np.ndarray, merge_similarity: float) -> np.ndarray:
    """Join the two most alike speakers while their centroids are at least ``merge_similarity`` apart."""
    labels = labels.copy()
    while True:
        keys = sorted(set(labels.tolist()))
        if len(keys) < 2:
            return labels
        cents = np.stack([emb[labels == k].mean(axis=0) for k in keys])
        cents /= np.maximum(np.linalg.norm(cents, axis=1, keepdims=True), 1e-9)
        sim = cents @ cents.T
        np.fill_diagonal(sim, -1.0)
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[i, j] < merge_similarity:
            return labels
        labels[labels == keys[max(i, j)]] = keys[min(i, j)]


def spectral_cluster(emb: np.ndarray, max_k: int, merge_similarity: float) -> np.ndarray:
    """One label per unit-norm row of ``emb``; labels are not ordered."""
    n = emb.shape[0]
    if n < 3 or max_k < 2:
        return np.zeros(n, dtype=np.int64)
    aff = _affinity(emb)
    degree = aff.sum(axis=1)
    lap = np.eye(n) - aff / np.sqrt(np.outer(degree, degree))
    values, vectors = np.linalg.eigh(lap)
    top = min(max_k, n - 1)
    gaps = np.diff(values[: top + 1])
    k = int(np.argmax(gaps[1:])) + 2 if top >= 2 else 1
    x = vectors[:, :k]
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
    return _merge_close(emb, _kmeans(x, k), merge_similarity)
