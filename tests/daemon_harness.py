"""Run the real ``kinod run`` process on temp folders and watch it from outside.

Used by the daemon, watch, metrics and systemd tests: a config with small settle
and poll times, the process's log in a file, ``/metrics`` scraped over HTTP, the
state file read with a read-only connection, and media made with ffmpeg's lavfi.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import imageio_ffmpeg
from prometheus_client.parser import text_string_to_metric_families

from kinod.export.sidecar import json_schema
from kinod.jobs.store import JobStore

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
REPO = Path(__file__).resolve().parents[1]


def validate_sidecar(data: dict[str, Any]) -> None:
    """A clip sidecar must match the shipped JSON Schema, whatever the daemon went through."""
    import jsonschema

    jsonschema.validate(data, json_schema(), format_checker=jsonschema.FormatChecker())


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-v", "error", "-y", "-nostdin", *args], check=True)


def make_clip(
    path: Path,
    seconds: float = 2.0,
    size: str = "160x120",
    src: str = "testsrc2",
    audio: bool = False,
    extra: Iterable[str] = (),
) -> Path:
    """A small H.264 clip (``.ts`` gets MPEG-TS, which can be cut and appended to)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = ["-f", "lavfi", "-i", f"{src}=s={size}:r=25"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=f=440:r=48000", "-c:a", "aac", "-shortest"]
    ffmpeg(*args, "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", *extra, str(path))
    return path


def without_root_override() -> list[str] | None:
    """A prefix that makes root obey file permissions (drops CAP_DAC_OVERRIDE/READ_SEARCH).

    Root reads every file, so "permission denied" cannot happen to a root daemon
    unless these two capabilities are gone. [] when not root; None when impossible.
    """
    if os.geteuid() != 0:
        return []
    import shutil

    setpriv = shutil.which("setpriv")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"] if setpriv else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(n: int) -> int:
    """The first of ``n`` consecutive free loopback ports (a worker with several processes
    listens on its metrics port plus one per process)."""
    for _ in range(100):
        base = free_port()
        socks = []
        try:
            for i in range(n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {n} consecutive free loopback ports")


def slow_copy(src: Path, dst: Path, chunks: int = 5, pause: float = 0.3) -> float:
    """Copy in chunks with pauses (like a copy over a slow link); returns the time of the last byte."""
    data = src.read_bytes()
    dst.parent.mkdir(parents=True, exist_ok=True)
    step = max(1, len(data) // chunks + 1)
    with open(dst, "wb") as fh:
        for i in range(0, len(data), step):
            fh.write(data[i : i + step])
            fh.flush()
            os.fsync(fh.fileno())
            if i + step < len(data):
                time.sleep(pause)
    return time.time()


def kinod_command(config: Path, *argv: str) -> tuple[int, str]:
    """Run ``kinod status|retry|forget`` through their argparse wiring, in process."""
    import argparse
    import contextlib
    import io

    from kinod.cli import jobs as commands
    from kinod.config import load_config

    p = argparse.ArgumentParser(prog="kinod")
    commands.register(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(list(argv))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        rc = args.func(load_config(config), args)
    return rc, out.getvalue()


class Daemon:
    """One ``kinod run`` process with its own temp watch root, output and state."""

    def __init__(
        self,
        base: Path,
        *,
        mode: str = "inotify",
        settle: float = 0.8,
        polls: int = 2,
        interval: float = 0.2,
        roots: Iterable[str] = ("footage",),
        extra: str = "",
        grace: float = 30.0,
        env: dict[str, str] | None = None,
        prefix: Iterable[str] = (),
    ) -> None:
        self.base = base
        self.roots = [base / r for r in roots]
        self.root = self.roots[0]
        self.out = base / "out"
        self.state = base / "var"
        for p in (*self.roots, self.out, self.state):
            p.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = base / "config.toml"
        self.mode, self.settle, self.polls, self.interval, self.grace = mode, settle, polls, interval, grace
        self.extra = extra
        self.write_config()
        self.env = env or {}
        #: A command to run kinod under (e.g. setpriv dropping root's permission override).
        self.prefix = list(prefix)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = base / "daemon.log"

    def write_config(self, extra: str | None = None) -> None:
        if extra is not None:
            self.extra = extra
        roots = "".join(f'[[watch.roots]]\npath = "{r}"\n' for r in self.roots)
        self.config.write_text(
            f'[watch]\nmode = "{self.mode}"\npoll_interval_seconds = {self.interval}\n'
            f"settle_seconds = {self.settle}\nstable_polls = {self.polls}\n{roots}"
            f'[output]\nroot = "{self.out}"\n[state]\ndir = "{self.state}"\n'
            f'[metrics]\nlisten = "127.0.0.1:{self.port}"\n'
            f"[jobs]\nshutdown_grace_seconds = {self.grace}\nlease_seconds = 30\n"
            f'[logging]\nformat = "json"\nlevel = "info"\n[analyzers]\nenabled = ["shots"]\n{self.extra}'
        )

    def start(self, wait: bool = True) -> Daemon:
        env = {**os.environ, **self.env}
        logf = open(self.log, "ab")  # noqa: SIM115 - handed to the child, closed when it exits
        self.proc = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "kinod.cli.main", "--config", str(self.config), "run"],
            stdout=logf,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.base,
        )
        logf.close()
        if wait:
            self.wait_for(self.healthy, 30, "daemon to answer /healthz")
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            self.check_alive()
            return False

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"kinod exited with {self.proc.returncode}:\n{self.log_text()[-4000:]}")

    def scrape_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return r.read().decode()

    def scrape(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        out = {}
        for fam in text_string_to_metric_families(self.scrape_text()):
            for s in fam.samples:
                out[(s.name, frozenset(s.labels.items()))] = s.value
        return out

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.scrape().items() if n == name and want <= set(ls))

    def wait_for(self, cond: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = cond()
            if got:
                return got
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}\n--- log ---\n{self.log_text()[-5000:]}")

    def wait_metric(self, name: str, at_least: float, timeout: float = 60, **labels: str) -> float:
        def ok() -> float | None:
            self.check_alive()
            v = self.metric(name, **labels)
            return v if v >= at_least else None

        return float(self.wait_for(ok, timeout, f"{name}{labels} >= {at_least}", every=0.2))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.proc = None
        return rc

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def store(self) -> JobStore:
        return JobStore(self.state / "kinod.sqlite", readonly=True)

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        s = self.store()
        try:
            return [dict(r) for r in s.query(sql, args)]
        finally:
            s.close()

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        if event is None:
            return self.query("SELECT * FROM job_events ORDER BY id")
        return self.query("SELECT * FROM job_events WHERE event=? ORDER BY id", (event,))

    def sidecar(self, rel: str) -> dict[str, Any]:
        data = json.loads((self.out / (rel + ".kino.json")).read_text())
        validate_sidecar(data)
        return data

    def validate_all_sidecars(self) -> int:
        """Every clip sidecar the daemon wrote, checked against the JSON Schema; returns how many."""
        n = 0
        for f in sorted(self.out.rglob("*.kino.json")) if self.out.is_dir() else []:
            if f.name != "card.kino.json":
                validate_sidecar(json.loads(f.read_text()))
                n += 1
        return n

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        if exc_type is None:
            self.validate_all_sidecars()
