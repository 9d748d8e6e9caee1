"""A whole card through the daemon: real-time factor, CPU per analyzer, peak RSS, time to sidecars.

Run: .venv/bin/python benchmarks/card.py [--minutes 10] [--configs defaults,faces] [--analyzers ...]

Generates (and caches in benchmarks/.cache) a card of mixed clips adding up to about
``--minutes`` of footage: people talking to camera (the Hamilton fixture, upscaled to
1080p and looped; real faces, and real speech that does not repeat within a Whisper window:
see :func:`speech_cycle`), a slate and signs (drawtext), a camera-like
clip with a cut every 5 s, a silent stretch, a few 4K clips, a 50p clip and a
sound-only file (the speech cycle). It is copied into a watch root and processed by
``kinod run --once`` (the daemon's own code path: watcher, card lifecycle, scheduler,
passes, model tasks, sidecars), with ``jobs.executor = "process"`` so that every task
runs alone in its worker process and reports the CPU it took.

Printed per configuration (``defaults``: the shipped analyzers; ``faces``: the same
plus faces): wall time, real-time factor (footage / wall), CPU-s per minute of footage
per analyzer (in-pass analyzers: the CPU of their hooks; ``decode pass``: ffmpeg and the
pass's readers; ``kinod``: the coordinator and the worker processes' start-up), the
total measured by the OS, the share of the cores kept busy, peak RSS of the largest
process, and the time from the card landing to its first and last clip's sidecar (when
the daemon logs "clip done": a sidecar is written again later when a person's name or
the card's sync reaches it, so file times would say when it was last touched). The
machine may be shared: the load average is printed with every run. ``--json PATH``
writes the figures for tests.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CACHE, FFMPEG

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures" / "media"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
DEFAULTS = [
    "shots", "black", "freeze", "silence", "loudness", "dynamism", "picture", "technical",
    "speech", "visual", "ocr", "categories",
]  # fmt: skip


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-v", "error", "-y", *args], check=True)


def _h264(out: Path, seconds: float, vf: str, audio: list[str], src: list[str], rate: int = 25) -> Path:
    """An H.264 + AAC clip: picture from ``src``, sound from ``audio`` (else from ``src`` itself)."""
    if out.is_file():
        return out
    tmp = out.with_name(out.stem + ".tmp.mp4")
    maps = ["-map", "0:v:0", "-map", "1:a:0"] if audio else ["-map", "0:v:0", "-map", "0:a:0?"]
    ffmpeg(
        *src, *audio, *maps, "-t", f"{seconds:.2f}", "-vf", vf, "-r", str(rate), "-c:v", "libx264",
        "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", "-shortest", str(tmp),
    )  # fmt: skip
    os.replace(tmp, out)
    return out


def speech_cycle(cache: Path) -> Path:
    """39 s of distinct speech (the Hamilton clip's sound, JFK, two espeak voices, German), one
    after the other: looped, no 30-s Whisper window holds the same words twice.

    Why not the Hamilton clip's own 10 s looped: Whisper reads a window that says the same
    thing three times as a hallucination loop and decodes it again at five higher temperatures
    (six decodes a window, 4x the CPU), which footage of people talking never causes.
    """
    out = cache / "speech_cycle.wav"
    if out.is_file():
        return out
    speech = REPO / "tests" / "data" / "speech"
    pieces = [FIXTURES / "short_hamilton_clip.mp4", FIXTURES / "jfk.flac",
              speech / "en_two_voices.wav", speech / "de_one_voice.wav"]  # fmt: skip
    ins = [a for p in pieces for a in ("-i", str(p))]
    norm = ";".join(f"[{i}:a:0]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo[a{i}]"
                    for i in range(len(pieces)))  # fmt: skip
    joined = "".join(f"[a{i}]" for i in range(len(pieces))) + f"concat=n={len(pieces)}:v=0:a=1[out]"
    ffmpeg(*ins, "-filter_complex", f"{norm};{joined}", "-map", "[out]", str(out))
    return out


def _text(words: str, size: int, y: str, t: str = "") -> str:
    enable = f":enable='{t}'" if t else ""
    return f"drawtext=fontfile={FONT}:text='{words}':fontsize={size}:fontcolor=white:x=(w-tw)/2:y={y}{enable}"


def make_card(folder: Path, minutes: float) -> Path:
    """The card's clips (cached by their length), hard-linked or copied into ``folder``."""
    u = minutes * 60 / 600  # every length below is for a 10-minute card
    cache = CACHE / f"card3_{minutes:g}min"
    cache.mkdir(parents=True, exist_ok=True)
    cycle = speech_cycle(cache)

    def talk(offset: float) -> list[str]:  # the speech cycle from ``offset`` s on, looped
        return ["-stream_loop", "-1", "-ss", f"{offset:.1f}", "-i", str(cycle)]

    tone = ["-f", "lavfi", "-i", "sine=f=220:r=48000"]
    quiet = ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo"]
    ham = FIXTURES / "short_hamilton_clip.mp4"
    people = ["-stream_loop", "-1", "-i", str(ham)]
    clips = []
    for i in range(3):  # people talking to camera; each its own take (a distinct file, so no duplicate)
        look = f"scale=1920:1080,hue=h={10 * i}"
        clips.append(_h264(cache / f"C{i + 1:03d}.mp4", 90 * u, look, talk(13 * i), people))
    slate = ",".join((_text("SCENE 12 TAKE 3", 120, "300"), _text("CAM A  ROLL A001", 80, "600")))
    clips.append(_h264(cache / "C004.mp4", 20 * u, slate, quiet, ["-f", "lavfi", "-i", "color=c=0x202020:s=1920x1080"]))
    signs = ",".join(_text(w, 110, "h/2-60", f"between(mod(t,24),{6 * k},{6 * k + 6})") for k, w in
                     enumerate(("EXIT", "MAIN STREET", "OPEN 24 HOURS", "NO PARKING")))  # fmt: skip
    moving = ["-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=25"]
    clips.append(_h264(cache / "C005.mp4", 60 * u, f"hue=s=0.3,{signs}", tone, moving))
    cuts = "hue=h='360*floor(t/5)/7',noise=alls=6:allf=t"
    clips.append(_h264(cache / "C006.mp4", 120 * u, cuts, tone, moving))
    clips.append(_h264(cache / "C007.mp4", 60 * u, "hue=s=0", quiet, moving))  # silence
    for i in range(2):  # 4K
        src = ["-f", "lavfi", "-i", f"testsrc2=s=3840x2160:r=25,hue=h={40 * i}"]
        clips.append(_h264(cache / f"C{8 + i:03d}.mp4", 25 * u, "null", tone, src))
    clips.append(_h264(cache / "C010.mp4", 60 * u, "scale=1920:1080", talk(6), people, rate=50))  # 50p
    sound = cache / "C011.wav"
    if not sound.is_file():
        # Another recording, not the clips' scratch sound: the same voices at another tempo.
        ffmpeg(*talk(20), "-af", "atempo=1.3", "-t", f"{40 * u:.2f}", str(sound))
    clips.append(sound)
    folder.mkdir(parents=True)
    for c in clips:
        shutil.copy(c, folder / c.name)
    return folder


def footage_seconds(folder: Path) -> float:
    sys.path.insert(0, str(REPO))
    from kinod.media.probe import probe

    return sum(probe(p).duration_s for p in sorted(folder.iterdir()))


def write_config(base: Path, analyzers: list[str], device: str, extra: str) -> Path:
    cfg = base / "kinod.toml"
    cfg.write_text(
        f'[[watch.roots]]\npath = "{base / "in"}"\n[output]\nroot = "{base / "out"}"\n[state]\ndir = "{base / "var"}"\n'
        f'[metrics]\nenabled = false\n[logging]\nformat = "json"\nlevel = "info"\n'
        f'[jobs]\nexecutor = "process"\ncpu_workers = {os.cpu_count() or 2}\ndevice = "{device}"\n'
        f"[analyzers]\nenabled = {json.dumps(analyzers)}\n{extra}"
    )
    return cfg


def run_card(
    card: Path, analyzers: list[str], device: str = "cpu", extra: str = "", keep_log: Path | None = None
) -> dict[str, object]:
    """One ``kinod run --once`` over a copy of the card; the figures of that run."""
    with tempfile.TemporaryDirectory(prefix="kinod-card-") as tmp:
        base = Path(tmp)
        for sub in ("in", "out", "var"):
            (base / sub).mkdir()
        cfg = write_config(base, analyzers, device, extra)
        shutil.copytree(card, base / "in" / card.name)
        _become_subreaper()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        log = base / "kinod.log"
        with open(log, "wb") as fh:
            cmd = [sys.executable, "-m", "kinod.cli.main", "--config", str(cfg), "run", "--once"]
            subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=True, cwd=REPO, env=_env())
        wall = time.time() - t0
        left_behind = _reap_orphans()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        sidecars = list((base / "out").rglob("*.kino.json"))
        if keep_log is not None:
            shutil.copy(log, keep_log)
        figures = books(log.read_text().splitlines())
        figures["cpu_by"]["kinod"] += left_behind  # type: ignore[index]
        done: list[float] = figures.pop("clips_done_at")  # type: ignore[assignment]
        figures.update(
            wall_s=wall,
            os_cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            peak_rss_mb=after.ru_maxrss / 1024,
            sidecars=len(sidecars),
            first_sidecar_s=(done[0] - t0) if done else None,
            last_sidecar_s=(done[-1] - t0) if done else None,
        )
        return figures


