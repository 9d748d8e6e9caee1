"""Black, freeze, inactivity and dynamism on generated clips with known intervals."""

from __future__ import annotations

from pathlib import Path

import pytest
from signal_media import lavfi_clip, run

from kinod.analyzers.black import BlackAnalyzer, BlackConfig
from kinod.analyzers.dynamism import DynamismAnalyzer, DynamismConfig
from kinod.analyzers.freeze import FreezeAnalyzer, FreezeConfig

# 25 fps: moving 0-3 s, black 3-5 s, one frame held 5-10 s, moving 10-12 s.
BLACK_FREEZE = (
    "testsrc2=s=160x90:r=25:d=3[a];color=black:s=160x90:r=25:d=2[b];"
    "testsrc2=s=160x90:r=25:d=1,trim=start_frame=10:end_frame=11,loop=loop=124:size=1,setpts=N/25/TB[c];"
    "testsrc2=s=160x90:r=25:d=4,trim=start_frame=50,setpts=PTS-STARTPTS[d];[a][b][c][d]concat=n=4"
)
# 10 fps, 30 s: moving 0-10 s, held 10-25 s, moving 25-30 s; a tone except 10-25 s.
INACTIVE_VIDEO = (
    "testsrc2=s=160x90:r=10:d=10[a];"
    "testsrc2=s=160x90:r=10:d=1,trim=start_frame=3:end_frame=4,loop=loop=149:size=1,setpts=N/10/TB[b];"
    "testsrc2=s=160x90:r=10:d=20,trim=start_frame=150,setpts=PTS-STARTPTS[c];[a][b][c]concat=n=3"
)
MOVING = "cellauto=s=64x36:rule=110:r=5:random_fill_ratio=0.5:full=0,trim=duration={d}"
INACTIVE_AUDIO = "aevalsrc='0.3*sin(2*PI*440*t)*(lt(t,10)+gte(t,25))':s=48000:d=30"


def spans(items: list[dict], kind: str | None = None) -> list[tuple[int, int]]:
    return [(i["start_frame"], i["end_frame"]) for i in items if kind is None or i.get("kind") == kind]


def close(got: list[tuple[int, int]], want: list[tuple[int, int]], tol: int = 1) -> bool:
    return len(got) == len(want) and all(
        abs(a - c) <= tol and abs(b - d) <= tol for (a, b), (c, d) in zip(got, want, strict=True)
    )


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("video")
    lavfi_clip(d / "black_freeze.mp4", BLACK_FREEZE)
    lavfi_clip(d / "inactive.mov", INACTIVE_VIDEO, INACTIVE_AUDIO, seconds=30)
    lavfi_clip(d / "still_with_sound.mov", INACTIVE_VIDEO, "sine=f=440:r=48000", seconds=30)
    lavfi_clip(d / "ends_black.mp4", "testsrc2=s=160x90:r=25:d=2[a];color=black:s=160x90:r=25:d=3[b];[a][b]concat")
    return d


def test_black_gap_and_frozen_frame_within_one_frame(media: Path, tmp_path: Path) -> None:
    black, freeze = BlackAnalyzer(), FreezeAnalyzer()
    results, stats = run(media / "black_freeze.mp4", [black, freeze], tmp_path)
    assert stats.frames == 300
    assert close(spans(results["black"].items), [(75, 125)])
    assert results["black"].summary["black_s"] == pytest.approx(2.0, abs=0.04)
    # The black stretch is also a still picture (2 s at d=2); the held frame follows.
    assert close(spans(results["freeze"].items, "freeze"), [(75, 125), (125, 250)])
    markers = {(m.category, m.frame, m.duration_frames) for m in results["freeze"].markers}
    assert ("freeze", 125, 125) in markers
    assert [m.category for m in results["black"].markers] == ["black"]


def test_black_min_duration_and_thresholds_are_settings(media: Path, tmp_path: Path) -> None:
    longer = BlackAnalyzer(BlackConfig(min_duration=2.5))
    loose = FreezeAnalyzer(FreezeConfig(min_duration=4.0, inactive=False))
    results, _ = run(media / "black_freeze.mp4", [longer, loose], tmp_path)
    assert results["black"].items == []
    assert close(spans(results["freeze"].items), [(125, 250)])
    assert results["freeze"].summary["inactive_periods"] is None


