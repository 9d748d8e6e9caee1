"""Issue 13, item 4: a full output file system pauses kinod, which says so and resumes by itself."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import Daemon, make_clip


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (CI and these machines run as root); skipped with the reason where it cannot be mounted."""
    mnt = tmp_path / "d" / "out"
    mnt.mkdir(parents=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip() or r.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write until the file system is full; returns the filler file."""
    filler = folder / "filler.bin"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(bytes(256 * 1024))
                fh.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC
    return filler


def health(d: Daemon) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{d.port}/healthz", timeout=5) as r:
        return json.loads(r.read())


def test_full_output_fs_pauses_reports_and_resumes(small_fs: Path, tmp_path: Path) -> None:
    clip_a = make_clip(tmp_path / "src" / "a.mp4", 2)
    clip_b = make_clip(tmp_path / "src" / "b.mp4", 1, src="testsrc")
    d = Daemon(tmp_path / "d", extra="[storage]\nmin_free_mb = 0\nretry_max_seconds = 1\n")
    assert d.out == small_fs
    with d:
        d.start()
        filler = fill(small_fs)
        (d.base / "stage" / "A001").mkdir(parents=True)
        shutil.copy(clip_a, d.base / "stage" / "A001" / "a.mp4")
        (d.base / "stage" / "A001").rename(d.root / "A001")
        # the keyframe JPEG cannot be written: paused, reported, not failed
        d.wait_metric("kinod_storage_full", 1, timeout=60)
        assert d.metric("kinod_errors_total", kind="disk_full") >= 1
        h = health(d)
        assert h["status"] == "degraded" and "space" in str(h["storage"]), h
        r = subprocess.run([sys.executable, "-m", "kinod.cli.main", "--config", str(d.config), "status"],
                           capture_output=True, text=True, timeout=60, cwd=d.base)
        assert "storage full" in r.stdout and str(small_fs) in r.stdout, r.stdout
        # a card that arrives while full waits
        (d.base / "stage" / "B001").mkdir(parents=True)
        shutil.copy(clip_b, d.base / "stage" / "B001" / "b.mp4")
        (d.base / "stage" / "B001").rename(d.root / "B001")
        d.wait_metric("kinod_cards_ready_total", 2, timeout=60)
        assert d.metric("kinod_cards_done_total") == 0
        assert d.healthy()

        os.unlink(filler)  # space returns: kinod resumes by itself
        d.wait_metric("kinod_cards_done_total", 2, timeout=120)
        assert d.metric("kinod_storage_full") == 0
        assert d.metric("kinod_cards_done_total", outcome="done") == 2, d.log_text()[-3000:]
        assert d.metric("kinod_jobs", analyzer="shots", state="failed") == 0
        side = d.sidecar("A001/a.mp4")
        assert side["errors"] == [] and side["analyses"]["shots"]["items"]
        assert list((small_fs / "A001" / "keyframes" / "a.mp4").glob("shot_*.jpg"))
        assert d.sidecar("B001/b.mp4")["errors"] == []
        assert health(d)["status"] == "ok"
        assert not list(small_fs.rglob("*.tmp"))
        assert d.stop() == 0


@pytest.fixture
def small_state_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "d" / "var"
    mnt.mkdir(parents=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip() or r.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_state_fs_pauses_and_resumes(small_state_fs: Path, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "src" / "a.mp4", 1)
    d = Daemon(tmp_path / "d", extra="[storage]\nmin_free_mb = 0\nretry_max_seconds = 1\n")
    assert d.state == small_state_fs
    with d:
        d.start()
        filler = fill(small_state_fs)
        (d.base / "stage" / "S001").mkdir(parents=True)
        shutil.copy(clip, d.base / "stage" / "S001" / "a.mp4")
        (d.base / "stage" / "S001").rename(d.root / "S001")
        d.wait_metric("kinod_storage_full", 1, timeout=60)
        assert health(d)["status"] == "degraded"
        os.unlink(filler)
        d.wait_for(lambda: (d.out / "S001" / "a.mp4.kino.json").exists(), 120, "the clip's sidecar after resume")
        d.wait_metric("kinod_cards_done_total", 1, timeout=60, outcome="done")
        assert d.metric("kinod_storage_full") == 0
        assert d.sidecar("S001/a.mp4")["errors"] == []
        assert d.stop() == 0
