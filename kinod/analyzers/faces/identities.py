"""Tracks to people: cluster track means within a clip, then match a registry shared by a card/library.

Average-linkage clustering at ``identity_threshold`` (cosine of track means): one
person's tracks in two shots joined at 0.74 with FaceNet, a mother and daughter stayed
apart at 0.62. The registry (:mod:`kinod.analyzers.faces.people`) then gives each cluster a stable
"person-N" id across clips and a name when the user gave one.
"""

from __future__ import annotations

import numpy as np


def cluster(embeddings: list[np.ndarray], threshold: float) -> list[int]:
    """Cluster label per embedding (0..k-1, in order of first appearance)."""
    groups: list[list[int]] = [[i] for i in range(len(embeddings))]
    if not embeddings:
        return []
    e = np.stack(embeddings)
    sim = e @ e.T
    while len(groups) > 1:
        best, pair = threshold, None
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                s = float(sim[np.ix_(groups[a], groups[b])].mean())
                if s >= best:
                    best, pair = s, (a, b)
        if pair is None:
            break
        a, b = pair
        groups[a] += groups.pop(b)
    labels = [0] * len(embeddings)
    for g in sorted(groups, key=min):
        for i in g:
            labels[i] = sorted(groups, key=min).index(g)
    return labels


def centroid(embeddings: list[np.ndarray]) -> np.ndarray:
    m = np.mean(np.stack(embeddings), axis=0)
    return m / max(float(np.linalg.norm(m)), 1e-9)
