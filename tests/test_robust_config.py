"""Issue 13, item 1: an unreadable config is a clear ConfigError, never a traceback or a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from daemon_harness import Daemon, make_clip, without_root_override

from kinod.config import ConfigError, load_config

GOOD = "[watch]\nsettle_seconds = 5\n"


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    latin1 = tmp / "latin1.toml"
    latin1.write_bytes(b"[watch]\n# caf\xe9\nsettle_seconds = 5\n")
    nul = tmp / "nul.toml"
    nul.write_bytes(b"[watch]\nsettle\x00 = 5\n")
    not_toml = tmp / "nottoml.toml"
    not_toml.write_text("[watch\nsettle_seconds = = 5\n")
    folder = tmp / "folder.toml"
    folder.mkdir()
    return {
        "latin1": (latin1, "byte offset 13"),
        "nul": (nul, "byte offset 14"),
        "not_toml": (not_toml, "not valid TOML"),
        "folder": (folder, "is a folder"),
    }


def test_every_unreadable_config_is_a_config_error_naming_file_and_offset(tmp_path: Path) -> None:
    for name, (path, want) in _bad_files(tmp_path).items():
        with pytest.raises(ConfigError) as e:
            load_config(path)
        assert str(path) in str(e.value), name
        assert want in str(e.value), name


@pytest.mark.parametrize("command", ["run", "status"])
def test_run_and_status_print_the_message_without_traceback(tmp_path: Path, command: str) -> None:
    cases = _bad_files(tmp_path)
    unreadable = tmp_path / "unreadable.toml"
    unreadable.write_text(GOOD)
    unreadable.chmod(0o000)
    prefix = without_root_override()
    for name, (path, want) in cases.items():
        r = subprocess.run(
            [sys.executable, "-m", "kinod.cli.main", "--config", str(path), command],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )
        assert r.returncode != 0, name
        assert "Traceback" not in r.stderr, r.stderr
        assert str(path) in r.stderr and want in r.stderr, r.stderr
    if prefix is not None:
        r = subprocess.run(
            [*prefix, sys.executable, "-m", "kinod.cli.main", "--config", str(unreadable), command],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )
        assert r.returncode != 0
        assert "Traceback" not in r.stderr, r.stderr
        assert str(unreadable) in r.stderr and "cannot read" in r.stderr, r.stderr


def test_sighup_with_a_non_utf8_byte_keeps_the_running_config(tmp_path: Path) -> None:
    """Before the fix the daemon died on SIGHUP with a raw UnicodeDecodeError."""
    with Daemon(tmp_path) as d:
        d.start()
        good = d.config.read_bytes()
        d.config.write_bytes(good + b"# r\xe9sum\xe9\n")
        d.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]

        def refused() -> dict | None:
            d.check_alive()
            return next((e for e in d.log_events() if e.get("event", "").startswith("reload refused")), None)

        ev = d.wait_for(refused, 30, "reload refused log line")
        assert str(d.config) in ev["error"] and f"byte offset {len(good) + 3}" in ev["error"], ev
        assert "Traceback" not in d.log_text()
        assert d.healthy()
        # the running config still works: a clip is processed
        make_clip(d.root / "A" / "x.mp4", 1)
        d.wait_metric("kinod_cards_done_total", 1, timeout=60)
        assert d.stop() == 0
        assert os.path.exists(d.out / "A" / "x.mp4.kino.json")
