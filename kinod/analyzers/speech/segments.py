"""Transcribed segments as the speech result states them: cleaned, in frames, per speaker, per language.

Split from :mod:`kinod.analyzers.speech.analyzer`, which assembles the result from these
pieces. Times are clamped into the audio and word times kept monotonic, because Whisper
can place a word a little before the previous one or past the end of the clip; frame
ranges are ``[start, end)`` at the clip's exact rate.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Any

from kinod.analyzers.speech.speakers import SpeakerResult
from kinod.analyzers.speech.transcribe import SegmentOut, TranscriptOut, WordOut


def confidence(avg_logprob: float) -> float:
    """exp(average token log-probability): the geometric-mean token probability, in 0..1."""
    return float(min(1.0, max(0.0, math.exp(avg_logprob))))


def frame_range(start_s: float, end_s: float, rate: Fraction, total: int) -> tuple[int, int]:
    """[start, end) frame range at the clip's rate; at least one frame; inside the clip when its length is known."""
    fps = rate.numerator / rate.denominator
    # The epsilon keeps 1.2 s * 25 fps at frame 30 despite binary floating point.
    start = math.floor(start_s * fps + 1e-6)
    end = math.ceil(end_s * fps - 1e-6)
    if total > 0:
        start = min(start, total - 1)
        end = min(end, total)
    return start, max(end, start + 1)


def frame_keys(start_s: float, end_s: float, rate: Fraction, total: int) -> dict[str, int]:
    start, end = frame_range(start_s, end_s, rate, total)
    return {"start_frame": start, "end_frame": end}


def clean_segments(segments: list[SegmentOut], duration: float) -> list[SegmentOut]:
    """Drop empty segments; keep every time inside the audio and word times monotonic.

    Whisper's words carry their leading space; a word without one continues the word
    before it (a piece: "-starter", "'s"), so it is joined to it. Backends whose words
    carry no spaces at all (whisperX) are left as they are.
    """
    out = []
    last = 0.0
    for seg in segments:
        if not seg.text.strip():
            continue
        seg.start = min(max(seg.start, 0.0), duration)
        seg.end = min(max(seg.end, seg.start), duration)
        words: list[WordOut] = []
        spaced = any(w.word[:1].isspace() for w in seg.words)
        for w in seg.words:
            piece = spaced and bool(words) and bool(w.word) and not w.word[:1].isspace()
            w.word = w.word.strip()
            if not w.word:
                continue
            if piece:  # "self" + "-starter": one word, never "self -starter"
                prev = words[-1]
                prev.word += w.word
                prev.end = min(max(w.end, prev.end), duration)
                prev.probability = min(prev.probability, w.probability)
                continue
            w.start = min(max(w.start, last, 0.0), duration)
            w.end = min(max(w.end, w.start), duration)
            last = w.start
            words.append(w)
        seg.words = words
        if words:
            seg.start = min(seg.start, words[0].start)
            seg.end = max(seg.end, words[-1].end)
        out.append(seg)
    return out


def segment_items(
    segments: list[SegmentOut], names: list[str | None], rate: Fraction, total: int
) -> list[dict[str, Any]]:
    """The result's items: one per segment, with its speaker and its words, in seconds and frames."""
    items: list[dict[str, Any]] = []
    for seg, speaker in zip(segments, names, strict=True):
        start_f, end_f = frame_range(seg.start, seg.end, rate, total)
        items.append(
            {
                "start_frame": start_f,
                "end_frame": end_f,
                "start_s": round(seg.start, 3),
                "end_s": round(seg.end, 3),
                "text": seg.text,
                "language": seg.language,
                "confidence": round(confidence(seg.avg_logprob), 4),
                "avg_logprob": round(seg.avg_logprob, 4),
                "no_speech_probability": round(seg.no_speech_prob, 4),
                "speaker": speaker,
                "words": [
                    {
                        "word": w.word,
                        "start_s": round(w.start, 3),
                        "end_s": round(w.end, 3),
                        **frame_keys(w.start, w.end, rate, total),
                        "probability": round(w.probability, 4),
                    }
                    for w in seg.words
                ],
            }
        )
    return items


def speaker_table(
    segments: list[SegmentOut], speakers: SpeakerResult | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per speaker: segments, speech time and words (summary rows), and its profile by name."""
    speaker_rows = []
    profiles: dict[str, Any] = {}
    if speakers is not None:
        for label in sorted({lab for lab in speakers.labels if lab >= 0}):
            mine = [s for s, lab in zip(segments, speakers.labels, strict=True) if lab == label]
            speaker_rows.append(
                {
                    "name": f"Speaker {label + 1}",
                    "segments": len(mine),
                    "speech_s": round(sum(s.end - s.start for s in mine), 3),
                    "words": sum(len(s.words) for s in mine),
                }
            )
            if label in speakers.profiles:
                profiles[f"Speaker {label + 1}"] = speakers.profiles[label]
    return speaker_rows, profiles


def language_summary(
    transcript: TranscriptOut, segments: list[SegmentOut], rate: Fraction | None = None, total: int = 0
) -> dict[str, Any]:
    """Clip language (the one with most speech time), per-language time and the switches between segments."""
    seconds: dict[str, float] = {}
    for s in segments:
        seconds[s.language] = seconds.get(s.language, 0.0) + (s.end - s.start)
    language = max(seconds, key=lambda k: seconds[k]) if seconds else transcript.language
    total_s = sum(seconds.values())
    if language == transcript.language:
        probability = transcript.language_probability
    else:
        probability = seconds[language] / total_s if total_s else 0.0
    switches = []
    for prev, cur in itertools.pairwise(segments):
        if cur.language != prev.language:
            row: dict[str, Any] = {"start_s": round(cur.start, 3), "from": prev.language, "to": cur.language}
            if rate is not None:
                row["start_frame"] = frame_range(cur.start, cur.end, rate, total)[0]
            switches.append(row)
    return {
        "language": language,
        "language_probability": round(float(probability), 4),
        "detected_language": {
            "language": transcript.language,
            "probability": round(transcript.language_probability, 4),
        },
        "top_languages": [{"language": lang, "probability": round(p, 4)} for lang, p in transcript.top_languages],
        "languages_s": {k: round(v, 3) for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])},
        "language_switches": switches,
    }


def speaker_turns(speakers: SpeakerResult | None) -> list[dict[str, Any]]:
    """Who speaks when, from the diarization itself (ge2e backend): times in seconds, names as in the items."""
    if speakers is None or not speakers.turns:
        return []
    return [{"start_s": a, "end_s": b, "speaker": f"Speaker {lab + 1}"} for a, b, lab in speakers.turns]
