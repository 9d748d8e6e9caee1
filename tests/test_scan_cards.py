"""`kinod scan` works on cards as the daemon does: camera layouts, card report, BWF start TC."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from cardkit import bwf
from daemon_harness import make_clip

from kinod.cli.main import main
from kinod.export.sidecar import json_schema

TEN_HOURS_48K = 1_728_000_000  # bext time reference: 10:00:00 time of day at 48 kHz


def _config(tmp: Path, extra: str = "") -> Path:
    cfg = tmp / "kinod.toml"
    cfg.write_text(
        f'[output]\nroot = "out"\nformats = ["json"]\n[state]\ndir = "var"\n'
        f'[analyzers]\nenabled = ["shots", "silence"]\n{extra}'
    )
    return cfg


def _sidecar(path: Path) -> dict:
    data = json.loads(path.read_text())
    jsonschema.validate(data, json_schema(), format_checker=jsonschema.FormatChecker())
    return data


def test_bwf_without_ixml_takes_the_card_video_rate(tmp_path: Path) -> None:
    card = tmp_path / "DAY1_A001"
    make_clip(card / "A001C001.mp4", 1)  # 25 fps
    bwf(card / "SOUND" / "T001.WAV", channels=2, seconds=0.5, time_reference=TEN_HOURS_48K, ixml=None)
    cfg = _config(tmp_path, '[cards]\naudio_tc_rate = "24"\n')
    assert main(["--config", str(cfg), "scan", str(card)]) == 0
    out = tmp_path / "out" / "DAY1_A001"
    side = _sidecar(out / "SOUND" / "T001.WAV.kino.json")
    pr = side["probe"]
    assert pr["start_tc"] == "10:00:00:00" and pr["tc_source"] == "container"
    assert pr["bwf"]["tc_rate"] == "25/1" and pr["bwf"]["tc_rate_source"] == "card-video"
    assert pr["start_tc_frames"] == 10 * 3600 * 25
    report = json.loads((out / "card.kino.json").read_text())  # scan writes the card report, as the daemon does
    assert {c["name"] for c in report["clips"]} >= {"A001C001", "T001"}
    # no MHL: cards.record_hashes still hashes every card file, and the report says so
    assert report["verification"]["status"] == "none"
    assert report["verification"]["hashed"] == {"algorithms": ["xxh64"], "files": 2}
    files = [f for c in report["clips"] for f in c["files"]]
    assert files and all(len(f["hashes"]["xxh64"]) == 16 for f in files)


def test_bwf_without_ixml_or_video_takes_cards_audio_tc_rate(tmp_path: Path) -> None:
    card = tmp_path / "SOUND01"
    bwf(card / "T002.WAV", channels=2, seconds=0.5, time_reference=TEN_HOURS_48K, ixml=None)
    cfg = _config(tmp_path, '[cards]\naudio_tc_rate = "24"\n')
    assert main(["--config", str(cfg), "scan", str(card)]) == 0
    pr = _sidecar(tmp_path / "out" / "SOUND01" / "T002.WAV.kino.json")["probe"]
    assert pr["start_tc"] == "10:00:00:00"
    assert pr["bwf"]["tc_rate"] == "24/1" and pr["bwf"]["tc_rate_source"] == "cards.audio_tc_rate"
    assert pr["start_tc_frames"] == 10 * 3600 * 24
    assert (tmp_path / "out" / "SOUND01" / "card.kino.json").is_file()


def test_card_report_counts_a_stereo_flac_as_two_channels(tmp_path: Path) -> None:
    from media import FIXTURE_MEDIA

    card = tmp_path / "AUDIO01"
    card.mkdir()
    (card / "jfk.flac").write_bytes((FIXTURE_MEDIA / "jfk.flac").read_bytes())
    cfg = _config(tmp_path)
    assert main(["--config", str(cfg), "scan", str(card)]) == 0
    out = tmp_path / "out" / "AUDIO01"
    side = _sidecar(out / "jfk.flac.kino.json")
    assert sum(a["channels"] for a in side["probe"]["audio"]) == 2
    report = json.loads((out / "card.kino.json").read_text())
    assert [c["audio_channels"] for c in report["clips"]] == [2]
    assert '<td class="n">2</td>' in (out / "card.html").read_text()


def _gopro_card(card: Path) -> Path:
    """GX010042 (3 s) + GX020042 (2 s: bars for 1 s, then a fractal): one recording in two chapters."""
    from daemon_harness import ffmpeg

    folder = card / "DCIM" / "100GOPRO"
    folder.mkdir(parents=True)
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"]
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=3", *x264, str(folder / "GX010042.MP4"))
    ffmpeg(
        "-f", "lavfi", "-i", "smptebars=s=160x120:r=25:d=1",
        "-f", "lavfi", "-i", "mandelbrot=s=160x120:r=25",
        "-filter_complex", "[1:v]trim=duration=1,setpts=PTS-STARTPTS[b];[0:v][b]concat=n=2:v=1[v]",
        "-map", "[v]", *x264, str(folder / "GX020042.MP4"),
    )  # fmt: skip
    return folder


def test_a_gopro_recording_in_two_chapters_is_one_clip(tmp_path: Path) -> None:
    card = tmp_path / "GOPRO01"
    folder = _gopro_card(card)
    cfg = _config(tmp_path)
    assert main(["--config", str(cfg), "scan", str(card)]) == 0
    out = tmp_path / "out" / "GOPRO01" / "DCIM" / "100GOPRO"
    assert not (out / "GX020042.MP4.kino.json").exists()  # one sidecar for the recording
    side = _sidecar(out / "GX010042.MP4.kino.json")
    assert side["probe"]["frames"] == 125
    parts = side["decode"]["parts"]
    assert [(p["name"], p["start_frame"], p["frames"]) for p in parts] == [
        ("GX010042.MP4", 0, 75),
        ("GX020042.MP4", 75, 50),
    ]
    assert side["decode"]["frames"] == 125  # one pass over both chapters
    cuts = sorted(m["frame"] for m in side["markers"] if m["category"] == "shot")
    assert 75 in cuts and 100 in cuts, cuts
    by_frame = {m["frame"]: m for m in side["markers"] if m["category"] == "shot"}
    assert (by_frame[75]["file"], by_frame[75]["file_frame"]) == ("GX020042.MP4", 0)
    assert (by_frame[100]["file"], by_frame[100]["file_frame"]) == ("GX020042.MP4", 25)
    assert side["source"]["path"] == str(folder / "GX010042.MP4")


def test_p2_audio_essences_are_inputs_of_the_pass_and_speech_hears_them(tmp_path: Path) -> None:
    from cardkit import ff, p2_card
    from media import FIXTURE_MEDIA

    card = p2_card(tmp_path / "P2CARD", name="0001AB", channels=2, seconds=4.0)
    # channel 2 of the clip: JFK's speech (the first 4 s), as a P2 OP-Atom audio essence
    ff(
        "-i", str(FIXTURE_MEDIA / "jfk.flac"), "-t", "4", "-ar", "48000", "-ac", "1",
        "-c:a", "pcm_s24le", "-f", "mxf_opatom", "-mxf_audio_edit_rate", "30000/1001",
        str(card / "CONTENTS" / "AUDIO" / "0001AB01.MXF"),
    )  # fmt: skip
    cfg = tmp_path / "kinod.toml"
    cfg.write_text(
        '[output]\nroot = "out"\nformats = ["json"]\n[state]\ndir = "var"\n'
        '[analyzers]\nenabled = ["silence", "speech"]\n'
        '[analyzers.speech]\nmodel = "tiny.en"\nlanguage = "en"\nchannel = 2\n'
    )
    assert main(["--config", str(cfg), "scan", str(card)]) == 0
    out = tmp_path / "out" / "P2CARD" / "CONTENTS"
    assert not list(out.glob("AUDIO/*.kino.json"))  # the essences are part of the clip, not clips
    side = _sidecar(out / "VIDEO" / "0001AB.MXF.kino.json")
    assert len(side["probe"]["audio"]) == 2
    assert [Path(p).name for p in side["decode"]["audio_inputs"]] == ["0001AB00.MXF", "0001AB01.MXF"]
    assert side["decode"]["audio_samples"] > 0
    speech = side["analyses"]["speech"]
    assert speech["summary"]["channels"]["available"] == 2
    text = " ".join(i.get("text", "") for i in speech["items"]).lower()
    assert "fellow" in text or "americans" in text, text


_TIMES = {"generated", "generated_at", "elapsed_s", "wall_s", "cpu_s", "updated", "verified_at", "bytes_read"}


def _timeless(node: object, out_dir: Path) -> object:
    """The JSON without wall-clock facts, and with the output root as a placeholder."""
    if isinstance(node, dict):
        return {k: _timeless(v, out_dir) for k, v in node.items() if k not in _TIMES}
    if isinstance(node, list):
        return [_timeless(v, out_dir) for v in node]
    if isinstance(node, str):
        return node.replace(str(out_dir), "<out>")
    return node


def test_scan_and_run_once_give_the_same_sidecars_and_card_report(tmp_path: Path) -> None:
    import subprocess
    import sys

    footage = tmp_path / "footage"
    card = footage / "GOPRO01"
    _gopro_card(card)
    bwf(card / "SOUND" / "T001.WAV", channels=2, seconds=0.5, time_reference=TEN_HOURS_48K, ixml=None)
    outs = {}
    for how in ("run", "scan"):
        cfg = tmp_path / f"{how}.toml"
        cfg.write_text(
            f'[[watch.roots]]\npath = "footage"\n[output]\nroot = "out-{how}"\nformats = ["json", "otio"]\n'
            f'[state]\ndir = "var-{how}"\n[metrics]\nenabled = false\n'
            '[analyzers]\nenabled = ["shots", "silence", "loudness"]\n'
        )
        args = ["run", "--once"] if how == "run" else ["scan", str(card)]
        r = subprocess.run(
            [sys.executable, "-m", "kinod.cli.main", "--config", str(cfg), *args],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr[-3000:]
        outs[how] = tmp_path / f"out-{how}"
    names = {h: sorted(p.relative_to(o).as_posix() for p in o.rglob("*") if p.is_file()) for h, o in outs.items()}
    assert names["run"] == names["scan"]
    assert "GOPRO01/card.kino.json" in names["run"]
    assert "GOPRO01/DCIM/100GOPRO/GX010042.MP4.kino.json" in names["run"]
    for rel in names["run"]:
        if rel.endswith(".json"):
            run, scan = (json.loads((outs[h] / rel).read_text()) for h in ("run", "scan"))
            assert _timeless(run, outs["run"]) == _timeless(scan, outs["scan"]), rel
