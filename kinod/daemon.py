"""``kinod run``: the long-running service.

Wiring only: watch roots -> stable files -> ClipProcessor -> outputs. This first
version polls the watch roots (a file is taken once its size and mtime have not
changed for ``watch.stable_polls`` polls spanning ``watch.settle_seconds``), and
processes clips one at a time; the job store makes restarts cheap because finished
work is never redone.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import structlog

from kinod.config import Config
from kinod.jobs.store import JobStore
from kinod.pipeline import ClipProcessor, is_media_name, output_dir_for

log = structlog.get_logger(__name__)


class ConfigConflict(RuntimeError):
    pass


def check_layout(config: Config) -> None:
    """Refuse layouts that would write into the footage or watch our own outputs."""
    out = config.output.root.absolute()
    for root in config.watch.roots:
        r = root.path.absolute()
        if out.is_relative_to(r) or r.is_relative_to(out):
            raise ConfigConflict(
                f"output.root {out} and watch root {r} overlap: outputs must never be written into the footage"
            )


def _snapshot(config: Config) -> dict[Path, tuple[int, int]]:
    files: dict[Path, tuple[int, int]] = {}
    for root in config.watch.roots:
        for dirpath, dirnames, filenames in os.walk(root.path):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                p = Path(dirpath) / name
                if not is_media_name(p):
                    continue
                try:
                    st = p.stat()
                except OSError:
                    continue
                files[p] = (st.st_size, st.st_mtime_ns)
    return files


def run_daemon(config: Config, once: bool = False) -> int:
    check_layout(config)
    for root in config.watch.roots:
        root.path.mkdir(parents=True, exist_ok=True)
    config.output.root.mkdir(parents=True, exist_ok=True)
    store = JobStore(config.state.dir / "kinod.sqlite")
    processor = ClipProcessor(config, store)
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("kinod running", roots=[str(r.path) for r in config.watch.roots], output=str(config.output.root))
    stable: dict[Path, tuple[tuple[int, int], int, float]] = {}
    handled: dict[Path, tuple[int, int]] = {}
    try:
        while not stop.is_set():
            now = time.monotonic()
            snap = _snapshot(config)
            for path, sig in snap.items():
                if handled.get(path) == sig:
                    continue
                prev = stable.get(path)
                if prev is None or prev[0] != sig:
                    stable[path] = (sig, 1, now)
                    if not once:
                        continue
                else:
                    stable[path] = (sig, prev[1] + 1, prev[2])
                sig_, polls, since = stable[path]
                settled = polls >= config.watch.stable_polls and now - since >= config.watch.settle_seconds
                if not (settled or once) or (sig[0] == 0 and not once):
                    continue
                processor.process(path, output_dir_for(path, config), cancelled=stop.is_set)
                handled[path] = sig
                stable.pop(path, None)
                if stop.is_set():
                    break
            if once:
                break
            stop.wait(config.watch.poll_interval_seconds)
    finally:
        store.close()
    return 0
