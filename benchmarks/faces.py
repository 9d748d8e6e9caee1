"""Faces: CPU cost per minute of video at the default settings, coverage and separation.

Run: .venv/bin/python benchmarks/faces.py [--seconds S]
Uses short_hamilton_clip.mp4 (../shared/fixtures) as is (640x360) and upscaled to 1920x1080
(looped to --seconds). Prints, per source size:
* analyzer CPU-s per minute: what the faces job costs, reading sampled frames as the analysis
  cache holds them (640 px wide at 10 fps), decoding excluded (the shared decode pass pays it);
* find-person CPU-s per minute: the same plus decoding and scaling the clip itself (ffmpeg child
  CPU included), as `kinod find-person` does;
* coverage: share of the clip's frames inside at least one face track;
* Obama's track cosine to obama.jpg and the best other track's.
Target (issue 14): analyzer <= 60 CPU-s per minute of 1080p at defaults, separation kept.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FFMPEG

from kinod.analyzers.faces.analysis import analyse
from kinod.analyzers.faces.backends import build_stack
from kinod.analyzers.faces.config import FacesConfig
from kinod.analyzers.faces.find_person import reference_embedding
from kinod.analyzers.faces.sampler import sample_frames

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "media"
HAMILTON = MEDIA / "short_hamilton_clip.mp4"
RATE = Fraction(30000, 1001)


def cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def looped(src: Path, out: Path, size: str, seconds: float) -> Path:
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-stream_loop", "-1", "-i", str(src), "-t", str(seconds), "-an",
         "-vf", f"scale={size}:flags=bicubic", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", str(out)],
        check=True,
    )  # fmt: skip
    return out


def measure(clip: Path, w: int, h: int, frames: int, cfg: FacesConfig, stack) -> dict:
    c0 = cpu()
    sampled = list(sample_frames(clip, RATE, w, h, cfg.width, cfg.sample_fps))
    decode_cpu = cpu() - c0
    t0 = time.process_time()
    faces = analyse(sampled, stack, cfg, frames)
    analyse_cpu = time.process_time() - t0
    minutes = frames / float(RATE) / 60
    covered = np.zeros(frames, bool)
    for t in faces.tracks:
        covered[t.start : t.end + 1] = True
    return {
        "analyzer_cpu_per_min": analyse_cpu / minutes,
        "find_person_cpu_per_min": (analyse_cpu + decode_cpu) / minutes,
        "coverage": float(covered.mean()),
        "tracks": faces.tracks,
        "samples": len(sampled),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the looped test clips (default 30)")
    args = ap.parse_args()
    if not HAMILTON.is_file():
        print(f"fixtures not found at {MEDIA}", file=sys.stderr)
        return 2
    cfg = FacesConfig()
    stack = build_stack(cfg)
    ref = reference_embedding(MEDIA / "obama.jpg", stack)[0]
    print(f"defaults: width={cfg.width} sample_fps={cfg.sample_fps} embed_every={cfg.embed_every} "
          f"mirror={cfg.mirror}; threads: OMP={os.environ.get('OMP_NUM_THREADS', '-')}")  # fmt: skip
    ham = measure(HAMILTON, 640, 360, 275, cfg, stack)
    scores = sorted(((float(t.embedding @ ref), t) for t in ham["tracks"] if t.embedding is not None),
                    key=lambda p: -p[0])  # fmt: skip
    best, other = scores[0], scores[1]
    print(f"hamilton: {len(ham['tracks'])} tracks, coverage {ham['coverage']:.1%}; Obama track frames "
          f"{best[1].start}-{best[1].end} cosine {best[0]:.3f}, best other track {other[0]:.3f} "
          f"(frames {other[1].start}-{other[1].end})")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        n = round(args.seconds * float(RATE))
        for label, size, (w, h) in (("640x360", "640:360", (640, 360)), ("1920x1080", "1920:1080", (1920, 1080))):
            clip = looped(HAMILTON, Path(tmp) / f"loop-{w}.mp4", size, args.seconds)
            r = measure(clip, w, h, n, cfg, stack)
            print(f"{label}: analyzer {r['analyzer_cpu_per_min']:.1f} CPU-s/min, find-person (with decode) "
                  f"{r['find_person_cpu_per_min']:.1f} CPU-s/min, coverage {r['coverage']:.1%}, "
                  f"{len(r['tracks'])} tracks, {r['samples']} samples")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
