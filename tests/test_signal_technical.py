"""Technical flags: interlacing, letterbox/pillarbox, clipped highlights, crushed blacks, shake."""

from __future__ import annotations

from pathlib import Path

import pytest
from signal_media import lavfi_clip, run

from kinod.analyzers.technical import TechnicalAnalyzer, TechnicalConfig

#: A still, detailed picture (one Mandelbrot frame) to move a window over.
STILL = "mandelbrot=s=640x360:end_pts=1,trim=end_frame=1,loop=loop=-1:size=1"
#: A smooth diagonal pan: a camera move, not shake; progressive.
PAN = STILL + ",setpts=N/{r}/TB,fps={r},crop=320:180:'mod(n*3,300)':'mod(n,150)',trim=end_frame={n}"
#: The same window jumping a few pixels every frame: handheld shake.
SHAKE = STILL + ",setpts=N/25/TB,fps=25,crop=320:180:'150+9*sin(n*2.3)':'90+7*sin(n*1.7+1)',trim=end_frame=100"
INTERLACED_ARGS = ("-flags", "+ildct+ilme", "-x264-params", "tff=1")


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("technical")
    lavfi_clip(d / "pan.mp4", PAN.format(r=25, n=100))
    # 50 progressive frames per second woven into 25 interlaced (top field first).
    lavfi_clip(d / "interlaced.mp4", PAN.format(r=50, n=200) + ",interlace=scan=tff", extra=INTERLACED_ARGS)
    lavfi_clip(d / "letterbox.mp4", PAN.format(r=25, n=100) + ",scale=320:132,pad=320:180:0:24:black")
    lavfi_clip(d / "pillarbox.mp4", PAN.format(r=25, n=100) + ",scale=240:180,pad=320:180:40:0:black")
    lavfi_clip(d / "shaky.mp4", SHAKE)
    lavfi_clip(
        d / "blown.mp4",
        PAN.format(r=25, n=100) + ",drawbox=x=0:y=0:w=120:h=90:color=white:t=fill",
    )
    return d


def analyse(path: Path, tmp: Path, config: TechnicalConfig | None = None) -> dict:
    results, _ = run(path, [TechnicalAnalyzer(config)], tmp)
    return {"summary": results["technical"].summary, "items": results["technical"].items, "r": results["technical"]}


def test_progressive_pan_raises_no_flags(media: Path, tmp_path: Path) -> None:
    out = analyse(media / "pan.mp4", tmp_path)
    s = out["summary"]
    assert s["interlace"]["verdict"] == "progressive" and s["interlace"]["flag_mismatch"] is False
    assert s["bars"]["letterbox"] is False and s["bars"]["pillarbox"] is False
    assert s["exposure"]["clipped_ratio"] == 0.0 and s["exposure"]["crushed_ratio"] == 0.0
    assert s["shake"]["verdict"] == "steady"
    assert out["items"] == [] and out["r"].markers == []


def test_interlaced_content_and_field_order(media: Path, tmp_path: Path) -> None:
    s = analyse(media / "interlaced.mp4", tmp_path)["summary"]["interlace"]
    assert s["verdict"] == "interlaced"
    assert s["field_order"] == "tff"
    assert s["frames"]["tff"] >= 20 and s["frames"]["bff"] == 0
    # idet only saw the burst it was given: 25 frames.
    assert sum(s["frames"].values()) == 25
    every = analyse(media / "interlaced.mp4", tmp_path, TechnicalConfig(interlace_every_s=0))["summary"]
    assert sum(every["interlace"]["frames"].values()) == 100


def test_letterbox_and_pillarbox(media: Path, tmp_path: Path) -> None:
    lb = analyse(media / "letterbox.mp4", tmp_path)
    bars = lb["summary"]["bars"]
    assert bars["letterbox"] is True and bars["pillarbox"] is False
    assert bars["active"]["top"] == pytest.approx(24 / 180, abs=0.02)
    assert bars["active"]["bottom"] == pytest.approx(24 / 180, abs=0.02)
    assert bars["active"]["aspect"] == pytest.approx(320 / 132, abs=0.1)
    assert any(m.name == "Letterboxed" for m in lb["r"].markers)
    # The bars are black, but they are not crushed picture.
    assert lb["summary"]["exposure"]["crushed_ratio"] == 0.0
    pb = analyse(media / "pillarbox.mp4", tmp_path)["summary"]["bars"]
    assert pb["pillarbox"] is True and pb["letterbox"] is False
    assert pb["active"]["left"] == pytest.approx(40 / 320, abs=0.02)


def test_clipped_highlights(media: Path, tmp_path: Path) -> None:
    out = analyse(media / "blown.mp4", tmp_path)
    assert out["summary"]["exposure"]["clipped_ratio"] == 1.0
    assert [(i["kind"], i["start_frame"], i["end_frame"]) for i in out["items"]] == [("clipped_highlights", 0, 100)]
    assert [m.name for m in out["r"].markers] == ["Clipped highlights"]


def test_camera_shake_against_a_smooth_pan(media: Path, tmp_path: Path) -> None:
    shaky = analyse(media / "shaky.mp4", tmp_path)["summary"]["shake"]
    steady = analyse(media / "pan.mp4", tmp_path)["summary"]["shake"]
    assert shaky["verdict"] == "shaky" and steady["verdict"] == "steady"
    assert shaky["median"] > 4 * max(steady["median"], 0.05)
    assert len(shaky["per_second"]) == 4
