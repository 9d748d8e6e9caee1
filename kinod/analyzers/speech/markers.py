"""Transcript markers for editors' timelines: one per sentence, speaker turn or segment.

Split from :mod:`kinod.analyzers.speech.analyzer`. A sentence ends at ``.``, ``?``,
``!`` (or their CJK forms) or where the speaker changes; a marker spans its words'
frames and carries the mean word probability as its confidence.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

import numpy as np

from kinod.analyzers.base import Marker
from kinod.analyzers.speech.segments import frame_range

_SENTENCE_END = re.compile(r"[.!?…。！？]['\")\]]*$")


def speech_markers(mode: str, items: list[dict[str, Any]], rate: Fraction, total: int) -> list[Marker]:
    """Transcript markers: per sentence (split on ., ?, ! or a change of speaker), turn or segment."""
    if mode == "off" or not items:
        return []
    groups: list[tuple[str | None, list[dict[str, Any]], str, float]] = []  # speaker, words, text, confidence
    if mode == "segment":
        groups = [(it["speaker"], it["words"], it["text"], it["confidence"]) for it in items]
    elif mode == "turn":
        for it in items:
            if groups and groups[-1][0] == it["speaker"] and it["speaker"] is not None:
                speaker, words, text, conf = groups[-1]
                n = len(words) + len(it["words"])
                merged_conf = (conf * max(len(words), 1) + it["confidence"] * max(len(it["words"]), 1)) / max(n, 1)
                groups[-1] = (speaker, words + it["words"], f"{text} {it['text']}", merged_conf)
            else:
                groups.append((it["speaker"], list(it["words"]), it["text"], it["confidence"]))
    else:
        words: list[dict[str, Any]] = []
        speaker: str | None = None
        for it in items:
            for w in it["words"]:
                if words and it["speaker"] != speaker:
                    groups.append(_sentence(speaker, words))
                    words = []
                speaker = it["speaker"]
                words.append(w)
                if _SENTENCE_END.search(w["word"]):
                    groups.append(_sentence(speaker, words))
                    words = []
        if words:
            groups.append(_sentence(speaker, words))
    markers = []
    for speaker, words, text, conf in groups:
        if not words:
            continue
        start, end = frame_range(words[0]["start_s"], words[-1]["end_s"], rate, total)
        name = text if len(text) <= 60 else text[:57].rstrip() + "..."
        markers.append(
            Marker(
                category="speech",
                frame=start,
                name=f"{speaker}: {name}" if speaker else name,
                duration_frames=end - start,
                comment=text,
                confidence=round(float(conf), 4),
            )
        )
    return markers


def _sentence(speaker: str | None, words: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]], str, float]:
    text = " ".join(w["word"] for w in words)
    conf = float(np.mean([w["probability"] for w in words])) if words else 0.0
    return speaker, words, text, conf
