"""Per-clip fixed cost inside the daemon's code path: a 2 s clip, every signal analyzer.

Run: .venv/bin/python benchmarks/clip_overhead.py [--clips N]

Processes N different 2 s clips (640x360, 25 fps, stereo) one after another through
``ClipProcessor.process`` (plan, pass task through the scheduler, finalize: sidecar
and OTIO), after one warm-up clip that loads the analyzers. It reports, per clip:

* ``python cpu``: CPU time of this process (kinod's own work: planning, the job
  store, the pass's readers feeding the analyzers, results, sidecar, outputs);
* ``ffmpeg cpu``: CPU time of the decode pass's ffmpeg (children);
* ``fixed``: python cpu minus what the analyzers' hooks cost per frame, estimated
  from a 4 s clip of the same kind (the part that does not grow with the clip).

Target: fixed <= 0.1 s CPU per clip.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg

REPO = Path(__file__).resolve().parents[1]
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
ALL = ("shots", "black", "freeze", "silence", "loudness", "dynamism", "picture", "technical")


def make(path: Path, seconds: float, seed: int) -> Path:
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s=640x360:r=25:d={seconds}",
         "-f", "lavfi", "-i", f"sine=f={300 + seed}:r=48000:d={seconds}", "-vf", f"hue=h={seed}",
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-ac", "2", str(path)],
        check=True,
    )  # fmt: skip
    return path


def cpu() -> tuple[float, float]:
    t = os.times()
    return t.user + t.system, t.children_user + t.children_system


def run(processor: object, clip: Path, out: Path) -> tuple[float, float, float]:
    (p0, c0), w0 = cpu(), time.monotonic()
    outcome = processor.process(clip, out)  # type: ignore[attr-defined]
    (p1, c1), w1 = cpu(), time.monotonic()
    assert outcome.ok, outcome.error
    return p1 - p0, c1 - c0, w1 - w0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=8)
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from kinod.config import load_config
    from kinod.jobs.store import JobStore
    from kinod.run.processor import ClipProcessor
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        cfg = t / "kinod.toml"
        cfg.write_text(
            f'[output]\nroot = "out"\nformats = ["json", "otio"]\n[state]\ndir = "var"\n'
            f"[analyzers]\nenabled = {list(ALL)!r}\n".replace("'", '"')
        )
        config = load_config(cfg)
        store = JobStore(config.state.dir / "kinod.sqlite")
        processor = ClipProcessor(config, store)
        run(processor, make(t / "warm.mp4", 2, 0), t / "out")
        two = [run(processor, make(t / f"c{i}.mp4", 2, 10 + i), t / "out") for i in range(args.clips)]
        four = [run(processor, make(t / f"d{i}.mp4", 4, 50 + i), t / "out") for i in range(max(2, args.clips // 2))]
        store.close()
    best = lambda xs, i: sorted(x[i] for x in xs)[len(xs) // 2]  # noqa: E731 - median
    py2, ff2, wall2 = best(two, 0), best(two, 1), best(two, 2)
    py4 = best(four, 0)
    per_second = (py4 - py2) / 2.0
    fixed = py2 - 2.0 * per_second
    print(f"2 s clip, {len(ALL)} analyzers, median of {len(two)} clips:")
    print(f"  python cpu {py2:.3f} s   ffmpeg cpu {ff2:.3f} s   wall {wall2:.3f} s")
    print(f"  4 s clip python cpu {py4:.3f} s -> {per_second:.3f} s per media second")
    print(f"  fixed per-clip cost (python cpu at 0 s of media): {fixed:.3f} s  (target <= 0.1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
