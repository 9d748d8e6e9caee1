"""SRT/WebVTT from speech segments: line length, line count, duration and gap limits."""

from __future__ import annotations

import io
import itertools
import json
from datetime import timedelta
from pathlib import Path

import pytest
import srt as srt_lib
import webvtt
from export_sidecars import make_sidecar

from kinod.export.writers import ExportOptions, write_formats
from kinod.export.writers.subtitles import build_cues, read_cues, render_srt, render_vtt

OPTS = ExportOptions()
LONG = (
    "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country. "
    "My fellow citizens of the world, ask not what America will do for you, but what together we can do."
)


def _words(text: str, start: float, end: float) -> list[dict]:
    words = text.split()
    step = (end - start) / len(words)
    return [
        {"word": " " + w, "start_s": start + i * step, "end_s": start + (i + 1) * step} for i, w in enumerate(words)
    ]


@pytest.mark.parametrize("with_words", [True, False])
def test_long_segment_is_split_within_limits(with_words: bool) -> None:
    seg = {"start_s": 2.0, "end_s": 14.0, "text": LONG, "speaker": None}
    if with_words:
        seg["words"] = _words(LONG, 2.0, 14.0)
    cues = build_cues([seg], OPTS)
    assert len(cues) >= 3
    assert " ".join(" ".join(c.lines) for c in cues) == " ".join(LONG.split())
    for a, b in itertools.pairwise(cues):
        assert b.start - a.end >= OPTS.subtitle_min_gap_s - 1e-6
    for c in cues:
        assert c.lines and len(c.lines) <= OPTS.subtitle_max_lines
        assert all(len(line) <= OPTS.subtitle_max_line_chars for line in c.lines)
        assert c.end - c.start <= OPTS.subtitle_max_duration_s + 1e-6
        assert 2.0 <= c.start < c.end <= 14.0


def test_word_timings_place_the_split() -> None:
    text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
    words = _words(text, 0.0, 16.0)  # one word per second
    cues = build_cues(
        [{"start_s": 0.0, "end_s": 16.0, "text": text, "words": words}],
        ExportOptions(subtitle_max_line_chars=20, subtitle_max_lines=1),
    )
    for c in cues:
        first = c.lines[0].split()[0]
        assert c.start == pytest.approx(text.split().index(first), abs=0.01)


def test_short_cue_is_held_to_the_minimum_but_not_over_the_next() -> None:
    segs = [
        {"start_s": 1.0, "end_s": 1.2, "text": "Hi."},
        {"start_s": 1.5, "end_s": 3.0, "text": "Hello there."},
        {"start_s": 5.0, "end_s": 5.1, "text": "Bye."},
    ]
    cues = build_cues(segs, OPTS)
    assert cues[0].end == pytest.approx(1.5 - OPTS.subtitle_min_gap_s, abs=0.002)
    assert cues[2].end - cues[2].start == pytest.approx(OPTS.subtitle_min_duration_s, abs=0.002)


def test_overlapping_segments_get_a_gap() -> None:
    cues = build_cues([{"start_s": 0, "end_s": 3, "text": "a b"}, {"start_s": 2.5, "end_s": 4, "text": "c d"}], OPTS)
    assert cues[1].start - cues[0].end >= OPTS.subtitle_min_gap_s - 1e-6


def test_srt_and_vtt_syntax_and_speakers() -> None:
    segs = [{"start_s": 3661.5, "end_s": 3663.25, "text": " Ask not.", "speaker": "Speaker 1"}]
    srt = render_srt(build_cues(segs, OPTS, inline_speaker=True))
    vtt = render_vtt(build_cues(segs, OPTS))
    assert srt == "1\n01:01:01,500 --> 01:01:03,250\nSpeaker 1: Ask not.\n"
    assert vtt == "WEBVTT\n\n01:01:01.500 --> 01:01:03.250\n<v Speaker 1>Ask not.\n"
    no_speakers = ExportOptions(subtitle_speakers=False)
    assert "Speaker" not in render_srt(build_cues(segs, no_speakers, inline_speaker=True))


