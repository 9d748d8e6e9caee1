"""Signal analyzers (issue 7) against the tools users run today, side by side in one run.

Run: .venv/bin/python benchmarks/analyzers.py [--runs N] [--no-memory] [CLIP ...]

For a generated 60 s 1080p clip (camera-like: moving picture with grain, a cut every
5 s, 2 s of black, stereo sound with a 3 s gap) and each fixture video (or the clips
given), it measures, best of N runs each, the CPU time (user+sys, the process and
its children) and wall time of:

* ``bare``: ``ffmpeg -i clip -f null -``, decoding everything and nothing else;
* ``all``: every analyzer of the issue (shots, black, freeze, silence, loudness,
  dynamism, picture, technical) in one decode pass (probe, pass, results, keyframe
  JPEGs), both per clip as in the running daemon and as a new Python process (plus
  interpreter start and imports, ~0.8 s of CPU that dominates on tiny clips);
* ``shots``: the shots analyzer alone, the same two ways;
* ``scenedetect``: the ``scenedetect`` CLI, ``detect-content`` with the same minimum
  scene length (15 frames), writing its scene list.

and prints all per clip / bare (target <= 1.5x CPU), shots / scenedetect, both as new
processes (target < 1x), and whether the cut lists are identical.

``--sequence`` adds a 1,440-frame 1080p 10-bit DPX sequence (a minute of a film scan
at 24 fps, about 12 GB in ``benchmarks/.cache``: ``--sequence-frames`` makes it
shorter) read as one clip: ``bare`` is ffmpeg's image2 demuxer decoding every frame,
``all`` the same pass as for a movie; the same all/bare budget holds.

The memory check runs every analyzer on two hours of 3840x2160 at 1 fps (7,200 4K
frames: a two-hour clip's duration, every buffer at 4K size; made by concatenating
copies of one encoded minute, so nothing long is encoded), and on 2 and 20 minutes
at 25 fps of a tiny picture (what grows with the number of frames). It reports peak
RSS of the Python process and of ffmpeg, and the estimate for two hours of 4K at
25 fps (target: under 1 GB). The machine this runs on may be shared: CPU times are
the least noisy figure, and every ratio comes from runs made side by side.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = HERE / ".cache"
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
SCENEDETECT = str(Path(sys.executable).with_name("scenedetect"))
FIXTURES = REPO.parent / "shared" / "fixtures" / "media"
FIXTURE_CLIPS = ("testvideo.mp4", "fades.mp4", "counter.mp4", "delayed_start.mp4", "short_hamilton_clip.mp4")
ALL = ("shots", "black", "freeze", "silence", "loudness", "dynamism", "picture", "technical")


@dataclass(frozen=True)
class Cost:
    wall_s: float
    cpu_s: float
    out: str


def run_cost(cmd: list[str]) -> Cost:
    """Wall and CPU time (user+sys of the command and the children it waited for) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({proc.returncode}): {err.strip()[-800:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Cost(wall, cpu, out)


def best_of(n: int, cmd: list[str]) -> Cost:
    runs = [run_cost(cmd) for _ in range(n)]
    return Cost(min(r.wall_s for r in runs), min(r.cpu_s for r in runs), runs[-1].out)


def warm(n: int, cmd: list[str]) -> tuple[Cost, Cost, dict]:
    """A child run best of n: the whole process (cold) and its per-clip work (warm: no start-up, no imports)."""
    runs = [run_cost(cmd) for _ in range(n)]
    infos = [json.loads(r.out.strip().splitlines()[-1]) for r in runs]
    cold = Cost(min(r.wall_s for r in runs), min(r.cpu_s for r in runs), runs[-1].out)
    work = Cost(min(i["wall"] for i in infos), min(i["cpu"] for i in infos), runs[-1].out)
    return cold, work, infos[-1]


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-v", "error", "-y", *args], check=True)


def generated_clip() -> Path:
    """60 s of camera-like 1080p25 H.264 + stereo AAC (cached): grain, cuts, black, a silence."""
    CACHE.mkdir(exist_ok=True)
    out = CACHE / "signal_60s_1080p.mp4"
    if out.is_file():
        return out
    tmp = out.with_suffix(".tmp.mp4")
    video = (
        "testsrc2=s=1920x1080:r=25,hue=h='360*floor(t/5)/7',"
        "drawbox=c=black:t=fill:enable='between(t,30,32)',noise=alls=6:allf=t"
    )
    audio = "sine=f=440:r=48000,volume=enable='between(t,40,43)':volume=0,aformat=channel_layouts=stereo"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        video,
        "-f",
        "lavfi",
        "-i",
        audio,
        "-t",
        "60",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "21",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "192k",
        str(tmp),
    )
    os.replace(tmp, out)
    return out


def dpx_sequence(frames: int) -> Path:
    """A folder of ``frames`` 1080p 10-bit DPX frames numbered from 86400 (cached), with cuts and grain."""
    out = CACHE / f"dpx_{frames}_1080p"
    if (out / "done").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    video = "testsrc2=s=1920x1080:r=24,hue=h='360*floor(t/5)/7',noise=alls=6:allf=t"
    ffmpeg("-f", "lavfi", "-i", video, "-frames:v", str(frames), "-pix_fmt", "gbrp10le", "-start_number", "86400",
           str(out / "A001C001.%07d.dpx"))  # fmt: skip
    (out / "done").write_text("")
    return out


def probe_clip(clip: Path) -> tuple[Path, object]:
    """The clip's first file and probe: a movie file, or a folder holding one image sequence."""
    from fractions import Fraction

    from kinod.media.imageseq import find_sequences
    from kinod.media.imageseq_probe import probe_sequence
    from kinod.media.probe import probe

    if not clip.is_dir():
        return clip, probe(clip)
    ((seq, _),) = find_sequences(clip, [(p.name, p.stat().st_size) for p in clip.iterdir() if p.name != "done"])
    return seq.path(seq.first), probe_sequence(seq, Fraction(24))


def bare_decode(clip: Path) -> list[str]:
    """ffmpeg decoding every frame of the clip and nothing else (image2 for a sequence)."""
    if not clip.is_dir():
        return [FFMPEG, "-v", "error", "-nostdin", "-i", str(clip), "-f", "null", "-"]
    first = min(p.name for p in clip.iterdir() if p.suffix == ".dpx")
    stem, number = first.split(".")[0], first.split(".")[1]
    pattern = str(clip / f"{stem}.%0{len(number)}d.dpx")
    return [FFMPEG, "-v", "error", "-nostdin", "-framerate", "24", "-start_number", number, "-i", pattern,
            "-f", "null", "-"]  # fmt: skip


def long_clip(name: str, source: str, minutes: int) -> Path:
    """A long clip made by concatenating copies of one encoded minute of ``source`` (no re-encoding)."""
    CACHE.mkdir(exist_ok=True)
    out = CACHE / name
    if out.is_file():
        return out
    with tempfile.TemporaryDirectory() as tmp:
        minute = Path(tmp) / "minute.mp4"
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            source,
            "-f",
            "lavfi",
            "-i",
            "sine=f=440:r=48000",
            "-t",
            "60",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "30",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            str(minute),
        )
        listing = Path(tmp) / "list.txt"
        listing.write_text("".join(f"file '{minute}'\n" for _ in range(minutes)))
        tmp_out = out.with_suffix(".tmp.mp4")
        ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(tmp_out))
        os.replace(tmp_out, out)
    return out