def test_black_running_to_the_end_is_closed_there(media: Path, tmp_path: Path) -> None:
    results, _ = run(
        media / "ends_black.mp4", [BlackAnalyzer(), FreezeAnalyzer(FreezeConfig(inactive=False))], tmp_path
    )
    assert close(spans(results["black"].items), [(50, 125)])
    assert results["black"].summary["ends_black"] is True
    assert close(spans(results["freeze"].items), [(50, 125)])


def test_inactive_is_still_picture_and_silence(media: Path, tmp_path: Path) -> None:
    results, stats = run(media / "inactive.mov", [FreezeAnalyzer()], tmp_path)
    items = results["freeze"].items
    assert stats.frames == 300
    assert close(spans(items, "inactive"), [(100, 250)])
    assert close(spans(items, "freeze"), [(100, 250)])
    assert any(m.category == "inactive" and m.frame == 100 for m in results["freeze"].markers)
    # The same still picture under a steady tone is frozen but not inactive.
    loud, _ = run(media / "still_with_sound.mov", [FreezeAnalyzer()], tmp_path)
    assert close(spans(loud["freeze"].items, "freeze"), [(100, 250)])
    assert spans(loud["freeze"].items, "inactive") == []


def test_inactive_without_sound_is_judged_on_the_picture(media: Path, tmp_path: Path) -> None:
    config = FreezeConfig(inactive_min_duration=4.0)
    results, _ = run(media / "black_freeze.mp4", [FreezeAnalyzer(config)], tmp_path)
    assert close(spans(results["freeze"].items, "inactive"), [(125, 250)])


@pytest.fixture(scope="module")
def three_minutes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("dynamism")
    # 5 fps keeps three minutes small; grain keeps the still picture from being bit-exact.
    lavfi_clip(d / "static.mp4", "color=gray:s=64x36:r=5:d=180,noise=alls=4:allf=t")
    # A scrolling cellular automaton: every pixel keeps changing (testsrc2 is too still for n=0.05).
    lavfi_clip(d / "moving.mp4", MOVING.format(d=180))
    lavfi_clip(
        d / "mixed.mp4",
        "color=gray:s=64x36:r=5:d=100,noise=alls=4:allf=t[a];" + MOVING.format(d=80) + "[b];[a][b]concat",
    )
    return d


def test_dynamism_static_and_moving(three_minutes: Path, tmp_path: Path) -> None:
    static, _ = run(three_minutes / "static.mp4", [DynamismAnalyzer()], tmp_path)
    s = static["dynamism"]
    assert s.summary["verdict"] == "static"
    assert s.summary["segments"] == 3 and s.summary["segments_with_freeze"] == 3
    assert [(i["start_frame"], i["end_frame"]) for i in s.items] == [(0, 300), (300, 600), (600, 900)]
    assert any(m.name == "Static clip" for m in s.markers)
    moving, _ = run(three_minutes / "moving.mp4", [DynamismAnalyzer()], tmp_path)
    assert moving["dynamism"].summary["verdict"] == "dynamic"
    assert moving["dynamism"].summary["freeze_ratio"] == 0.0


def test_dynamism_counts_freezes_per_segment(three_minutes: Path, tmp_path: Path) -> None:
    # Still 0-100 s: the first segment holds a 60 s freeze, the second only 40 s.
    mixed, _ = run(three_minutes / "mixed.mp4", [DynamismAnalyzer()], tmp_path)
    m = mixed["dynamism"]
    assert [i["has_freeze"] for i in m.items] == [True, False, False]
    assert m.items[1]["longest_freeze_s"] == pytest.approx(40.0, abs=0.4)
    assert m.summary["freeze_ratio"] == pytest.approx(1 / 3, abs=1e-3)
    assert m.summary["verdict"] == "dynamic"
    lenient, _ = run(three_minutes / "mixed.mp4", [DynamismAnalyzer(DynamismConfig(static_ratio=0.3))], tmp_path)
    assert lenient["dynamism"].summary["verdict"] == "static"


def test_dynamism_of_a_short_clip_is_undetermined(media: Path, tmp_path: Path) -> None:
    results, _ = run(media / "black_freeze.mp4", [DynamismAnalyzer()], tmp_path)
    assert results["dynamism"].summary["verdict"] == "undetermined"
    assert results["dynamism"].items[0]["judged"] is False
