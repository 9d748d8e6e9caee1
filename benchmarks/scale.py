"""Scale-out: clips per minute with the local executor, one Dramatiq worker and two, and the broker's cost.

Run: .venv/bin/python benchmarks/scale.py [--short N] [--long N] [--modes local,w1,w2,pin1,pin2]

Needs ``redis-server`` (a private one is started on a free loopback port). For each
mode a fresh ``kinod run`` (the real process, from the test harness) gets one card of
N distinct 2 s clips, then one card of M distinct 60 s clips (320x240, H.264),
``shots`` only, ``media.decode_threads = 1`` so that one task uses about one core:

* ``local``: ``jobs.executor = "thread"`` with ``jobs.cpu_workers = 1`` (one task at a time);
* ``w1``: ``jobs.executor = "dramatiq"``, one ``kinod worker`` (1 process, 1 thread);
* ``w2``: the same with two worker processes;
* ``pin1`` / ``pin2``: one or two workers, each pinned to a core of its own
  (``os.sched_setaffinity``: worker i on core i), the coordinator and Redis free to run
  anywhere. ``pin2 / pin1`` is what a second machine adds: each worker has a core no
  other worker uses, as it would have a machine (target >= 1.8x).

Figures per mode and clip length:

* **clips/min** = clips / (last ``done`` - first ``started`` in the job events) * 60;
* **broker overhead per job** (dramatiq modes) = worker idle time per task =
  (workers x span - seconds the workers report for their tasks) / tasks: sending,
  Redis, the claim, the result file, the completion message, the coordinator's pickup
  and its next dispatch. Meaningful with ``w1`` (a second worker idles when there is
  nothing left for it). Target <= 20 ms;
* **w2 / w1** on the 60 s clips. Target >= 1.7x, which needs two idle cores: the load
  average is printed before and after each run, and the figures are only comparable
  on a machine that is otherwise idle;
* **coordinator CPU per task**: the ``kinod run`` process's own CPU (and its children's)
  over the card, divided by its tasks: the part of every task that does not scale out.

The broker's idle time per task at 1,000 queued tasks: ``--short 1000 --long 0 --modes pin1``.

Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from daemon_harness import Daemon, make_clip  # noqa: E402
from dist_harness import RedisServer, Worker, dist_config  # noqa: E402

SETTINGS = "[media]\ndecode_threads = 1\n"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def media(base: Path, n: int, seconds: float, tag: str) -> list[Path]:
    """``n`` distinct clips that cost the same to analyse (one source, another hue each), so
    that the clips per minute measure the workers, not which clip fell to which worker."""
    return [
        make_clip(
            base / f"{tag}{i:03d}.mp4", seconds, size="320x240", extra=["-vf", f"hue=h={i * 29 % 360}"]
        )
        for i in range(n)
    ]


def proc_cpu(pid: int) -> float:
    """CPU seconds of a running process and its waited-for children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def run_card(d: Daemon, clips: list[Path], name: str, cards_done: int) -> dict[str, float]:
    if not clips:
        return {"clips_per_min": 0.0, "span_s": 0.0, "coordinator_cpu_per_task_ms": 0.0}
    assert d.proc is not None
    c0 = proc_cpu(d.proc.pid)
    staging = d.base / "staging" / name
    staging.mkdir(parents=True)
    for c in clips:
        shutil.copy(c, staging / c.name)
    staging.rename(d.root / name)
    d.wait_metric("kinod_cards_done_total", cards_done, timeout=3600, outcome="done")
    rows = d.query(
        "SELECT e.key, e.event, e.at FROM job_events e JOIN passes p ON e.key = 'pass:' || p.fingerprint "
        "WHERE p.path LIKE ? AND e.event IN ('started', 'done')",
        (f"%/{name}/%",),
    )
    started = {r["key"]: r["at"] for r in rows if r["event"] == "started"}
    done = {r["key"]: r["at"] for r in rows if r["event"] == "done"}
    span = max(done.values()) - min(started.values())
    coordinator = (proc_cpu(d.proc.pid) - c0) / len(done) * 1000
    return {
        "clips_per_min": len(done) / span * 60,
        "span_s": span,
        "coordinator_cpu_per_task_ms": coordinator,
        **{f"span:{k}": done[k] - started[k] for k in done},
    }


def worker_seconds(workers: list[Worker]) -> dict[str, float]:
    out = {}
    for w in workers:
        for line in w.log_text().splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("event") == "task finished":
                out[ev["key"]] = float(ev["seconds"])
    return out