def child(clip: Path, names: list[str], artefacts: Path) -> None:
    """Run in a fresh process: the analyzers in one pass over the clip, as the pipeline does."""
    # Python put this folder first on the path; a module here (queue.py) must not shadow the stdlib.
    sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    from kinod.analyzers.base import ClipInfo, finish_order
    from kinod.analyzers.black import BlackAnalyzer
    from kinod.analyzers.dynamism import DynamismAnalyzer
    from kinod.analyzers.freeze import FreezeAnalyzer
    from kinod.analyzers.loudness import LoudnessAnalyzer
    from kinod.analyzers.picture import PictureAnalyzer
    from kinod.analyzers.shots import ShotsAnalyzer
    from kinod.analyzers.silence import SilenceAnalyzer
    from kinod.analyzers.technical import TechnicalAnalyzer
    from kinod.media.decode import DecodePass, needs_decode

    classes = {
        c.name: c
        for c in (
            ShotsAnalyzer,
            BlackAnalyzer,
            FreezeAnalyzer,
            SilenceAnalyzer,
            LoudnessAnalyzer,
            DynamismAnalyzer,
            PictureAnalyzer,
            TechnicalAnalyzer,
        )
    }  # importing them all costs ~0.1 s more than shots alone: shots drags in scenedetect and cv2 anyway
    t0, c0 = time.perf_counter(), _cpu()
    clip, pr = probe_clip(clip)
    analyzers = [classes[n]() for n in names]
    info = ClipInfo(clip, pr, pr.timeline_rate, pr.frames, artefacts, pr.start_tc_frames, pr.drop_frame)
    for a in analyzers:
        a.start(info)
    frames = 0
    if needs_decode(analyzers, pr):
        stats = DecodePass(clip, pr, ffmpeg=FFMPEG).run(analyzers)
        frames = stats.frames
    results = {}
    for a in finish_order(analyzers):
        a.use_results({n: results[n] for n in a.needs.results_of if n in results})
        results[a.name] = a.finish()
    work_cpu, work_wall = _cpu() - c0, time.perf_counter() - t0
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    info = {
        "cuts": results["shots"].summary["cuts"] if "shots" in results else None,
        "frames": frames,
        "py_rss_mb": me.ru_maxrss / 1024,
        "ffmpeg_rss_mb": kids.ru_maxrss / 1024,
        "cpu": work_cpu,
        "wall": work_wall,
    }
    print(json.dumps(info))


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def scenedetect_cuts(out_dir: Path) -> list[int]:
    with open(next(out_dir.glob("*.csv")), newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [int(r["Start Frame"]) - 1 for r in rows[1:]]  # the CSV counts frames from 1


def compare(clip: Path, runs: int) -> dict[str, float]:
    me = [sys.executable, str(Path(__file__).resolve())]
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        bare = best_of(runs, bare_decode(clip))
        every, every_work, _ = warm(runs, [*me, "--child", str(clip), ",".join(ALL), str(t / "kf_all")])
        shots, shots_work, info = warm(runs, [*me, "--child", str(clip), "shots", str(t / "kf_shots")])
        if clip.is_dir():  # scenedetect reads no DPX sequence: the pass alone is compared
            sd, ours, theirs = shots, info["cuts"], info["cuts"]
        else:
            sd_cmd = [SCENEDETECT, "-q", "-i", str(clip), "-m", "15", "-o", str(t / "sd"), "detect-content"]
            sd = best_of(runs, [*sd_cmd, "list-scenes", "-s"])
            ours, theirs = info["cuts"], scenedetect_cuts(t / "sd")
    print(f"\n{clip.name}")
    print(f"  {'':40}{'cpu s':>9}{'wall s':>9}")
    for label, c in (
        ("bare ffmpeg decode", bare),
        ("all analyzers, one pass: per clip", every_work),
        ("  the same as a new process", every),
        ("shots alone: per clip", shots_work),
        ("  the same as a new process", shots),
        ("scenedetect CLI detect-content", sd),
    ):
        print(f"  {label:40}{c.cpu_s:9.2f}{c.wall_s:9.2f}")
    r = {
        "all_cpu": every_work.cpu_s / bare.cpu_s,
        "all_wall": every_work.wall_s / bare.wall_s,
        "shots_cpu": shots.cpu_s / sd.cpu_s,
        "shots_wall": shots.wall_s / sd.wall_s,
        "shots_work_cpu": shots_work.cpu_s / sd.cpu_s,
        "same": float(ours == theirs),
    }
    same = "identical" if ours == theirs else f"DIFFER: ours {ours} vs scenedetect {theirs}"
    print(
        f"  all analyzers per clip / bare decode: cpu {r['all_cpu']:.2f}x (target <= 1.50x), wall {r['all_wall']:.2f}x"
    )
    print(
        f"  shots / scenedetect CLI, both new processes: cpu {r['shots_cpu']:.2f}x, wall {r['shots_wall']:.2f}x "
        f"(target < 1.00x); shots per clip / CLI cpu {r['shots_work_cpu']:.2f}x; cuts {same}"
    )
    return r


def memory() -> None:
    """Peak RSS on a two-hour 4K clip, and how it grows with the number of frames."""
    me = [sys.executable, str(Path(__file__).resolve())]
    # A 4K picture that is cheap to store and decode (a box moving over grey): every
    # buffer is 4K-sized all the same, and the analyzers see two hours of it.
    big = "color=gray:s=3840x2160:r=1,drawbox=x='mod(t*97,3400)':y=800:w=400:h=400:c=white:t=fill"
    tiny = "testsrc2=s=160x90:r=25"
    runs = (
        ("2 h of 3840x2160 at 1 fps (7,200 4K frames)", long_clip("long_4k_1fps.mp4", big, 120)),
        ("2 min of 160x90 at 25 fps (3,000 frames)", long_clip("tiny_2min_25fps.mp4", tiny, 2)),
        ("20 min of 160x90 at 25 fps (30,000 frames)", long_clip("tiny_20min_25fps.mp4", tiny, 20)),
    )
    print("\nmemory (every analyzer, one pass; peak RSS of the Python process and of ffmpeg)")
    peaks: list[tuple[int, float, float]] = []
    for label, clip in runs:
        with tempfile.TemporaryDirectory() as tmp:
            cost = run_cost([*me, "--child", str(clip), ",".join(ALL), str(Path(tmp) / "kf")])
        info = json.loads(cost.out.strip().splitlines()[-1])
        peaks.append((info["frames"], info["py_rss_mb"], info["ffmpeg_rss_mb"]))
        print(
            f"  {label}: cpu {cost.cpu_s:.0f} s, wall {cost.wall_s:.0f} s, peak RSS python {info['py_rss_mb']:.0f} MB"
            f" + ffmpeg {info['ffmpeg_rss_mb']:.0f} MB = {info['py_rss_mb'] + info['ffmpeg_rss_mb']:.0f} MB"
        )
    (f4k, py4k, ff4k), (f1, py1, _), (f2, py2, _) = peaks
    per_frame = max(0.0, (py2 - py1) / (f2 - f1))
    at_25fps = 2 * 3600 * 25
    estimate = py4k + ff4k + per_frame * (at_25fps - f4k)
    print(
        f"  Python grows {per_frame * 10000:.1f} MB per 10,000 frames; a 2 h 4K clip at 25 fps ({at_25fps} frames)"
        f" would peak near {estimate:.0f} MB (target < 1024 MB)"
    )


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), sys.argv[3].split(","), Path(sys.argv[4]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", nargs="*", type=Path)
    ap.add_argument("--runs", type=int, default=3, help="best of N runs each (default 3)")
    ap.add_argument("--no-memory", action="store_true", help="skip the long-clip memory check")
    ap.add_argument("--memory-only", action="store_true", help="only the long-clip memory check")
    ap.add_argument("--sequence", action="store_true", help="also a 1080p 10-bit DPX sequence (about 12 GB)")
    ap.add_argument("--sequence-frames", type=int, default=1440, help="frames of that sequence (default 1440)")
    args = ap.parse_args()
    if args.memory_only:
        memory()
        return 0
    clips = args.clips or [generated_clip(), *(FIXTURES / n for n in FIXTURE_CLIPS if (FIXTURES / n).is_file())]
    clips += [dpx_sequence(args.sequence_frames)] if args.sequence else []
    print(f"ffmpeg {FFMPEG}\nbest of {args.runs} runs; {os.cpu_count()} CPUs (possibly shared)")
    ratios = {c.name: compare(c, args.runs) for c in clips}
    print("\nsummary")
    for name, r in ratios.items():
        print(
            f"  {name:28} all/bare cpu {r['all_cpu']:.2f}x   shots/scenedetect cpu {r['shots_cpu']:.2f}x "
            f"wall {r['shots_wall']:.2f}x   cuts {'identical' if r['same'] else 'differ'}"
        )
    if not args.no_memory:
        memory()
    return 0


if __name__ == "__main__":
    sys.exit(main())