def _become_subreaper() -> None:
    """Orphans of the daemon (its forkserver and the worker processes forked from it) become
    ours when it exits, so their CPU reaches this process's RUSAGE_CHILDREN once reaped."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER


def _reap_orphans(timeout: float = 60.0) -> float:
    """Wait for every process the daemon left behind (they exit once it has); their own CPU seconds.

    Each is read while it is a zombie (its own user+sys, not its children's): the
    forkserver, which imported kinod to fork the worker processes from.
    """
    own, end, tick = 0.0, time.monotonic() + timeout, os.sysconf("SC_CLK_TCK")
    while time.monotonic() < end:
        zombies = [f for f in _children() if f[0] == "Z"]
        for _state, pid, ticks in zombies:
            own += ticks / tick
            os.waitpid(pid, 0)
        if not zombies and not _children():
            return own
        time.sleep(0.05)
    return own


def _children() -> list[tuple[str, int, int]]:
    """(state, pid, own user+sys ticks) of this process's children, from /proc."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            out.append((fields[0], int(stat.parent.name), int(fields[11]) + int(fields[12])))
    return out


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}


def books(lines: list[str]) -> dict[str, object]:
    """CPU by analyzer from the daemon's log: each task's CPU, a pass split by its analyzers' hooks."""
    by: dict[str, float] = defaultdict(float)
    tasks_cpu, start_cpu, stopped = 0.0, 0.0, None
    done_at: list[float] = []  # when each clip's sidecar was first written (a later rewrite adds names)
    for line in lines:
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event") == "task done":
            cpu = float(ev.get("cpu_s") or 0.0)
            tasks_cpu += cpu
            start_cpu += float(ev.get("start_cpu_s") or 0.0)
            if ev.get("kind") == "pass":
                hooks = {a: float(c) for a, c in (ev.get("hook_cpu") or {}).items()}
                for a, c in hooks.items():
                    by[a] += c
                by["decode pass"] += cpu - sum(hooks.values())
            else:
                by[str(ev.get("analyzer"))] += cpu
        elif ev.get("event") == "clip done":
            done_at.append(datetime.fromisoformat(str(ev["timestamp"]).replace("Z", "+00:00")).timestamp())
        elif ev.get("event") == "kinod stopped":
            stopped = ev
    if stopped is None:
        raise RuntimeError("the daemon's log has no 'kinod stopped' line: did it crash?")
    # kinod's own work: the coordinator (watching, planning, the scheduler, sidecars) and the
    # worker processes' start-up (imports, building the runner), each measured where it ran.
    by["kinod"] = float(stopped["cpu_s"]) + start_cpu
    return {"cpu_by": dict(by), "tasks_cpu_s": tasks_cpu, "clips_done_at": sorted(done_at)}


