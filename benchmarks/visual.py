"""Cost of visual + ocr + categories on CPU, against the decode pass of the same clip.

    .venv/bin/python benchmarks/visual.py [--minutes 1] [--keyframes 10]

1. CPU ms per keyframe for tags (EfficientNet-Lite0, 640x360 picture) and OCR (PP-OCRv4,
   1280x720 picture with a lower third), after warm-up, median of ``--keyframes`` runs.
2. A generated 1080p25 clip of ``--minutes`` minutes with a cut every 5 s (alternating
   lavfi pictures, every other one with drawtext titles so OCR has text to read) goes
   through the real pipeline with shots + visual + ocr + categories: process CPU time
   (user+sys, this process and ffmpeg) of the decode pass (which also keeps the sampled
   frames for the model analyzers) and of each model task, and their ratio.
   Models are loaded once by a warm-up clip first, as in a running daemon.
   Target: (visual + ocr + categories) / decode pass <= 1.0 on CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks._common import FFMPEG  # noqa: E402
from kinod.analyzers.base import RuntimeContext  # noqa: E402
from kinod.analyzers.categories import CategoriesAnalyzer  # noqa: E402
from kinod.analyzers.ocr import OcrAnalyzer  # noqa: E402
from kinod.analyzers.shots import ShotsAnalyzer  # noqa: E402
from kinod.analyzers.visual import VisualAnalyzer  # noqa: E402
from kinod.config import load_config  # noqa: E402
from kinod.jobs.store import JobStore  # noqa: E402
from kinod.run.processor import ClipProcessor  # noqa: E402

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SOURCES = ["testsrc2", "mandelbrot", "smptehdbars", "cellauto", "rgbtestsrc", "life=mold=10:ratio=0.2"]


def cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def make_clip(path: Path, minutes: float, size: str = "1920x1080") -> Path:
    segs = int(minutes * 60 // 5)
    args: list[str] = []
    chains = []
    for i in range(segs):
        src = SOURCES[i % len(SOURCES)]
        sep = ":" if "=" in src else "="
        args += ["-f", "lavfi", "-i", f"{src}{sep}s={size}:r=25"]
        text = ""
        if i % 2 == 0 and Path(FONT).is_file():
            box = ",drawbox=y=ih*0.78:w=iw:h=ih*0.12:color=black@0.7:t=fill"
            text = (f"{box},drawtext=fontfile={FONT}:text='Interview {i + 1} - Main Street':"
                    "fontsize=h*0.06:fontcolor=white:x=w*0.05:y=h*0.8")  # fmt: skip
        chains.append(f"[{i}:v]trim=end_frame=125,setpts=PTS-STARTPTS{text},format=yuv420p[v{i}]")
    graph = ";".join(chains) + ";" + "".join(f"[v{i}]" for i in range(segs)) + f"concat=n={segs}:v=1:a=0[v]"
    subprocess.run([FFMPEG, "-v", "error", "-y", *args, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264",
                    "-preset", "veryfast", "-crf", "20", str(path)], check=True)  # fmt: skip
    return path


def per_keyframe(n: int, tmp: Path) -> dict[str, float]:
    rt = RuntimeContext(tmp / "var")
    visual = VisualAnalyzer(runtime=rt)
    ocr = OcrAnalyzer(runtime=rt)
    rng = np.random.default_rng(1)
    pic = (rng.random((360, 640, 3)) * 255).astype(np.uint8)
    frame = cv2.resize(pic, (1280, 720))
    cv2.rectangle(frame, (0, 560), (1280, 680), (0, 0, 0), -1)
    cv2.putText(frame, "Maria Lopez - Director", (60, 640), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (255, 255, 255), 3)
    visual.classify(pic)
    engine = ocr._load()
    engine.read(frame)
    out = {}
    for name, fn in (("tags", lambda: visual.classify(pic)), ("ocr", lambda: engine.read(frame))):
        runs = []
        for _ in range(n):
            c0 = cpu()
            fn()
            runs.append((cpu() - c0) * 1000)
        out[name] = statistics.median(runs)
    return out


def pipeline_costs(clip: Path, warm: Path, tmp: Path) -> dict[str, dict[str, float]]:
    for d in ("out", "var"):
        (tmp / d).mkdir(exist_ok=True)
    cfg = tmp / "config.toml"
    cfg.write_text(
        f'[[watch.roots]]\npath = "{clip.parent}"\n[output]\nroot = "{tmp / "out"}"\n[state]\ndir = "{tmp / "var"}"\n'
        '[logging]\nformat = "json"\nlevel = "warning"\n'
        '[analyzers]\nenabled = ["shots", "visual", "ocr", "categories"]\n'
    )
    config = load_config(cfg)
    store = JobStore(config.state.dir / "kinod.sqlite")
    costs: dict[str, dict[str, float]] = {}
    try:
        proc = ClipProcessor(config, store, classes=[ShotsAnalyzer, VisualAnalyzer, OcrAnalyzer, CategoriesAnalyzer])
        real = proc.run_task

        def timed(task: Any, cancelled: Any, progress: Any = None) -> Any:
            c0, w0 = cpu(), time.perf_counter()
            out = real(task, cancelled, progress)
            name = "pass" if task.kind == "pass" else task.analyzer
            costs[name] = {"cpu_s": cpu() - c0, "wall_s": time.perf_counter() - w0}
            return out

        proc.run_task = timed  # type: ignore[method-assign]
        proc.process(warm, tmp / "out")  # loads every model once
        costs.clear()
        outcome = proc.process(clip, tmp / "out")
        side = json.loads(Path(str(outcome.sidecar)).read_text())
        costs["_facts"] = {
            "shots": len(side["analyses"]["shots"]["items"]),
            "ocr_reads": side["analyses"]["ocr"]["summary"]["reads"],
            "ocr_lines": len(side["analyses"]["ocr"]["items"]),
        }
    finally:
        store.close()
    return costs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--keyframes", type=int, default=10)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        (tmp / "footage").mkdir()
        kf = per_keyframe(args.keyframes, tmp)
        print(f"tags: {kf['tags']:.1f} CPU ms per keyframe (640x360); ocr: {kf['ocr']:.1f} CPU ms (1280x720)")
        warm = make_clip(tmp / "footage" / "warm.mp4", 10 / 60, "640x360")
        clip = make_clip(tmp / "footage" / "clip.mp4", args.minutes)
        costs = pipeline_costs(clip, warm, tmp)
        facts = costs.pop("_facts")
        print(f"clip: {args.minutes:g} min 1080p25, {facts['shots']} shots, OCR read {facts['ocr_reads']} pictures, "
              f"{facts['ocr_lines']} text items")  # fmt: skip
        for name, c in costs.items():
            print(f"  {name:11} CPU {c['cpu_s']:7.2f} s  wall {c['wall_s']:7.2f} s")
        models = sum(costs[n]["cpu_s"] for n in ("visual", "ocr", "categories") if n in costs)
        base = costs["pass"]["cpu_s"]
        print(f"visual+ocr+categories CPU per minute of 1080p: {models / args.minutes:.2f} s; decode pass "
              f"{base / args.minutes:.2f} s; ratio {models / base:.2f}x (target <= 1.0)")  # fmt: skip


if __name__ == "__main__":
    main()
