"""The plain-text transcript a clip's artefacts carry: one paragraph per speaker turn, with clip time.

Split from :mod:`kinod.analyzers.speech.analyzer`. Written next to the sidecar (via a
temporary file, so a reader never sees half of it) only for a clip with speech: an
empty file beside a silent clip only says "open me" for nothing.
"""

from __future__ import annotations

from kinod.analyzers.base import ClipInfo
from kinod.analyzers.speech.transcribe import SegmentOut

TRANSCRIPT_FILE = "transcript.txt"


def _clock(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000 // 100}"


def transcript_text(segments: list[SegmentOut], speakers: list[str | None]) -> str:
    """Plain text, one paragraph per speaker turn (or per segment without speakers), with clip time."""
    lines: list[str] = []
    turn: list[str] = []
    turn_start = 0.0
    current: str | None = None
    for i, (seg, speaker) in enumerate(zip(segments, speakers, strict=True)):
        if i == 0 or speaker != current or speaker is None:
            if turn:
                lines.append(_paragraph(turn_start, current, turn))
            turn, turn_start, current = [], seg.start, speaker
        turn.append(seg.text)
    if turn:
        lines.append(_paragraph(turn_start, current, turn))
    return "\n\n".join(lines) + ("\n" if lines else "")


def _paragraph(start: float, speaker: str | None, texts: list[str]) -> str:
    who = f"{speaker} " if speaker else ""
    return f"[{_clock(start)}] {who}\n{' '.join(texts)}".replace(" \n", "\n")


def write_transcript(clip: ClipInfo, text: str) -> str:
    clip.artefact_dir.mkdir(parents=True, exist_ok=True)
    tmp = clip.artefact_dir / (TRANSCRIPT_FILE + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(clip.artefact_dir / TRANSCRIPT_FILE)
    return TRANSCRIPT_FILE
