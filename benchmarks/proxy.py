"""Proxy benchmark: encode speed, and what sharing the analysis decode saves.

Generates a 60 s 1080p25 H.264 clip with stereo sound (a camera-original stand-in),
then measures, one after the other in this run:

* analysis alone: one DecodePass feeding the shots analyzer;
* proxy alone, H.264 540p and ProRes Proxy: one DecodePass whose only consumers are
  the proxy branches, plus the finalize mux;
* analysis + proxy in one pass: the same DecodePass feeding the analyzer *and* the
  proxy branches, plus finalize.

It prints the proxy speed as a multiple of realtime (media seconds / wall seconds)
and the CPU-time ratio shared / (analysis alone + proxy alone); the target is
<= 0.8. CPU time is user + system of this process and its children (ffmpeg).

    .venv/bin/python benchmarks/proxy.py [--seconds 60] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Run as a script, this folder is sys.path[0]; a sibling benchmark module named like a
# stdlib module (queue.py) would then shadow it for every import below.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from kinod.analyzers.base import ClipInfo, RuntimeContext  # noqa: E402 - after the sys.path fix above
from kinod.analyzers.shots import ShotsAnalyzer  # noqa: E402 - after the sys.path fix above
from kinod.media.decode import DecodePass  # noqa: E402 - after the sys.path fix above
from kinod.media.ffmpeg import ffmpeg_path, ffmpeg_version  # noqa: E402 - after the sys.path fix above
from kinod.media.probe import Probe, probe  # noqa: E402 - after the sys.path fix above
from kinod.media.proxy import ProxyConfig, make_proxy, plan_proxy  # noqa: E402 - after the sys.path fix above


def cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def measure(fn: Callable[[], object]) -> tuple[float, float]:
    c0, w0 = cpu(), time.monotonic()
    fn()
    return cpu() - c0, time.monotonic() - w0


def make_source(path: Path, seconds: int, ff: str) -> None:
    cmd = [
        ff, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=s=1920x1080:r=25:d={seconds}",
        "-f", "lavfi", "-i", f"sine=f=440:r=48000:d={seconds},aformat=channel_layouts=stereo",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-g", "25",
        "-c:a", "pcm_s16le", "-timecode", "10:00:00:00", str(path),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)


def analysis(src: Path, pr: Probe, ff: str, work: Path, proxy: ProxyConfig | None) -> None:
    shots = ShotsAnalyzer(runtime=RuntimeContext(work / "state"))
    info = ClipInfo(src, pr, pr.timeline_rate, pr.frames, work / "keyframes", pr.start_tc_frames, pr.drop_frame)
    shots.start(info)
    dp = DecodePass(src, pr, ffmpeg=ff)
    if proxy is None:
        dp.run([shots])
    else:
        job = plan_proxy(src, pr, work / "shared", proxy, ffmpeg=ff)
        dp.run([shots], video_branches=job.video_branches, audio_branches=job.audio_branches)
        job.finalize()
    shots.finish()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--keep", type=Path, default=None, help="keep the work folder here")
    args = ap.parse_args()
    ff = ffmpeg_path()
    work = Path(tempfile.mkdtemp(prefix="kinod-bench-proxy-"))
    try:
        src = work / "source_1080p25.mp4"
        print(f"ffmpeg {ffmpeg_version(ff)}, {os.cpu_count()} CPUs (shared machine: numbers vary run to run)")
        print(f"generating {args.seconds} s 1080p25 H.264 + stereo PCM ...", flush=True)
        make_source(src, args.seconds, ff)
        pr = probe(src)
        media_s = pr.duration_s
        ana_cpu, ana_wall = measure(lambda: analysis(src, pr, ff, work, None))
        print(f"analysis alone (shots):          cpu {ana_cpu:7.1f} s  wall {ana_wall:6.1f} s")
        rows = []
        for label, cfg in (
            ("H.264 540p", ProxyConfig()),
            ("ProRes Proxy 540p", ProxyConfig(codec="prores_proxy")),
        ):
            out = work / label.replace(" ", "_")
            p_cpu, p_wall = measure(lambda cfg=cfg, out=out: make_proxy(src, pr, out, cfg, ffmpeg=ff))
            s_cpu, s_wall = measure(lambda cfg=cfg: analysis(src, pr, ff, work, cfg))
            ratio = s_cpu / (ana_cpu + p_cpu)
            rows.append((label, p_cpu, p_wall, s_cpu, s_wall, ratio))
            print(
                f"{label:18s} proxy alone:    cpu {p_cpu:7.1f} s  wall {p_wall:6.1f} s  "
                f"speed {media_s / p_wall:5.2f}x realtime"
            )
            print(f"{label:18s} shared pass:    cpu {s_cpu:7.1f} s  wall {s_wall:6.1f} s")
            print(
                f"{label:18s} CPU ratio shared / (analysis + proxy) = {s_cpu:.1f} / "
                f"({ana_cpu:.1f} + {p_cpu:.1f}) = {ratio:.2f}  (target <= 0.80)",
                flush=True,
            )
        print("\nsummary")
        for label, _p_cpu, p_wall, _s_cpu, _s_wall, ratio in rows:
            print(f"  {label:18s} {media_s / p_wall:5.2f}x realtime   shared/separate CPU {ratio:.2f}")
        return 0 if all(r[-1] <= 0.8 for r in rows) else 1
    finally:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copytree(work, args.keep / work.name)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
