"""What the outputs say about a clip's ends, its words and its speakers, read back as an editor would."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
from export_sidecars import make_sidecar
from media import ffmpeg

from kinod.analyzers.base import Marker, Result
from kinod.analyzers.speech.segments import clean_segments
from kinod.analyzers.speech.transcribe import SegmentOut, WordOut
from kinod.export.sidecar import analysis_record, build_sidecar, marker_record
from kinod.export.writers import ExportOptions, write_formats
from kinod.export.writers.subtitles import build_cues, read_cues, render_srt
from kinod.library.ui.views import strip
from kinod.media.probe import probe
from kinod.media.timebase import TimeBase


def test_a_marker_never_runs_past_the_clip(tmp_path: Path) -> None:
    clip = tmp_path / "crushed.mov"
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=160x90:r=25:d=11", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(clip))
    pr = probe(clip)
    assert pr.frames == 275
    tb = TimeBase.from_probe(pr)
    late = Marker("problem", 260, "Crushed blacks", duration_frames=25)  # frames 260-285 of a 275-frame clip
    after = Marker("problem", 290, "After the end")
    sc = build_sidecar(source_path=clip, fingerprint="f", probe=pr, analyses={},
                       markers=[marker_record(m, "picture", tb) for m in (late, after)], errors=[])
    sc = json.loads(json.dumps(sc))
    ends = [m["frame"] + max(m["duration_frames"], 1) for m in sc["markers"]]
    assert ends == [275, 275]
    assert sc["markers"][1]["seconds"] == 274 / 25 and sc["markers"][1]["tc"] == "00:00:10:24"
    for row in strip(sc, pr.duration_s):
        for mark in row["marks"]:
            assert mark["left"] + mark["width"] <= 100.0
    (path,) = write_formats(sc, tmp_path, ["otio"])
    (tl_clip,) = otio.adapters.read_from_file(str(path)).find_clips()
    for m in tl_clip.markers:
        assert m.marked_range.end_time_exclusive().value <= 275


def test_word_pieces_are_joined_without_a_space() -> None:
    words = [WordOut(" a", 0.0, 0.2, 0.9), WordOut(" self", 0.3, 0.5, 0.9), WordOut("-starter", 0.5, 0.9, 0.8),
             WordOut(" who", 1.0, 1.2, 0.9)]
    (seg,) = clean_segments([SegmentOut(0.0, 1.2, " a self-starter who", -0.1, 0.0, words, "en")], 2.0)
    assert [w.word for w in seg.words] == ["a", "self-starter", "who"]
    assert seg.words[1].end == 0.9 and seg.words[1].probability == 0.8
    # words without their spaces (whisperX) are words, not pieces
    plain = [WordOut("one", 0.0, 0.2, 0.9), WordOut("two", 0.3, 0.5, 0.9)]
    (seg,) = clean_segments([SegmentOut(0.0, 0.5, "one two", -0.1, 0.0, plain, "en")], 1.0)
    assert [w.word for w in seg.words] == ["one", "two"]


def _seg(start: float, text: str, speaker: str | None) -> dict:
    words = [{"word": w, "start_s": start + 0.5 * i, "end_s": start + 0.5 * i + 0.4}
             for i, w in enumerate(text.split())]
    return {"start_s": start, "end_s": words[-1]["end_s"], "text": text, "speaker": speaker, "words": words}


LONG = "and so my fellow americans ask not what your country can do for you ask what you can do for your country"


def test_speaker_labels_are_on_every_cue_or_on_none() -> None:
    opts = ExportOptions(subtitle_max_line_chars=20, subtitle_max_lines=2)
    every = build_cues([_seg(0.0, LONG, "Speaker 1"), _seg(20.0, "thank you", "Speaker 2")], opts,
                       inline_speaker=True)
    assert len(every) > 2
    assert all(c.lines[0].startswith(("Speaker 1: ", "Speaker 2: ")) for c in every)
    mixed = build_cues([_seg(0.0, LONG, "Speaker 1"), _seg(20.0, "thank you", None)], opts, inline_speaker=True)
    assert not any("Speaker" in line for c in mixed for line in c.lines)
    srt = render_srt(build_cues([_seg(0.0, LONG, "Speaker 1")], ExportOptions(subtitle_speakers=False),
                                inline_speaker=True))
    assert "Speaker" not in srt


def test_no_subtitles_or_transcript_for_a_clip_without_speech(tmp_path: Path) -> None:
    silent = make_sidecar(name="broll.mov", audio_channels=0)
    silent["analyses"]["speech"] = analysis_record(
        "speech", "1", {}, "x", Result(summary={"status": "no_audio", "transcript": ""}), 0.1,
        TimeBase(Fraction(25)))
    assert write_formats(silent, tmp_path, ["srt", "vtt", "otio"]) == [tmp_path / "broll.mov.otio"]
    assert not list(tmp_path.glob("*.srt")) and not list(tmp_path.glob("*.vtt"))
    spoken = make_sidecar(name="talk.mov", speech=[_seg(0.0, LONG, "Speaker 1")])
    srt, vtt = write_formats(spoken, tmp_path, ["srt", "vtt"])
    assert read_cues(srt) and read_cues(vtt)


def test_slate_roll_scene_take_fill_the_card_report(tmp_path: Path) -> None:
    from kinod.config import load_config
    from kinod.run.card_outputs import card_output_dir, finish_card

    card = tmp_path / "footage" / "DAY1"
    card.mkdir(parents=True)
    clip = card / "take7.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=160x90:r=25:d=1", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(clip))
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[[watch.roots]]\npath = "{tmp_path / "footage"}"\n[output]\nroot = "{tmp_path / "out"}"\n'
                   f'[state]\ndir = "{tmp_path / "var"}"\n')
    config = load_config(cfg)
    pr = probe(clip)
    tb = TimeBase.from_probe(pr)
    ocr = analysis_record("ocr", "1", {}, "x", Result(summary={"slate": {"roll": "A012", "scene": "42", "take": "7"}}),
                          0.1, tb)
    out = card_output_dir(config, card)
    out.mkdir(parents=True, exist_ok=True)
    side = out / "take7.mp4.kino.json"
    side.write_text(json.dumps(build_sidecar(source_path=clip, fingerprint="f", probe=pr, analyses={"ocr": ocr},
                                             markers=[], errors=[])))
    finish_card(config, card, [side])
    report = json.loads((out / "card.kino.json").read_text())
    (rec,) = report["clips"]
    assert (rec["reel"], rec["scene"], rec["take"]) == ("A012", "42", "7")
    page = (out / "card.html").read_text()
    assert "<td>A012</td><td>42</td><td>7</td>" in page
    sc = json.loads(side.read_text())
    fcp7, edl = write_formats(sc, tmp_path / "nle", ["fcp7", "edl"])
    xml = fcp7.read_text()
    assert "<scene>42</scene>" in xml and "<shottake>7</shottake>" in xml
    assert [c.name for c in otio.adapters.read_from_file(str(fcp7), adapter_name="fcp_xml").find_clips()]
    assert "A012" in edl.read_text()  # the roll is the reel where the camera gave none
