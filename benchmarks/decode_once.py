"""Decode once: `kinod scan` (shots only) against a bare ffmpeg decode of the same clip.

Run: .venv/bin/python benchmarks/decode_once.py [--runs N] [CLIP]
Prints wall and CPU time of each, measured side by side in one run, and the ratios.
Target (issue 3): kinod / bare decode <= 1.3 for both.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FFMPEG, best_of, generated_clip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("clip", nargs="?", type=Path)
    ap.add_argument("--runs", type=int, default=3, help="best of N runs each (default 3)")
    args = ap.parse_args()
    clip = args.clip or generated_clip()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bench.toml"
        cfg.write_text(
            f'[output]\nroot = "{tmp}/out"\n[state]\ndir = "{tmp}/var"\n[logging]\nlevel = "warning"\n'
            '[analyzers]\nenabled = ["shots"]\n'
        )
        bare = best_of(args.runs, [FFMPEG, "-v", "error", "-nostdin", "-i", str(clip), "-f", "null", "-"])
        kinod = best_of(args.runs, [sys.executable, "-m", "kinod.cli.main", "--config", str(cfg), "scan", "--force",
                                    str(clip)])
    print(f"clip: {clip}")
    print(f"{'':24}{'wall s':>10}{'cpu s':>10}")
    print(f"{'bare ffmpeg decode':24}{bare.wall_s:10.2f}{bare.cpu_s:10.2f}")
    print(f"{'kinod scan (shots)':24}{kinod.wall_s:10.2f}{kinod.cpu_s:10.2f}")
    wall_ratio, cpu_ratio = kinod.wall_s / bare.wall_s, kinod.cpu_s / bare.cpu_s
    print(f"ratio wall {wall_ratio:.2f}x  cpu {cpu_ratio:.2f}x  (target <= 1.30x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
