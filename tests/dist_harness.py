"""A private Redis server and ``kinod worker`` processes, for the distributed-executor tests.

Each test gets its own ``redis-server`` on a free loopback port (no persistence), so
``SHUTDOWN NOSAVE`` in one test never touches the machine's shared Redis, and the
coordinator is the harness's real ``kinod run`` (:class:`daemon_harness.Daemon`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from daemon_harness import Daemon, free_port, free_ports


def redis_binary() -> str:
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server not installed (apt-get install redis-server; `make test` does it)")
    return exe


class RedisServer:
    def __init__(self, base: Path) -> None:
        self.exe = redis_binary()
        self.port = free_port()
        self.dir = base / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                self.exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.ping():
                return self
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def shutdown_nosave(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(b"SHUTDOWN NOSAVE\r\n")
            s.recv(16)
        assert self.proc is not None
        self.proc.wait(timeout=20)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=20)
        self.proc = None


def dist_config(d: Daemon, redis: RedisServer, heartbeat: float = 3.0, extra: str = "") -> None:
    """Turn the harness daemon's config into a coordinator on ``redis``."""
    text = d.config.read_text()
    text = text.replace("[jobs]\n", '[jobs]\nexecutor = "dramatiq"\n', 1)
    text += f'[broker]\nurl = "{redis.url}"\nheartbeat_timeout_seconds = {heartbeat}\n{extra}'
    d.config.write_text(text)


class Worker:
    """One ``kinod worker`` process with a config of its own (name, metrics port, path map)."""

    def __init__(
        self,
        d: Daemon,
        name: str,
        *,
        replace: dict[str, str] | None = None,
        extra: str = "",
        prefix: list[str] | None = None,
    ) -> None:
        self.name = name
        #: A command to run the worker under (e.g. one that hides folders from it).
        self.prefix = prefix or []
        self.base = d.base
        self.port = free_ports(4)  # the metrics port, and one more per worker process
        text = d.config.read_text()
        for a, b in (replace or {}).items():
            text = text.replace(a, b)
        self.config = d.base / f"worker-{name}.toml"
        self.config.write_text(text + f'[worker]\nname = "{name}"\nmetrics_listen = "127.0.0.1:{self.port}"\n{extra}')
        self.log = d.base / f"worker-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> Worker:
        logf = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "kinod.cli.main", "--config", str(self.config), "worker", *args],
            stdout=logf,
            stderr=subprocess.STDOUT,
            cwd=self.base,
            env=dict(os.environ),
        )
        logf.close()
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.proc = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
