"""Is this track the person in the reference photo? Raw cosine, normalised against impostors only.

Measured on the hamilton clip with the default stack: Obama's track has cosine 0.47 to
``obama.jpg`` and the best other track 0.33, but Lin-Manuel Miranda's track has 0.53
to ``alex-lacamoire.png`` (a different man): FaceNet's raw cosine is not comparable
from one reference to the next. Symmetric score normalisation (S-norm) fixes that: the
score is measured in standard deviations above how similar the reference is to a
cohort of impostors, plus how similar the track is to them.

The cohort must hold impostors only. Taking "every other track searched" (as a first
version did) let the person's own other appearances into it: a second clip of Obama
raised the cohort's similarity to Obama's first track and pushed it under the
threshold, so the more often someone appeared, the less they were found. The cohort is
therefore every searched track that is neither a candidate (raw cosine at or above
``possible``) nor close to one (cosine >= ``same_person`` to a candidate: the same
face in a weaker pose), at most :data:`COHORT_MAX` of them, spread evenly over the
library. A person's presence elsewhere cannot change their score any more.

A handful of impostors gives unsteady statistics (on a small set of composites one
impostor scored 12 against 10 tracks, 3.9 against more), so for the default stack a
fixed cohort ships with the package and is always part of it: the FaceNet embeddings
of the 100 faces of scikit-image's ``lfw_subset`` (``data/cohort-default.npy``,
float16, made by ``benchmarks/people.py --make-cohort``; no image is shipped). With it a
score means the same in a 10-clip and a 100,000-clip library. Other backends have no
fixed cohort; with fewer than :data:`MIN_COHORT` impostors only the raw cosine
thresholds apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

MIN_COHORT = 5
#: Impostors used at most: the statistics are steady long before, and 100,000 tracks stay fast.
COHORT_MAX = 2000
#: Rows multiplied at once against the cohort or the candidates (bounded temporary memory).
BLOCK = 16384


@dataclass(frozen=True)
class MatchScore:
    cosine: float
    #: S-norm score, None when the cohort was too small or the track no candidate.
    snorm: float | None


@cache
def fixed_cohort(backend: str) -> np.ndarray | None:
    """The shipped impostor embeddings for ``backend``'s embedder, or None when there are none."""
    path = Path(__file__).parent / "data" / f"cohort-{backend}.npy"
    return np.load(path).astype(np.float32) if path.is_file() else None


def cosines(ref: np.ndarray, tracks: np.ndarray) -> np.ndarray:
    """``tracks @ ref`` in float32."""
    return (np.asarray(tracks, dtype=np.float32) @ ref.astype(np.float32)) if len(tracks) else np.zeros(0, np.float32)


def impostor_cohort(tracks: np.ndarray, s: np.ndarray, possible: float, same_person: float) -> np.ndarray:
    """Rows of ``tracks`` that are neither candidates nor close to a candidate (see the module doc).

    At most :data:`COHORT_MAX`, evenly spread; closeness is checked on twice that many
    non-candidates only, so a library of 100,000 tracks costs what one of 4,000 does.
    """
    idx = np.flatnonzero(s < possible)
    if len(idx) > 2 * COHORT_MAX:
        idx = idx[np.linspace(0, len(idx) - 1, 2 * COHORT_MAX).astype(int)]
    rows = np.asarray(tracks[idx], dtype=np.float32)
    cand = np.asarray(tracks[s >= possible], dtype=np.float32)
    if len(cand) and len(rows):
        rows = rows[(rows @ cand.T).max(axis=1) < same_person]
    if len(rows) > COHORT_MAX:
        rows = rows[np.linspace(0, len(rows) - 1, COHORT_MAX).astype(int)]
    return rows


def score_tracks(
    ref: np.ndarray,
    tracks: np.ndarray,
    possible: float = 0.38,
    same_person: float = 0.62,
    *,
    fixed: np.ndarray | None = None,
    every: bool = False,
) -> list[MatchScore]:
    """Scores of every track (rows of ``tracks``, L2-normalised) against the reference.

    The S-norm is computed for candidates (cosine >= ``possible``: no other track can
    match), or for every track with ``every`` (the benchmark's impostor distribution).
    ``fixed``: the shipped impostors (:func:`fixed_cohort`), always part of the cohort.
    """
    s, idx, z = candidate_scores(ref, tracks, possible, same_person, fixed=fixed, every=every)
    by_row = dict(zip(idx.tolist(), z.tolist(), strict=True)) if z is not None else {}
    return [MatchScore(float(v), by_row.get(i)) for i, v in enumerate(s)]


def candidate_scores(
    ref: np.ndarray,
    tracks: np.ndarray,
    possible: float,
    same_person: float,
    *,
    fixed: np.ndarray | None = None,
    every: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(every track's cosine, the rows S-normed, their S-norm or None when the cohort is too small).

    Vectorised for the library search: 100,000 tracks make only a handful of candidates.
    """
    s = cosines(ref, tracks)
    idx = np.arange(len(s)) if every else np.flatnonzero(s >= possible)
    if len(tracks) == 0:
        return s, idx, None
    cohort = impostor_cohort(tracks, s, possible, same_person)
    if fixed is not None:
        cohort = np.vstack([fixed, cohort])
    if len(cohort) < MIN_COHORT:
        return s, idx, None
    cr = cohort @ ref.astype(np.float32)
    z = np.empty(len(idx), np.float32)
    for i in range(0, len(idx), BLOCK):
        part = idx[i : i + BLOCK]
        ct = np.asarray(tracks[part], dtype=np.float32) @ cohort.T
        z[i : i + BLOCK] = (s[part] - ct.mean(axis=1)) / np.maximum(ct.std(axis=1), 1e-3)
    z += (s[idx] - float(cr.mean())) / max(float(cr.std()), 1e-3)
    return s, idx, z


def verdict(m: MatchScore, possible: float, sure: float, z_possible: float, z_sure: float) -> str | None:
    """ "sure", "possible" or None (no match)."""
    if m.cosine < possible or (m.snorm is not None and m.snorm < z_possible):
        return None
    if m.cosine >= sure and (m.snorm is None or m.snorm >= z_sure):
        return "sure"
    return "possible"
