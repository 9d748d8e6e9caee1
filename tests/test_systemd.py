"""The systemd unit: it verifies, it is hardened as promised, and the daemon speaks sd_notify."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from daemon_harness import Daemon

from kinod.service.sdnotify import Notifier

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "kinod.service"
DROP_IN = REPO / "systemd" / "kinod.service.d" / "paths.conf.example"


def _directives(*files: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in files:
        for line in f.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                k, v = line.split("=", 1)
                out.setdefault(k.strip(), []).append(v.strip())
    return out


def test_unit_is_hardened_and_notifies() -> None:
    d = _directives(UNIT, DROP_IN)
    assert d["Type"] == ["notify"] and d["WatchdogSec"] and d["ExecReload"]
    assert d["ProtectSystem"] == ["strict"] and d["NoNewPrivileges"] == ["yes"] and d["StateDirectory"] == ["kinod"]
    assert d["ReadWritePaths"] and d["ReadOnlyPaths"] and d["RequiresMountsFor"]
    assert "PrivateDevices" not in d  # a GPU must stay reachable
    assert int(d["TimeoutStopSec"][0]) > 30  # longer than jobs.shutdown_grace_seconds


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed here (no systemd); the unit is checked by test_unit_is_hardened")
    units = tmp_path / "units"
    (units / "kinod.service.d").mkdir(parents=True)
    kinod = Path(sys.executable).parent / "kinod"
    if not kinod.is_file():
        pytest.skip(f"{kinod}: the kinod entry point is not installed in this environment")
    # verify checks that ExecStart exists: point it at this checkout's entry point
    (units / "kinod.service").write_text(UNIT.read_text().replace("/opt/kinod/.venv/bin/kinod", str(kinod)))
    shutil.copy(DROP_IN, units / "kinod.service.d" / "paths.conf")
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{units}:", "SYSTEMD_LOG_LEVEL": "warning"}
    r = subprocess.run(
        [tool, "verify", str(units / "kinod.service")], capture_output=True, text=True, env=env, timeout=60
    )
    complaints = [line for line in (r.stdout + r.stderr).splitlines() if "kinod" in line]
    assert r.returncode == 0 and not complaints, r.stdout + r.stderr


def test_notifier_without_socket_is_a_no_op() -> None:
    n = Notifier({})
    assert not n.enabled and n.watchdog_interval is None and not n.ready()


def test_notifier_abstract_socket() -> None:
    name = f"kinod-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind("\0" + name)
        n = Notifier({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "4000000"})
        assert n.watchdog_interval == 2.0
        assert n.status("hello")
        assert s.recv(4096) == b"STATUS=hello"
        n.close()


def test_daemon_sends_ready_watchdog_status_and_stopping(tmp_path: Path) -> None:
    sock_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(str(sock_path))
        s.settimeout(0.2)
        env = {"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "1000000"}
        got: list[str] = []

        def drain(until: float) -> None:
            while time.monotonic() < until:
                try:
                    got.extend(s.recv(4096).decode().splitlines())
                except TimeoutError:
                    continue

        with Daemon(tmp_path, env=env) as d:
            d.start(wait=False)
            drain(time.monotonic() + 1.0)
            deadline = time.monotonic() + 30
            while "READY=1" not in got and time.monotonic() < deadline:
                drain(time.monotonic() + 0.5)
                d.check_alive()
            drain(time.monotonic() + 1.5)
            assert "READY=1" in got and f"MAINPID={d.proc.pid}" in got
            assert got.count("WATCHDOG=1") >= 2  # every 0.5 s with WatchdogSec=1
            assert any(x.startswith("STATUS=") for x in got)
            d.proc.send_signal(signal.SIGHUP)
            drain(time.monotonic() + 1.5)
            assert "RELOADING=1" in got
            assert d.stop() == 0
            drain(time.monotonic() + 0.3)
        assert "STOPPING=1" in got


# --- issue 17: the worker unit template ---------------------------------------------------------------
WORKER_UNIT = REPO / "systemd" / "kinod-worker@.service"


def test_worker_unit_template_is_hardened_like_the_daemon() -> None:
    d, w = _directives(UNIT), _directives(WORKER_UNIT)
    hardening = [k for k in d if k.startswith(("Protect", "Restrict", "Private", "NoNew", "Capability", "Lock"))]
    assert hardening and all(w.get(k) == d[k] for k in hardening), {k: (d[k], w.get(k)) for k in hardening}
    assert "worker --queues %I" in w["ExecStart"][0]
    assert "PrivateDevices" not in w and int(w["TimeoutStopSec"][0]) > 30