def report(name: str, f: dict[str, object], footage_s: float) -> None:
    minutes = footage_s / 60
    wall = float(f["wall_s"])  # type: ignore[arg-type]
    cpu_by: dict[str, float] = f["cpu_by"]  # type: ignore[assignment]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{name}: {footage_s:.0f} s of footage, {f['sidecars']} sidecars, load {load}")
    print(f"  wall {wall:.1f} s   real-time factor {footage_s / wall:.2f}x   peak RSS {f['peak_rss_mb']:.0f} MB*")
    first, last = f["first_sidecar_s"], f["last_sidecar_s"]
    if first is not None and last is not None:
        print(f"  card landing -> first sidecar {first:.1f} s, last sidecar {last:.1f} s")
    print(f"  {'CPU-s per minute of footage':34}{'cpu/min':>9}{'share':>8}")
    total = sum(cpu_by.values())
    for a, c in sorted(cpu_by.items(), key=lambda kv: -kv[1]):
        print(f"  {a:34}{c / minutes:9.2f}{c / total:8.1%}")
    os_cpu = float(f["os_cpu_s"])  # type: ignore[arg-type]
    print(f"  {'sum of the rows':34}{total / minutes:9.2f}")
    print(f"  {'measured by the OS (all processes)':34}{os_cpu / minutes:9.2f}   rows / OS {total / os_cpu:.3f}")
    # CPU-s move with the machine's other tenants; the share of the cores kept busy does not.
    print(f"  cores busy {os_cpu / (wall * (os.cpu_count() or 1)):.1%} of the wall time")
    print("  * the largest single process of this run or an earlier one (the OS keeps one maximum for all)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="footage on the card (default 10)")
    ap.add_argument("--configs", default="defaults,faces", help="defaults, faces or both (default both)")
    ap.add_argument("--analyzers", default="", help="comma-separated: instead of the shipped defaults")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"), help="jobs.device (default cpu)")
    ap.add_argument("--extra", default="", help="more TOML appended to the config (e.g. a lever to measure)")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--logs", type=Path, help="keep each configuration's daemon log in this folder")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="kinod-cardsrc-"))
    try:
        t0 = time.time()
        card = make_card(base / "A001", args.minutes)
        footage = footage_seconds(card)
        print(f"card: {len(list(card.iterdir()))} files, {footage:.0f} s of footage (made in {time.time() - t0:.0f} s)")
        print(f"{os.cpu_count()} CPUs (possibly shared); ffmpeg {FFMPEG}")
        analyzers = [a for a in args.analyzers.split(",") if a] or DEFAULTS
        out: dict[str, object] = {"footage_s": footage}
        for name in args.configs.split(","):
            chosen = analyzers + (["faces"] if name == "faces" else [])
            keep = None
            if args.logs:
                args.logs.mkdir(parents=True, exist_ok=True)
                keep = args.logs / f"{name}.log"
            figures = run_card(card, chosen, args.device, args.extra, keep)
            report(name, figures, footage)
            out[name] = figures
        if args.json:
            args.json.write_text(json.dumps(out, indent=1))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
