"""Several ``kinod worker`` instances on one host from one config, as the systemd unit template starts them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import Daemon
from dist_harness import RedisServer, Worker, dist_config

REPO = Path(__file__).resolve().parents[1]
WORKER_UNIT = REPO / "systemd" / "kinod-worker@.service"


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    r = RedisServer(tmp_path).start()
    yield r
    r.stop()


def unit_environment() -> dict[str, str]:
    """The ``Environment=`` lines of the worker unit template."""
    env = {}
    for m in re.finditer(r"^Environment=(\w+)=(.*)$", WORKER_UNIT.read_text(), re.M):
        env[m.group(1)] = m.group(2).strip()
    return env


def records(d: Daemon) -> list[dict[str, object]]:
    folder = d.state / "dist" / "workers"
    return [json.loads(f.read_text()) for f in folder.glob("*.json")] if folder.is_dir() else []


def start_instance(config: Path, queues: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """What ``kinod-worker@<queues>.service`` runs: the shared config, the unit's environment."""
    with open(log, "ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "kinod.cli.main", "--config", str(config), "worker", "--queues", queues],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )


def test_two_unit_instances_from_one_config_both_run(tmp_path: Path, redis: RedisServer) -> None:
    d = Daemon(tmp_path)
    dist_config(d, redis)
    shared = Worker(d, "unused").config  # the coordinator's config plus [worker]: one file for both instances
    text = re.sub(r'^name = "unused"\n', "", shared.read_text(), flags=re.M)
    shared.write_text(re.sub(r"^metrics_listen = .*\n", "", text, flags=re.M))  # as shipped: the unit decides
    env = {k: v for k, v in unit_environment().items() if k.startswith("KINOD_WORKER")}
    assert env.get("KINOD_WORKER_METRICS_LISTEN", "").endswith("+"), "the unit gives each instance a port"
    procs = [start_instance(shared, q, env, tmp_path / f"w{i}.log") for i, q in enumerate(("gpu", "pass,cpu"))]
    try:
        d.wait_for(lambda: len(records(d)) == 2, 90, "both instances to register")
        assert all(p.poll() is None for p in procs), [(tmp_path / f"w{i}.log").read_text() for i in range(2)]
        ports = {str(r["metrics"]) for r in records(d)}
        assert len(ports) == 2, ports  # each its own metrics port
        for address in ports:
            with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as r:
                assert b"kinod_worker" in r.read()
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=60)


def test_a_taken_metrics_port_names_what_to_set(tmp_path: Path, redis: RedisServer) -> None:
    d = Daemon(tmp_path)
    dist_config(d, redis)
    first = Worker(d, "first").start("--queues", "pass")
    try:
        d.wait_for(lambda: len(records(d)) == 1, 90, "the first worker to register")
        r = subprocess.run(
            [sys.executable, "-m", "kinod.cli.main", "--config", str(first.config), "worker", "--name", "second"],
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        first.stop()
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    for hint in ("--metrics-listen", "KINOD_WORKER_METRICS_LISTEN", "worker.metrics_listen", '"+"'):
        assert hint in r.stderr, r.stderr