def run_mode(mode: str, short: list[Path], long: list[Path], base: Path) -> dict[str, object]:
    base.mkdir(parents=True)
    cores = sorted(os.sched_getaffinity(0))
    if mode.startswith("pin"):
        # The coordinator and Redis (started below, inheriting this mask) share the first core
        # with worker 1 in both pinned modes, as on the first machine of a farm; worker 2 has
        # a core to itself, as a second machine would. So pin2 / pin1 is what that machine adds.
        os.sched_setaffinity(0, {cores[0]})
    redis = RedisServer(base).start() if mode != "local" else None
    d = Daemon(base, extra=SETTINGS, settle=0.5, polls=1)
    workers: list[Worker] = []
    if redis is not None:
        dist_config(d, redis, heartbeat=10.0)
        workers = [Worker(d, f"w{i + 1}") for i in range(int(mode[-1]))]
    else:
        d.config.write_text(d.config.read_text().replace("[jobs]\n", "[jobs]\ncpu_workers = 1\n", 1))
    before = load()
    try:
        for i, w in enumerate(workers):
            w.start("--threads", "1")
            if mode.startswith("pin"):  # before it starts threads or ffmpeg: they inherit the mask
                assert w.proc is not None
                os.sched_setaffinity(w.proc.pid, {cores[i % len(cores)]})
        d.start()
        if workers:
            names = {w.name for w in workers}
            folder = d.state / "dist" / "workers"
            d.wait_for(lambda: {f.stem for f in folder.glob("*.json")} >= names, 120, "workers to register")
        res_short = run_card(d, short, "SHORT", 1)
        res_long = run_card(d, long, "LONG", 1 + bool(short))
        d.stop()
    finally:
        for w in workers:
            w.stop()
        if d.proc is not None:
            d.kill9()
        if redis is not None:
            redis.stop()
        os.sched_setaffinity(0, set(cores))
    out: dict[str, object] = {
        "mode": mode,
        "load_before": before,
        "load_after": load(),
        "short_clips_per_min": res_short["clips_per_min"],
        "long_clips_per_min": res_long["clips_per_min"],
        "coordinator_ms_short": res_short["coordinator_cpu_per_task_ms"],
        "coordinator_ms_long": res_long["coordinator_cpu_per_task_ms"],
    }
    if workers:
        # Idle worker time per task: (workers x span - time the workers spent in tasks) / tasks.
        # It holds everything between two tasks on a worker: send, Redis, claim, result file,
        # completion message, the coordinator's pickup and its next dispatch.
        secs = worker_seconds(workers)
        for tag, res in (("short", res_short), ("long", res_long)):
            keys = [k.removeprefix("span:") for k in res if k.startswith("span:")]
            if not keys:
                continue
            busy = sum(secs[k] for k in keys)
            out[f"overhead_ms_{tag}"] = (len(workers) * float(res["span_s"]) - busy) / len(keys) * 1000
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--short", type=int, default=16, help="2 s clips per run (default 16)")
    ap.add_argument("--long", type=int, default=8, help="60 s clips per run (default 8)")
    ap.add_argument("--modes", default="local,w1,w2")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kinod-scale-") as tmp:
        base = Path(tmp)
        t0 = time.time()
        short = media(base / "media", args.short, 2, "S")
        long = media(base / "media", args.long, 60, "L")
        print(
            f"media: {args.short} x 2 s, {args.long} x 60 s (320x240) in {time.time() - t0:.0f} s;"
            f" cores: {os.cpu_count()}"
        )
        results = []
        for mode in args.modes.split(","):
            r = run_mode(mode, short, long, base / mode)
            results.append(r)
            line = f"{mode:>5}: 2 s clips {r['short_clips_per_min']:7.1f}/min"
            line += f"   60 s clips {r['long_clips_per_min']:6.2f}/min"
            for tag in ("short", "long"):
                if f"overhead_ms_{tag}" in r:
                    line += f"   idle/task ({tag}) {r[f'overhead_ms_{tag}']:.0f} ms"
            line += f"   coordinator cpu/task {r['coordinator_ms_short']:.0f} ms (2 s)"
            line += f", {r['coordinator_ms_long']:.0f} ms (60 s)"
            print(line + f"   load {r['load_before']} -> {r['load_after']}", flush=True)
        by = {r["mode"]: r for r in results}
        if "w1" in by and "w2" in by:
            ratio = float(by["w2"]["long_clips_per_min"]) / float(by["w1"]["long_clips_per_min"])  # type: ignore[arg-type]
            print(f"w2 / w1 on 60 s clips: {ratio:.2f}x (target >= 1.7x on two idle cores)")
        if "pin1" in by and "pin2" in by and float(by["pin1"]["long_clips_per_min"]):  # type: ignore[arg-type]
            ratio = float(by["pin2"]["long_clips_per_min"]) / float(by["pin1"]["long_clips_per_min"])  # type: ignore[arg-type]
            print(f"pin2 / pin1 on 60 s clips (a core per worker): {ratio:.2f}x (target >= 1.8x)")
        if "local" in by and "w1" in by:
            ratio = float(by["w1"]["short_clips_per_min"]) / float(by["local"]["short_clips_per_min"])  # type: ignore[arg-type]
            print(f"w1 / local on 2 s clips: {ratio:.2f}x")


if __name__ == "__main__":
    main()
