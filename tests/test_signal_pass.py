"""The decode pass behind the signal analyzers: streams, sampling, filter taps, failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from signal_media import FF, lavfi_clip, run, schema, sidecar_for

from kinod.analyzers.base import (
    Analyzer,
    AnalyzerError,
    ClipInfo,
    FilterEvent,
    FilterTap,
    Frame,
    FrameNeeds,
    Needs,
    Result,
    StreamAnalyzer,
    StreamEnd,
)
from kinod.analyzers.black import BlackAnalyzer
from kinod.analyzers.dynamism import DynamismAnalyzer
from kinod.analyzers.freeze import FreezeAnalyzer
from kinod.analyzers.loudness import LoudnessAnalyzer
from kinod.analyzers.picture import PictureAnalyzer
from kinod.analyzers.shots import ShotsAnalyzer
from kinod.analyzers.silence import SilenceAnalyzer
from kinod.analyzers.technical import TechnicalAnalyzer
from kinod.media.decode import DecodeError, DecodePass, StreamSpec
from kinod.media.probe import probe

#: Frame n has luma 2n (lossless), so a frame's content says which frame it is.
NUMBERED = "color=black:s=96x54:r=25:d=4,format=yuv420p,geq=lum='2*N':cb=128:cr=128"


class Collect(StreamAnalyzer):
    """Records what the pass hands over: (index, mean) per frame, tap events, the end."""

    name = "collect"
    version = "1"

    def __init__(self, needs: Needs, chain: str = "signalstats", fail_at: int | None = None) -> None:
        self.declared, self.chain, self.fail_at = needs, chain, fail_at
        super().__init__()

    def configure_needs(self, needs: Needs) -> Needs:
        return self.declared

    def filter_chain(self, tap: str) -> str:
        if self.chain == "raise":
            raise ValueError("no such chain")
        return self.chain

    def start(self, clip: ClipInfo) -> None:
        self.frames: list[tuple[int, float, tuple[int, ...]]] = []
        self.events: list[FilterEvent] = []
        self.end: StreamEnd | None = None

    def on_frame(self, frame: Frame) -> None:
        if frame.index == self.fail_at:
            raise RuntimeError("boom at frame 10")
        self.frames.append((frame.index, float(frame.image.mean()), frame.image.shape))

    def on_filter(self, event: FilterEvent) -> None:
        self.events.append(event)

    def on_end(self, end: StreamEnd) -> None:
        self.end = end

    def finish(self) -> Result:
        self.raise_if_failed()
        return Result()


@pytest.fixture(scope="module")
def numbered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return lavfi_clip(tmp_path_factory.mktemp("pass") / "numbered.mp4", NUMBERED)


def test_sampled_stream_carries_exactly_the_sample_frames(numbered: Path, tmp_path: Path) -> None:
    every = Collect(Needs(frames=FrameNeeds(every_frame=True, width=256, scaling="point")))
    sampled = Collect(Needs(frames=FrameNeeds(every_frame=False, sample_fps=3, scaling="area")))
    _, stats = run(numbered, [every, sampled], tmp_path)
    assert stats.frames == 100
    assert [f[0] for f in every.frames] == list(range(100))
    # The first frame of each third of a second: ceil(k * 25 / 3).
    assert [f[0] for f in sampled.frames] == [0, 9, 17, 25, 34, 42, 50, 59, 67, 75, 84, 92]
    by_index = {i: mean for i, mean, _ in every.frames}
    for index, mean, _shape in sampled.frames:
        assert mean == pytest.approx(by_index[index], abs=1.0)
    # A 96 px source is narrower than twice 256: point frames come at its own size.
    assert every.frames[0][2] == (54, 96, 3)
    assert every.end == StreamEnd(frames=100, audio_seconds=0.0)


def test_video_tap_events_land_on_their_frames(numbered: Path, tmp_path: Path) -> None:
    tap = Collect(Needs(filters=(FilterTap("stats", "video"),)))
    _, stats = run(numbered, [tap], tmp_path)
    # No frame stream at all: the pass counts frames itself to tell where the clip ends.
    assert stats.frames == 100 and tap.end is not None and tap.end.frames == 100
    assert len(tap.events) == 100
    for e in tap.events:
        assert float(e.values["lavfi.signalstats.YAVG"]) == pytest.approx(2 * e.frame, abs=0.5)
        assert e.seconds == pytest.approx(e.frame / 25)
    assert (tap.events[0].width, tap.events[0].height) == (96, 54)


def test_point_streams_are_decimated_only_from_twice_their_width(tmp_path: Path) -> None:
    big = lavfi_clip(tmp_path / "big.mp4", "testsrc2=s=1280x720:r=25:d=0.04")
    dp = DecodePass(big, probe(big), ffmpeg=FF)
    assert dp.stream_spec(FrameNeeds(width=256, scaling="point")) == StreamSpec(256, 144, "point")
    assert dp.stream_spec(FrameNeeds(width=800, scaling="point")) == StreamSpec(1280, 720, "point")
    assert dp.stream_spec(FrameNeeds(every_frame=False, sample_fps=2)).step == pytest.approx(2 / 25)
    assert dp.tap_spec() == StreamSpec(256, 144, "point")


def test_a_failing_analyzer_is_cut_off_and_the_others_finish(numbered: Path, tmp_path: Path) -> None:
    bad = Collect(Needs(frames=FrameNeeds()), fail_at=10)
    black = BlackAnalyzer()
    pr = probe(numbered)
    info = ClipInfo(numbered, pr, pr.timeline_rate, pr.frames, tmp_path)
    for a in (bad, black):
        a.start(info)
    stats = DecodePass(numbered, pr, ffmpeg=FF).run([bad, black])
    assert stats.analyzer_errors == {"collect": "RuntimeError: boom at frame 10"}
    assert bad.failure is not None and [f[0] for f in bad.frames] == list(range(10))
    assert bad.end is None  # cut off: no more hooks, not even the end
    with pytest.raises(AnalyzerError, match="boom at frame 10"):
        bad.finish()
    assert black.finish().summary["frames_seen"] == 100


def test_a_bad_filter_chain_costs_only_its_analyzer(numbered: Path, tmp_path: Path) -> None:
    bad = Collect(Needs(filters=(FilterTap("x", "video"),)), chain="raise")
    results_ok = BlackAnalyzer()
    pr = probe(numbered)
    info = ClipInfo(numbered, pr, pr.timeline_rate, pr.frames, tmp_path)
    for a in (bad, results_ok):
        a.start(info)
    stats = DecodePass(numbered, pr, ffmpeg=FF).run([bad, results_ok])
    assert "no such chain" in stats.analyzer_errors["collect"]
    assert results_ok.finish().summary["frames_seen"] == 100


def test_cancel_and_unreadable_input(numbered: Path, tmp_path: Path) -> None:
    pr = probe(numbered)
    a = Collect(Needs(frames=FrameNeeds()))
    a.start(ClipInfo(numbered, pr, pr.timeline_rate, pr.frames, tmp_path))
    with pytest.raises(DecodeError, match="cancelled"):
        DecodePass(numbered, pr, ffmpeg=FF).run([a], cancelled=lambda: True)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(numbered.read_bytes()[:2000])
    with pytest.raises(DecodeError, match=r"broken\.mp4"):
        DecodePass(broken, pr, ffmpeg=FF).run([a])


def everything() -> list[Analyzer]:
    return [
        ShotsAnalyzer(),
        BlackAnalyzer(),
        FreezeAnalyzer(),
        SilenceAnalyzer(),
        LoudnessAnalyzer(),
        DynamismAnalyzer(),
        PictureAnalyzer(),
        TechnicalAnalyzer(),
    ]


def test_every_analyzer_in_one_pass_makes_a_valid_sidecar(tmp_path: Path) -> None:
    clip = lavfi_clip(
        tmp_path / "all.mov",
        "testsrc2=s=320x180:r=25:d=3[a];color=black:s=320x180:r=25:d=3[b];[a][b]concat",
        "aevalsrc='0.1*sin(2*PI*440*t)*lt(t,3)':s=48000:d=6",
        seconds=6,
    )
    analyzers = everything()
    results, stats = run(clip, analyzers, tmp_path / "kf")
    assert stats.analyzer_errors == {} and stats.frames == 150
    data: dict[str, Any] = sidecar_for(clip, analyzers, results)
    jsonschema.validate(data, schema())
    assert set(data["analyses"]) == {a.name for a in analyzers}
    categories = {m["category"] for m in data["markers"]}
    assert {"shot", "black", "freeze", "silence"} <= categories
    black = data["analyses"]["black"]["items"][0]
    assert (black["start_frame"], black["end_frame"], black["start_tc"]) == (75, 150, "00:00:03:00")
    for name in results["shots"].artefacts:
        assert (tmp_path / "kf" / name).stat().st_size > 0
