"""Soak: many cards of tiny clips through the real daemon, in accelerated time.

    .venv/bin/python benchmarks/soak.py --cards 1000 --sample 10

Settling is shortened (0.2 s, one stable poll) so 1,000 cards pass in minutes. Cards
are fed in waves so the watch root holds at most ``--wave`` unfinished cards. Each
clip has its own content (a template clip with a unique trailing byte), so every card
costs a real probe, decode pass and sidecar. Every ``--sample`` seconds the daemon's
RSS and open file descriptors are read from /proc; both curves and the totals are
printed as JSON. Flat curves mean no leak; the slope per 100 cards is given too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from daemon_harness import Daemon, make_clip  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cards", type=int, default=1000)
    ap.add_argument("--wave", type=int, default=20, help="cards in the watch root not yet finished, at most")
    ap.add_argument("--sample", type=float, default=10.0, help="seconds between RSS/fd samples")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kinod-soak-") as tmp:
        base = Path(tmp)
        template = make_clip(base / "src" / "t.mp4", 0.5, size="96x64").read_bytes()
        d = Daemon(base / "d", settle=0.2, polls=1, interval=0.1)
        samples: list[dict[str, float]] = []
        t0 = time.monotonic()
        with d:
            d.start()
            assert d.proc is not None
            pid = d.proc.pid
            dropped = 0
            next_sample = 0.0
            while True:
                done = int(d.metric("kinod_cards_done_total"))
                now = time.monotonic() - t0
                if now >= next_sample:
                    samples.append({"t_s": round(now, 1), "cards_done": done, "rss_mb": round(rss_mb(pid), 1),
                                    "fds": open_fds(pid)})
                    print(json.dumps(samples[-1]), flush=True)
                    next_sample += args.sample
                if done >= args.cards:
                    break
                while dropped < args.cards and dropped - done < args.wave:
                    stage = base / "stage" / f"S{dropped:05d}"
                    stage.mkdir(parents=True)
                    (stage / "C0001.mp4").write_bytes(template + dropped.to_bytes(4, "big"))
                    stage.rename(d.root / stage.name)
                    dropped += 1
                d.check_alive()
                time.sleep(0.2)
            total = time.monotonic() - t0
            samples.append({"t_s": round(total, 1), "cards_done": args.cards, "rss_mb": round(rss_mb(pid), 1),
                            "fds": open_fds(pid)})
            failed = d.metric("kinod_cards_done_total", outcome="failed")
            d.stop()
    first, last = samples[1] if len(samples) > 2 else samples[0], samples[-1]
    per100 = 100 / max(1, last["cards_done"] - first["cards_done"])
    print(json.dumps({
        "cards": args.cards, "failed_cards": failed, "wall_s": round(total, 1),
        "cards_per_hour": round(args.cards / total * 3600),
        "rss_mb": {"start": first["rss_mb"], "end": last["rss_mb"], "max": max(s["rss_mb"] for s in samples),
                   "per_100_cards": round((last["rss_mb"] - first["rss_mb"]) * per100, 2)},
        "fds": {"start": first["fds"], "end": last["fds"], "max": max(s["fds"] for s in samples)},
        "samples": samples,
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
