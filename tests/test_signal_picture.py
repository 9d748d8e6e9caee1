"""Picture statistics: per-sample arrays, per-shot summaries, the measures themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
from signal_media import lavfi_clip, run

from kinod.analyzers.picture import PictureAnalyzer, PictureConfig
from kinod.analyzers.shots import ShotsAnalyzer, ShotsConfig

STILL = "mandelbrot=s=640x360:end_pts=1,trim=end_frame=1,loop=loop=-1:size=1,setpts=N/25/TB,fps=25"
PAN = STILL + ",crop=320:180:'mod(n*3,300)':'mod(n,150)'"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("picture")
    # 0-2 s solid red, 2-4 s a moving detailed picture, 4-6 s the same picture blurred and held.
    graph = (
        "color=red:s=320x180:r=25:d=2[a];"
        f"{PAN},trim=end_frame=50,setpts=PTS-STARTPTS[b];"
        f"{STILL},crop=320:180:0:0,boxblur=8,trim=end_frame=50,setpts=PTS-STARTPTS[c];"
        "[a][b][c]concat=n=3"
    )
    return lavfi_clip(d / "three.mp4", graph)


def test_samples_are_compact_arrays_on_exact_frames(clip: Path, tmp_path: Path) -> None:
    results, _ = run(clip, [PictureAnalyzer()], tmp_path)
    samples = results["picture"].summary["samples"]
    # 2 per second at 25 fps: the first frame of each half second.
    assert samples["frame"] == [0, 13, 25, 38, 50, 63, 75, 88, 100, 113, 125, 138]
    lengths = {k: len(v) for k, v in samples.items()}
    assert set(lengths.values()) == {12}
    assert samples["motion"][0] is None
    assert all(isinstance(v, (int, float)) for v in samples["luma"])
    # No shots analyzer in the pass: one item for the whole clip.
    assert results["picture"].summary["per"] == "clip"
    assert [(i["start_frame"], i["end_frame"]) for i in results["picture"].items] == [(0, 139)]


def test_measures_tell_the_parts_apart(clip: Path, tmp_path: Path) -> None:
    results, _ = run(clip, [PictureAnalyzer()], tmp_path)
    s = results["picture"].summary["samples"]
    red, moving, blurred = slice(0, 4), slice(4, 8), slice(8, 12)
    assert s["dominant"][0][0].startswith(("#f", "#e")) and s["dominant"][0][0][3:] < "20"
    assert s["share"][0][0] > 0.95
    assert max(s["contrast"][red]) < 0.01 and min(s["contrast"][moving]) > 0.05
    assert min(s["colourfulness"][red]) > 50
    assert min(s["sharpness"][moving]) > 5 * max(s["sharpness"][blurred])
    assert min(s["motion"][5:8]) > 0.01
    assert max(s["motion"][9:12]) < 0.002  # held, blurred frame: no motion
    assert s["luma"][0] == pytest.approx(0.30, abs=0.05)  # BT.601 luma of pure red


def test_summary_per_shot_when_shots_ran_in_the_same_pass(clip: Path, tmp_path: Path) -> None:
    shots = ShotsAnalyzer(ShotsConfig(thumbnails=False))
    picture = PictureAnalyzer(PictureConfig(sample_fps=4, colours=2))
    results, _ = run(clip, [picture, shots], tmp_path)
    bounds = [(i["start_frame"], i["end_frame"]) for i in results["shots"].items]
    assert bounds[0] == (0, 50)
    items = results["picture"].items
    assert [(i["start_frame"], i["end_frame"]) for i in items] == bounds
    assert results["picture"].summary["per"] == "shot"
    first = items[0]
    assert first["samples"] == 8 and first["dominant"] == ["#fe0000"]  # one colour only
    assert len(items[1]["dominant"]) == 2
    assert first["motion"] == pytest.approx(0.0, abs=0.001)  # a cut is not motion
    assert len(results["picture"].summary["samples"]["frame"]) == 24
