"""Seeded ``kill -9`` rounds against the real daemon, and the checks after each.

Used by ``tests/faults`` (a few rounds in CI) and ``benchmarks/faults.py`` (many).
One round: fresh folders, cards dropped in, the daemon killed with SIGKILL at a
seeded random moment (sometimes twice), restarted, run to the end; then every
job must have finished exactly once, every clip must have one whole sidecar,
and no temp file or child process of the killed daemon may be left.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon_harness import Daemon, make_clip

#: The daemon runs three analyzers so a pass carries several jobs.
ANALYZERS = '[analyzers.black]\n[analyzers.silence]\n'


@dataclass
class RoundResult:
    seed: int
    kills: int = 0
    jobs: int = 0
    clips: int = 0
    lost: int = 0
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def make_sources(folder: Path, clips: int) -> list[Path]:
    """Distinct tiny clips (content differs, so each is its own job)."""
    patterns = ("testsrc", "testsrc2", "smptebars", "rgbtestsrc", "yuvtestsrc", "mandelbrot")
    out = []
    for i in range(clips):
        p = folder / f"src{i}.mp4"
        if not p.exists():
            make_clip(p, 1 + (i % 3) * 0.5, src=patterns[i % len(patterns)], audio=i % 2 == 0)
        out.append(p)
    return out


def _children_of_round(base: Path) -> list[str]:
    """Processes (an ffmpeg of the killed daemon) still reading this round's files."""
    left = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(base) in cmd and "pytest" not in cmd:
            left.append(f"{pid}: {cmd[:200]}")
    return left


def _wait_gone(base: Path, timeout: float = 20.0) -> list[str]:
    deadline = time.monotonic() + timeout
    left = _children_of_round(base)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = _children_of_round(base)
    return left


def run_round(base: Path, sources: list[Path], seed: int, cards: int = 2) -> RoundResult:
    rnd = random.Random(seed)
    res = RoundResult(seed)
    t0 = time.monotonic()
    d = Daemon(base, extra=ANALYZERS)
    d.write_config(ANALYZERS)
    d.config.write_text(d.config.read_text().replace('enabled = ["shots"]', 'enabled = ["shots", "black", "silence"]'))
    names: list[str] = []
    with d:
        d.start()
        per = max(1, len(sources) // cards)
        for c in range(cards):
            stage = base / "stage" / f"K{seed % 1000:03d}{c}"
            stage.mkdir(parents=True)
            for i, src in enumerate(sources[c * per : (c + 1) * per]):
                shutil.copy(src, stage / f"C{i:03d}.mp4")
                names.append(f"{stage.name}/C{i:03d}.mp4")
            stage.rename(d.root / stage.name)
        for _ in range(1 + (rnd.random() < 0.3)):  # sometimes a second kill after the restart
            time.sleep(rnd.uniform(0.05, 2.5))  # a random moment: the point of the exercise
            d.kill9()
            res.kills += 1
            left = _wait_gone(base)
            res.problems += [f"left running after kill -9: {x}" for x in left]
            d.start()
        # from the state file (counters start again at 0 with each restart)
        def finished() -> bool:
            d.check_alive()
            ended = d.query("SELECT 1 FROM cards WHERE state IN ('done','failed')")
            busy = d.query("SELECT 1 FROM clips WHERE state IN ('new','queued','running')")
            return len(ended) >= cards and not busy

        d.wait_for(finished, 180, f"{cards} cards finished", every=0.2)
        d.stop()
    res.clips = len(names)
    done = Counter(e["key"] for e in d.events("done"))
    passes = d.query("SELECT fingerprint, state FROM passes")
    jobs = d.query("SELECT key, state FROM jobs") + [{"key": "pass:" + r["fingerprint"], "state": r["state"]}
                                                      for r in passes]
    res.jobs = len(jobs)
    res.lost = sum(1 for j in jobs if j["state"] != "done" or done[j["key"]] == 0)
    res.duplicated = sum(1 for n in done.values() if n > 1)
    if res.lost:
        res.problems.append(f"not done: {[j for j in jobs if j['state'] != 'done' or not done[j['key']]]}")
    if res.duplicated:
        res.problems.append(f"done twice: {[k for k, n in done.items() if n > 1]}")
    for rel in names:
        side = d.out / (rel + ".kino.json")
        try:
            data = json.loads(side.read_text())
            if data.get("schema") != "kinod.clip" or data.get("errors"):
                res.problems.append(f"{side}: not a clean sidecar: {data.get('errors')}")
        except (OSError, ValueError) as e:
            res.problems.append(f"{side}: missing or half-written: {e}")
    temps = [str(p) for p in d.out.rglob("*") if p.name.endswith(".tmp") or ".kinod-partial" in p.name]
    res.problems += [f"temp file left: {t}" for t in temps]
    res.problems += [f"left running: {x}" for x in _wait_gone(base, 5)]
    if "Traceback" in d.log_text():
        res.problems.append("a traceback in the log")
    res.seconds = round(time.monotonic() - t0, 2)
    return res
