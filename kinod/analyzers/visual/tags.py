"""Which classifier labels become tags: calibrated per-label minimums and the person-label policy.

Why not every class above 2 %: on real footage the low scores are noise ("harmonica,
balance beam, steel drum" for a man singing on a stage), and some classes describe a
person's body or clothes ("brassiere", "bikini", "groom") rather than the footage. A label
is shown only above its own minimum (``data/tag_thresholds.toml``, measured on the
labelled stills, else ``min_score``), and labels of the reviewed list
``data/person_labels.txt`` are never shown unless ``show_person_labels`` is on. Hidden
labels still count toward editorial words ("people").
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any


@cache
def person_labels() -> frozenset[str]:
    """The reviewed list of labels about bodies and clothing (first ImageNet lemma, as in ``vocab.labels``)."""
    text = resources.files("kinod.analyzers.visual").joinpath("data/person_labels.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


@cache
def thresholds() -> dict[str, float]:
    """Per-label minimum scores (label -> score) from the shipped calibration file."""
    text = resources.files("kinod.analyzers.visual").joinpath("data/tag_thresholds.toml").read_text("utf-8")
    return {str(k): float(v) for k, v in tomllib.loads(text).items()}


def shown(
    ranked: Sequence[tuple[int, float]],
    labels: Sequence[str],
    min_score: float,
    top_k: int,
    show_person: bool,
    own: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    """The tags to show, best first: above the label's own minimum and allowed by the person-label policy.

    ``own``: per-label minimums (None = the shipped calibration; the benchmark passes others).
    """
    own = thresholds() if own is None else own
    hidden = frozenset() if show_person else person_labels()
    out: list[dict[str, Any]] = []
    for cls, p in ranked:
        label = labels[cls]
        if label in hidden or p < max(min_score, own.get(label, 0.0)):
            continue
        out.append({"label": label, "score": round(p, 4)})
        if len(out) >= top_k:
            break
    return out
