"""End to end: `kinod scan` from a clip to a sidecar and an OTIO timeline, on real media."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import jsonschema
import opentimelineio as otio
import pytest
from media import cuts_clip, ffmpeg

from kinod.config import load_config
from kinod.export.sidecar import json_schema
from kinod.jobs.store import JobStore
from kinod.run.processor import ClipProcessor

KINOD = [sys.executable, "-m", "kinod.cli.main"]


def scan(config: Path, *paths: Path | str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KINOD, "--config", str(config), "scan", *extra, *map(str, paths)],
        capture_output=True, text=True, timeout=300,
    )


def validate(sidecar: dict) -> None:
    jsonschema.validate(sidecar, json_schema(), format_checker=jsonschema.FormatChecker())


@pytest.fixture(scope="module")
def fixture_scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from media import FIXTURE_MEDIA

    tmp = tmp_path_factory.mktemp("fx")
    cfg = tmp / "config.toml"
    cfg.write_text(f'[output]\nroot = "{tmp / "out"}"\n[state]\ndir = "{tmp / "var"}"\n')
    r = scan(cfg, FIXTURE_MEDIA)
    assert r.returncode == 0, r.stderr[-3000:]
    return tmp / "out" / "media"


def test_every_fixture_video_is_processed(fixture_scan: Path, fixture_media: Path) -> None:
    for f in sorted(fixture_media.iterdir()):
        if f.suffix in (".mp4", ".flac"):
            data = json.loads((fixture_scan / f"{f.name}.kino.json").read_text())
            validate(data)
            assert data["errors"] == [], f.name
            assert data["source"]["path"] == str(f.resolve())


@pytest.mark.parametrize(
    ("name", "cuts", "frames", "rate"),
    [
        ("testvideo.mp4", [30, 180, 394], 720, "30000/1001"),  # fixtures README §A1 ContentDetector golden
        ("fades.mp4", [], 250, "25/1"),  # §A2: content detector finds no cuts on fades
        ("counter.mp4", [], 30, "10/1"),  # §A3
        ("short_hamilton_clip.mp4", [20, 82, 211], 275, "30000/1001"),  # §C, measured cuts
    ],
)
def test_shot_boundaries_match_ground_truth(fixture_scan: Path, name: str, cuts: list[int], frames: int,
                                            rate: str) -> None:
    data = json.loads((fixture_scan / f"{name}.kino.json").read_text())
    shots = data["analyses"]["shots"]
    got = shots["summary"]["cuts"]
    assert len(got) == len(cuts), got
    assert all(abs(a - b) <= 1 for a, b in zip(got, cuts, strict=True)), got
    assert data["timeline"]["rate"] == rate
    assert data["decode"]["frames"] == frames
    items = shots["items"]
    assert items[0]["start_frame"] == 0 and items[-1]["end_frame"] == frames
    for item in items:
        assert item["start_s"] == pytest.approx(item["start_frame"] / Fraction(rate), abs=1e-5)
        thumb = fixture_scan / "keyframes" / name / item["thumbnail"]
        assert thumb.read_bytes()[:2] == b"\xff\xd8"  # a JPEG


def test_otio_opens_with_one_marker_per_cut(fixture_scan: Path, fixture_media: Path) -> None:
    tl = otio.adapters.read_from_file(str(fixture_scan / "testvideo.mp4.otio"))
    clips = list(tl.find_clips())
    assert len(clips) == 1
    clip = clips[0]
    assert otio.url_utils.filepath_from_url(clip.media_reference.target_url) == str(
        (fixture_media / "testvideo.mp4").resolve()
    )
    ar = clip.media_reference.available_range
    assert ar.duration.value == 720 and ar.duration.rate == pytest.approx(30000 / 1001)
    # Every analyzer ran on the fixtures; shot boundaries ("Cut N", or "Fade N" where the
    # boundary is a fade, as all three in testvideo.mp4 are) have category "shot".
    cuts = [m for m in clip.markers if m.metadata["kinod"]["category"] == "shot"]
    assert [round(m.marked_range.start_time.value) for m in cuts] == [30, 180, 394]
    assert {m.metadata["kinod"]["analyzer"] for m in cuts} == {"shots"}


def test_delayed_start_is_normalised(fixture_scan: Path) -> None:
    """§A5: the first decoded frame is frame 0 even though the stream starts at 1.075 s."""
    data = json.loads((fixture_scan / "delayed_start.mp4.kino.json").read_text())
    assert data["decode"]["frames"] == 24
    assert data["analyses"]["shots"]["items"][0]["start_frame"] == 0


def test_generated_cuts_timecode_and_audio(tmp_path: Path, workspace: dict[str, Path]) -> None:
    clip = workspace["root"] / "A001.mov"
    cuts_clip(
        clip,
        [("testsrc2", 40), ("color=c=red", 30), ("color=c=black", 50), ("smptebars", 60)],
        rate="30000/1001",
        extra=["-timecode", "01:00:00;00"],
    )
    r = scan(workspace["config"], workspace["root"])
    assert r.returncode == 0, r.stderr
    data = json.loads((workspace["out"] / "A001.mov.kino.json").read_text())
    validate(data)
    assert data["analyses"]["shots"]["summary"]["cuts"] == [40, 70, 120]
    assert data["timeline"] == {
        "rate": "30000/1001", "frames": 180, "start_tc": "01:00:00;00", "start_tc_frames": 107892,
        "drop_frame": True, "tc_source": "container",
    }
    markers = data["markers"]
    assert [(m["frame"], m["tc"]) for m in markers] == [(40, "01:00:01;10"), (70, "01:00:02;10"), (120, "01:00:04;00")]
    assert data["probe"]["audio"][0]["channels"] == 2
    tl = otio.adapters.read_from_file(str(workspace["out"] / "A001.mov.otio"))
    clip_o = next(iter(tl.find_clips()))
    assert clip_o.source_range.start_time.value == 107892
    assert [m.marked_range.start_time.value for m in clip_o.markers] == [107932, 107962, 108012]


def test_rescan_is_up_to_date_and_config_change_reruns(workspace: dict[str, Path]) -> None:
    clip = cuts_clip(workspace["root"] / "c.mp4", [("testsrc2", 25), ("color=c=blue", 25)], audio=False)
    assert scan(workspace["config"], clip).returncode == 0
    r = scan(workspace["config"], clip)
    assert "up to date" in r.stdout
    # Renaming does not re-analyse: the fingerprint is the same.
    moved = clip.with_name("renamed.mp4")
    clip.rename(moved)
    r = scan(workspace["config"], moved)
    assert "up to date" not in r.stdout  # no sidecar under the new name yet...
    store = JobStore(workspace["state"] / "kinod.sqlite")
    try:
        rows = store.query("SELECT path, state FROM jobs")
        assert len(rows) == 1 and rows[0]["path"] == str(moved)  # ...but the job ran once, path updated
    finally:
        store.close()
    cfg2 = workspace["config"].read_text() + "[analyzers.shots]\nthreshold = 40.0\n"
    workspace["config"].write_text(cfg2)
    r = scan(workspace["config"], moved)
    assert "up to date" not in r.stdout
    store = JobStore(workspace["state"] / "kinod.sqlite")
    try:
        assert len(store.query("SELECT key FROM jobs WHERE state='done'")) == 2
    finally:
        store.close()


def test_vfr_clip_is_flagged_and_mapped_to_nominal_frames(tmp_path: Path, workspace: dict[str, Path]) -> None:
    vfr = workspace["root"] / "vfr.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=160x120:r=25", "-t", "4",
        "-vf", "setpts='if(lt(N,50),N,N+0.4*mod(N,2))/25/TB'", "-fps_mode", "passthrough",
        "-c:v", "libx264", "-preset", "ultrafast", str(vfr),
    )
    assert scan(workspace["config"], vfr).returncode == 0
    data = json.loads((workspace["out"] / "vfr.mp4.kino.json").read_text())
    assert data["probe"]["vfr"] is True
    # Frames are delivered on the nominal grid, not as decoded.
    assert abs(data["decode"]["frames"] - round(data["probe"]["duration_s"] * 25)) <= 2


def test_decode_once_per_clip(workspace: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A second decode of the same clip is a bug: count ffmpeg processes during a scan."""
    import kinod.media.decode as decode

    clip = cuts_clip(workspace["root"] / "once.mp4", [("testsrc2", 30), ("color=c=green", 30)])
    started: list[list[str]] = []
    real = decode.subprocess.Popen

    def spy(cmd: list[str], *a: object, **kw: object) -> subprocess.Popen[bytes]:
        started.append(cmd)
        return real(cmd, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(decode.subprocess, "Popen", spy)
    config = load_config(workspace["config"])
    store = JobStore(config.state.dir / "kinod.sqlite")
    try:
        outcome = ClipProcessor(config, store).process(clip, workspace["out"])
    finally:
        store.close()
    assert outcome.ok
    reads_clip = [c for c in started if any(str(clip) in arg for arg in c)]
    assert len(reads_clip) == 1
    assert reads_clip[0].count("-i") == 1
