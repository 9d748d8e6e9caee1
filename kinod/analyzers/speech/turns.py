"""Speaker turns at word level: a transcribed segment is split where its words change speaker.

Why: Whisper cuts segments by sentence and pause, not by voice, so "Hello. Oh, hello. I
didn't know you were there." can be one segment with two speakers. Each word takes the
speaker of the diarization frames it spans (:func:`diarize.label_spans`); a word the
frames cannot place (no speech frame under it) keeps its neighbour's speaker; the
segment is cut before each word whose speaker differs from the previous word's. The
pieces keep the segment's language and confidence figures; their text is their words.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from kinod.analyzers.speech.diarize import label_spans
from kinod.analyzers.speech.transcribe import SegmentOut


def _fill(labels: list[int]) -> list[int]:
    """Unplaced words (-1) take the previous word's speaker, or the next one's at the start."""
    out = list(labels)
    last = next((x for x in out if x >= 0), -1)
    for i, x in enumerate(out):
        if x < 0:
            out[i] = last
        else:
            last = x
    return out


def split_by_speaker(segments: list[SegmentOut], frames: np.ndarray) -> tuple[list[SegmentOut], list[int]]:
    """Segments cut at speaker changes between words, and one label per resulting segment (-1: unknown)."""
    out: list[SegmentOut] = []
    labels: list[int] = []
    for seg in segments:
        if not seg.words:
            out.append(seg)
            labels.append(label_spans(frames, [(seg.start, seg.end)])[0])
            continue
        word_labels = _fill(label_spans(frames, [(w.start, w.end) for w in seg.words]))
        start = 0
        for i in range(1, len(seg.words) + 1):
            if i == len(seg.words) or word_labels[i] != word_labels[start]:
                words = seg.words[start:i]
                piece = replace(
                    seg,
                    start=seg.start if start == 0 else words[0].start,
                    end=seg.end if i == len(seg.words) else words[-1].end,
                    text=seg.text if (start == 0 and i == len(seg.words)) else " ".join(w.word for w in words),
                    words=words,
                )
                out.append(piece)
                labels.append(word_labels[start])
                start = i
    return out, labels
