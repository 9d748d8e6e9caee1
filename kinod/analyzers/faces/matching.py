"""Is this track the person in the reference photo? Raw cosine, normalised against a cohort.

Measured on the hamilton clip with the default stack: Obama's track has cosine 0.47 to
``obama.jpg`` and the best other track 0.33, but Lin-Manuel Miranda's track has 0.53
to ``alex-lacamoire.png`` (a different man): FaceNet's raw cosine is not comparable
from one reference to the next. Symmetric score normalisation (S-norm) fixes that: the
score is measured in standard deviations above how similar the reference is to the
other tracks, plus how similar the track is to the other tracks. There Obama scores
4.3, Alex->Miranda 2.9, Biden->Miranda 2.6. It needs a cohort (every track searched,
here at least ``MIN_COHORT``); with fewer, only the raw cosine thresholds apply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_COHORT = 5


@dataclass(frozen=True)
class MatchScore:
    cosine: float
    #: S-norm score, None when the cohort was too small to compute it.
    snorm: float | None


def score_tracks(ref: np.ndarray, tracks: np.ndarray) -> list[MatchScore]:
    """Scores of every track (rows of ``tracks``, L2-normalised) against the reference."""
    if len(tracks) == 0:
        return []
    s = tracks @ ref
    if len(tracks) - 1 < MIN_COHORT:
        return [MatchScore(float(v), None) for v in s]
    tt = tracks @ tracks.T
    out = []
    for i in range(len(tracks)):
        others = np.arange(len(tracks)) != i
        cr, ct = s[others], tt[i, others]
        z = (s[i] - cr.mean()) / max(float(cr.std()), 1e-3) + (s[i] - ct.mean()) / max(float(ct.std()), 1e-3)
        out.append(MatchScore(float(s[i]), float(z)))
    return out


def verdict(m: MatchScore, possible: float, sure: float, z_possible: float, z_sure: float) -> str | None:
    """ "sure", "possible" or None (no match)."""
    if m.cosine < possible or (m.snorm is not None and m.snorm < z_possible):
        return None
    if m.cosine >= sure and (m.snorm is None or m.snorm >= z_sure):
        return "sure"
    return "possible"