def test_write_formats_writes_subtitles_only_with_a_speech_analysis(tmp_path: Path) -> None:
    plain = make_sidecar(name="no speech.mov")
    assert write_formats(plain, tmp_path, ["srt", "vtt"]) == []
    segs = [{"start_s": 0.0, "end_s": 11.0, "text": LONG, "speaker": "Speaker 1", "words": _words(LONG, 0, 11)}]
    sc = make_sidecar(name="jfk.mov", speech=segs)
    srt, vtt = write_formats(sc, tmp_path, ["srt", "vtt"])
    assert srt.name == "jfk.mov.srt" and vtt.name == "jfk.mov.vtt"
    assert read_cues(srt)[0].lines[0].startswith("Speaker 1: And so,")
    assert read_cues(vtt)[0].speaker == "Speaker 1"
    empty = make_sidecar(name="silent.mov", speech=[])
    assert write_formats(empty, tmp_path, ["srt", "vtt"]) == []
    assert not (tmp_path / "silent.mov.srt").exists() and not (tmp_path / "silent.mov.vtt").exists()


# ---------------------------------------------------------------- jfk: real word timings

JFK = Path(__file__).resolve().parent / "data" / "speech" / "jfk_speech.json"


def _cue_words(cues: list, words: list[dict], prefix: str = "") -> list[tuple[int, int]]:
    """(first, last) word index of each cue, matching the cue texts against the word sequence in order."""
    spans, i = [], 0
    for c in cues:
        text = " ".join(c.lines)
        if prefix and text.startswith(prefix):
            text = text[len(prefix) :].lstrip()
        n = len(text.split())
        assert " ".join(w["word"].strip() for w in words[i : i + n]) == text
        spans.append((i, i + n - 1))
        i += n
    assert i == len(words), "every word is in exactly one cue"
    return spans


def _ms(t: timedelta) -> int:
    return round(t.total_seconds() * 1000)


def _vtt_ms(stamp: str) -> int:
    h, m, rest = stamp.split(":")
    s, ms = rest.split(".")
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def test_jfk_cues_split_between_words_and_srt_equals_vtt(tmp_path: Path) -> None:
    segments = json.loads(JFK.read_text())
    assert any(s["end_s"] - s["start_s"] > OPTS.subtitle_max_duration_s for s in segments)
    sc = make_sidecar(name="jfk.mov", frames=11 * 25, speech=segments)
    srt_path, vtt_path = write_formats(sc, tmp_path, ["srt", "vtt"])
    srt, vtt = read_cues(srt_path), read_cues(vtt_path)
    words = [w for s in segments for w in s["words"]]

    # The same cues in both files: times equal, texts equal but for how the speaker is shown.
    assert [(c.start, c.end) for c in srt] == [(c.start, c.end) for c in vtt]
    for s, v in zip(srt, vtt, strict=True):
        shown = f"{v.speaker}: " if v.speaker else ""
        assert " ".join(s.lines) == shown + " ".join(v.lines)

    # The same, read by independent parsers (srt, webvtt-py).
    theirs_srt = list(srt_lib.parse(srt_path.read_text(encoding="utf-8")))
    theirs_vtt = list(webvtt.from_buffer(io.StringIO(vtt_path.read_text(encoding="utf-8"))))
    assert len(theirs_srt) == len(theirs_vtt) == len(srt)
    for s, v in zip(theirs_srt, theirs_vtt, strict=True):
        assert (_ms(s.start), _ms(s.end)) == (_vtt_ms(v.start), _vtt_ms(v.end))
        assert s.content == (f"{v.voice}: " if v.voice else "") + v.text

    spans = _cue_words(vtt, words)
    eps = 0.0015  # times are written in whole milliseconds
    for (a, b), cue in zip(spans, vtt, strict=True):
        assert cue.start <= words[a]["start_s"] + eps and cue.end >= words[b]["end_s"] - OPTS.subtitle_min_gap_s - eps
        assert cue.end - cue.start <= OPTS.subtitle_max_duration_s + eps
    for (_, last), cue, nxt in zip(spans, vtt, vtt[1:], strict=False):
        # The boundary lies between the last word of one cue and the first of the next.
        assert words[last]["start_s"] < cue.end <= words[last + 1]["start_s"] + eps
        assert words[last]["end_s"] - eps <= nxt.start <= words[last + 1]["start_s"] + eps
    not_cue = next(c for c in vtt if "not" in " ".join(c.lines).split())
    spoken = next(w for w in words if w["word"].strip() == "not")
    assert not_cue.start <= spoken["start_s"] and spoken["end_s"] <= not_cue.end + eps
