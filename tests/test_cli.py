"""The small commands: --version, probe, doctor, config errors at start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from media import ffmpeg

from kinod import __version__

KINOD = [sys.executable, "-m", "kinod.cli.main"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KINOD, *args], capture_output=True, text=True, timeout=120)


def test_version() -> None:
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"kinod {__version__}"


def test_probe_prints_exact_facts(tmp_path: Path) -> None:
    clip = tmp_path / "df.mov"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=320x240:r=30000/1001", "-f", "lavfi", "-i", "sine=f=440:r=48000",
        "-t", "2", "-timecode", "01:00:00;00", "-metadata:s:v", "reel_name=A001", "-c:v", "libx264",
        "-preset", "ultrafast", "-c:a", "pcm_s24le", "-ac", "2", str(clip),
    )
    r = run("--config", "/dev/null", "probe", str(clip))
    assert r.returncode == 0, r.stderr
    p = json.loads(r.stdout)
    assert p["rate"] == "30000/1001" and p["frames"] == 60
    assert (p["width"], p["height"]) == (320, 240)
    assert p["start_tc"] == "01:00:00;00" and p["drop_frame"] is True and p["tc_source"] == "container"
    assert p["reel"] == "A001"
    assert p["audio"][0]["channels"] == 2 and p["audio"][0]["sample_rate"] == 48000 and p["audio"][0]["bit_depth"] == 24
    assert p["vfr"] is False and p["field_order"] == "progressive"
    assert p["codec"] == "AVC"


def test_probe_of_garbage_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "x.mov"
    f.write_text("hello")
    r = run("--config", "/dev/null", "probe", str(f))
    assert r.returncode == 1 and str(f) in r.stderr and "Traceback" not in r.stderr


def test_doctor_table(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[output]\nroot = "{tmp_path / "o"}"\n[state]\ndir = "{tmp_path / "s"}"\n'
                   f'[[watch.roots]]\npath = "{tmp_path}"\n')
    r = run("--config", str(cfg), "doctor")
    lines = r.stdout.splitlines()
    assert any(line.startswith("OK") and "ffmpeg" in line and "9." in line for line in lines), r.stdout
    assert any("mediainfo" in line and line.startswith("OK") for line in lines)
    assert any("output root" in line and line.startswith("OK") for line in lines)
    assert any("analyzer shots" in line for line in lines)
    assert r.returncode == 0, r.stdout


def test_config_error_at_start_names_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[media]\nanalysis_widht = 100\n")
    r = run("--config", str(cfg), "doctor")
    assert r.returncode == 2 and "media.analysis_widht" in r.stderr and str(cfg) in r.stderr
