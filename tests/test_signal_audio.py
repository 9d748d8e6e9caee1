"""Silence and loudness on generated sound with known levels and intervals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from signal_media import lavfi_clip, run

from kinod.analyzers.base import AudioChunk, AudioNeeds, Needs, Result, StreamAnalyzer
from kinod.analyzers.loudness import LoudnessAnalyzer, LoudnessConfig
from kinod.analyzers.silence import SilenceAnalyzer, SilenceConfig
from kinod.media.probe import probe

TONE_GAP = "aevalsrc='0.3*sin(2*PI*1000*t)*(lt(t,2)+gte(t,5))':s=48000:d=8"
#: 1 kHz at -23 dBFS in both channels: -23 LUFS (BS.1770: K-weighting is ~0 dB at 1 kHz,
#: the -0.691 offset cancels its 997 Hz gain, and two equal channels add 3.01 dB to a sine's -3.01).
MINUS_23 = "aevalsrc='0.070795*sin(2*PI*1000*t)|0.070795*sin(2*PI*1000*t)':s=48000:d=20"
#: Left: a -20 dBFS tone, driven past full scale 4.0-4.5 s (the 24-bit WAV clips it); right: a dead input.
CLIPPED = "aevalsrc='0.1*sin(2*PI*1000*t)+between(t,4,4.5)*clip(3*sin(2*PI*100*t),-1.1,1.1)|0':s=48000:d=8"


class PcmTap(StreamAnalyzer):
    """Keeps the pass-rate PCM, to check taps against what analyzers are fed."""

    name = "pcm"
    version = "1"
    needs = Needs(audio=AudioNeeds())

    def start(self, clip: object) -> None:
        self.chunks: list[np.ndarray] = []

    def on_audio(self, chunk: AudioChunk) -> None:
        self.chunks.append(np.array(chunk.samples))

    def finish(self) -> Result:
        return Result()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("audio")
    lavfi_clip(d / "gap.wav", None, TONE_GAP)
    lavfi_clip(d / "minus23.wav", None, MINUS_23)
    lavfi_clip(d / "clipped.wav", None, CLIPPED)
    # Picture starting half a second after the sound: the clip's time 0 is the first frame.
    lavfi_clip(
        d / "late_picture.mov",
        "testsrc2=s=160x90:r=25:d=8",
        TONE_GAP.replace("d=8", "d=8.5"),
        extra=("-map", "0:v", "-map", "1:a"),
        before=("-itsoffset", "0.5"),
    )
    return d


def test_three_seconds_of_silence_within_10_ms(media: Path, tmp_path: Path) -> None:
    results, _ = run(media / "gap.wav", [SilenceAnalyzer(SilenceConfig(min_duration=1.0))], tmp_path)
    items = results["silence"].items
    assert len(items) == 1
    assert items[0]["start_s"] == pytest.approx(2.0, abs=0.01)
    assert items[0]["end_s"] == pytest.approx(5.0, abs=0.01)
    assert results["silence"].summary["audio_s"] == pytest.approx(8.0, abs=0.01)
    assert [m.category for m in results["silence"].markers] == ["silence"]
    # Shorter than the minimum: not reported.
    strict, _ = run(media / "gap.wav", [SilenceAnalyzer(SilenceConfig(min_duration=3.5))], tmp_path)
    assert strict["silence"].items == []


def test_silence_is_on_the_clip_timeline_when_picture_starts_late(media: Path, tmp_path: Path) -> None:
    path = media / "late_picture.mov"
    pr = probe(path)
    assert pr.video_start_s - pr.audio_start_s == pytest.approx(0.5, abs=0.05)
    pcm = PcmTap()
    results, _ = run(path, [SilenceAnalyzer(SilenceConfig(min_duration=1.0)), pcm], tmp_path)
    samples = np.concatenate(pcm.chunks)[:, 0]
    edges = np.diff(np.concatenate(([0], (np.abs(samples) < 1e-4).view(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = int(np.argmax(ends - starts))  # the gap, not a zero crossing of the tone
    item = results["silence"].items[0]
    # The tap and the PCM that analyzers get agree to well within 10 ms ...
    assert item["start_s"] == pytest.approx(starts[longest] / 16000, abs=0.01)
    assert item["end_s"] == pytest.approx(ends[longest] / 16000, abs=0.01)
    # ... and both put the sound's 2.0 s where the picture's clock says it is.
    offset = pr.video_start_s - pr.audio_start_s
    assert item["start_s"] == pytest.approx(2.0 - offset, abs=0.01)
    assert item["start_frame"] == round((2.0 - offset) * 25)


def test_minus_23_lufs_tone(media: Path, tmp_path: Path) -> None:
    results, _ = run(media / "minus23.wav", [LoudnessAnalyzer()], tmp_path)
    s = results["loudness"].summary
    assert s["integrated_lufs"] == pytest.approx(-23.0, abs=0.5)
    assert s["loudness_range_lu"] == pytest.approx(0.0, abs=0.5)
    assert s["true_peak_dbtp"] == pytest.approx(-23.0, abs=0.3)
    assert [c["peak_dbfs"] for c in s["channels"]] == pytest.approx([-23.0, -23.0], abs=0.05)
    assert [c["rms_dbfs"] for c in s["channels"]] == pytest.approx([-26.01, -26.01], abs=0.05)
    assert s["empty_channels"] == [] and s["clipping_channels"] == []
    assert s["sample_rate"] == 48000
    assert len(s["short_term_lufs"]) == 20 and s["short_term_lufs"][10] == pytest.approx(-23.0, abs=0.5)
    assert results["loudness"].markers == []


def test_clipping_and_an_empty_channel(media: Path, tmp_path: Path) -> None:
    results, _ = run(media / "clipped.wav", [LoudnessAnalyzer()], tmp_path)
    r = results["loudness"]
    left, right = r.summary["channels"]
    assert right["empty"] is True and right["peak_dbfs"] is None
    assert left["empty"] is False and left["clip_events"] > 0
    assert r.summary["empty_channels"] == [2] and r.summary["clipping_channels"] == [1]
    (clip,) = r.items
    assert clip["channel"] == 1
    assert clip["start_s"] == pytest.approx(4.0, abs=0.01)
    assert clip["end_s"] == pytest.approx(4.5, abs=0.01)
    names = sorted(m.name for m in r.markers)
    assert names == ["Audio channel 2 is empty", "Audio clipping ch1"]
    assert all(m.category == "problem" for m in r.markers)
    # Sample peak instead of true peak, and a clip level above what the signal reaches.
    calm = LoudnessAnalyzer(LoudnessConfig(true_peak=False, clip_level_dbfs=1.0))
    quiet, _ = run(media / "clipped.wav", [calm], tmp_path)
    assert quiet["loudness"].items == []
    assert quiet["loudness"].summary["sample_peak_dbfs"] == pytest.approx(0.0, abs=0.01)  # 24-bit full scale


def test_picture_only_clip_has_no_sound_results(tmp_path: Path) -> None:
    clip = lavfi_clip(tmp_path / "mute.mp4", "testsrc2=s=64x36:r=10:d=1")
    results, _ = run(clip, [SilenceAnalyzer(), LoudnessAnalyzer()], tmp_path)
    assert results["silence"].summary == {"intervals": 0, "has_audio": False}
    assert results["loudness"].warnings == ["the clip has no sound"]
