"""Fault injection, long run: seeded ``kill -9`` rounds against the real daemon.

    .venv/bin/python benchmarks/faults.py --rounds 50 --seed 1300

Each round (tests/faults/faultkit.py): two cards of tiny clips, the daemon killed with
SIGKILL at a seeded random moment (a third of the rounds twice), restarted, run to
the end. Prints one line per round and a JSON summary: kills, jobs, clips, lost,
duplicated, rounds with problems (temp files, orphan processes, half-written sidecars).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "tests" / "faults")]

from faultkit import make_sources, run_round  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1300)
    ap.add_argument("--clips", type=int, default=4, help="clips per round (split over two cards)")
    args = ap.parse_args()
    t0 = time.monotonic()
    totals = {"rounds": 0, "kills": 0, "jobs": 0, "clips": 0, "lost": 0, "duplicated": 0, "rounds_with_problems": 0}
    problems: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="kinod-faults-") as tmp:
        sources = make_sources(Path(tmp) / "media", args.clips)
        for i in range(args.rounds):
            res = run_round(Path(tmp) / f"r{i:03d}", sources, seed=args.seed + i)
            totals["rounds"] += 1
            for k in ("kills", "jobs", "clips", "lost", "duplicated"):
                totals[k] += getattr(res, k)
            if res.problems:
                totals["rounds_with_problems"] += 1
                problems.append({"seed": res.seed, "problems": res.problems[:5]})
            print(f"round {i:3d} seed {res.seed}: kills {res.kills} jobs {res.jobs} lost {res.lost} "
                  f"duplicated {res.duplicated} problems {len(res.problems)} ({res.seconds} s)", flush=True)
    totals["wall_s"] = round(time.monotonic() - t0, 1)
    print(json.dumps({"summary": totals, "problems": problems}, indent=2))
    return 0 if not problems and not totals["lost"] and not totals["duplicated"] else 1


if __name__ == "__main__":
    sys.exit(main())
