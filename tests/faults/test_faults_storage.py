"""Issue 13: storage faults under the real daemon — a read-only output root, a locked state file."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import Daemon, make_clip


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "src" / "a.mp4", 1)


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@pytest.fixture
def ro_switch(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """The output root as its own bind mount, so it can be flipped read-only and back."""
    out = tmp_path / "d" / "out"
    out.mkdir(parents=True)
    r = _mount("--bind", str(out), str(out))
    if r.returncode != 0:
        pytest.skip(f"cannot bind-mount here (needs root): {r.stderr.strip()}")
    try:
        yield out, [str(out)]
    finally:
        subprocess.run(["umount", "-l", str(out)], capture_output=True)


def test_read_only_output_root_pauses_then_resumes(ro_switch: tuple[Path, list[str]], tmp_path: Path,
                                                    clip: Path) -> None:
    out, _ = ro_switch
    d = Daemon(tmp_path / "d", extra="[storage]\nmin_free_mb = 0\nretry_max_seconds = 1\n")
    with d:
        d.start()
        r = _mount("-o", "remount,ro,bind", str(out))
        if r.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {r.stderr.strip()}")
        (d.base / "stage" / "R001").mkdir(parents=True)
        shutil.copy(clip, d.base / "stage" / "R001" / "a.mp4")
        (d.base / "stage" / "R001").rename(d.root / "R001")
        d.wait_metric("kinod_storage_full", 1, timeout=60)
        assert d.healthy()
        assert not (out / "R001").exists()
        assert _mount("-o", "remount,rw,bind", str(out)).returncode == 0
        d.wait_metric("kinod_cards_done_total", 1, timeout=90, outcome="done")
        assert d.metric("kinod_storage_full") == 0
        assert d.sidecar("R001/a.mp4")["errors"] == []
        assert d.stop() == 0
    assert "Traceback" not in d.log_text()


def test_state_file_locked_by_another_process_for_a_while(tmp_path: Path, clip: Path) -> None:
    d = Daemon(tmp_path / "d")
    with d:
        d.start()
        db = sqlite3.connect(d.state / "kinod.sqlite", timeout=30, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")  # another program (a backup, a curious sqlite3 shell) holds the file
        (d.base / "stage" / "L001").mkdir(parents=True)
        shutil.copy(clip, d.base / "stage" / "L001" / "a.mp4")
        (d.base / "stage" / "L001").rename(d.root / "L001")
        d.wait_for(lambda: any(e.get("event") == "card ready" for e in d.log_events()), 30, "the card to be ready")
        assert d.healthy()  # /healthz does not need the state file
        db.execute("ROLLBACK")
        db.close()
        d.wait_metric("kinod_cards_done_total", 1, timeout=90, outcome="done")
        assert d.sidecar("L001/a.mp4")["errors"] == []
        assert d.stop() == 0
    assert "Traceback" not in d.log_text()
