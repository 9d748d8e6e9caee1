"""Dual-system sync at the size of a shooting day: pairing and alignment cost, scaling, accuracy.

    .venv/bin/python benchmarks/sync.py [--pictures 50] [--sounds 20] [--scale 1.0] [--steps 3]

Generates ``--sounds`` recorder takes of 1-5 minutes (times ``--scale``) of varied espeak
speech and ``--pictures`` camera clips (two cameras): most are a stretch of one take heard
through a camera microphone (colour, reverb, room noise), one in five is a "wild" clip of
other speech with no take. No timecode anywhere, so every pair goes through the waveform
path (coarse envelopes for all candidate pairs, full rate for the few best). Prints CPU
seconds (this process and its ffmpeg children) per synced pair for growing subsets (to
show how cost grows with candidate pairs), and accuracy against the generated truth.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sync_media import FF, camera_clip, speech, write_bwf  # noqa: E402

from kinod.config import SyncConfig  # noqa: E402
from kinod.sync.session import sync_files  # noqa: E402

SR = 48000


def make_day(folder: Path, pictures: int, sounds: int, scale: float, seed: int = 11) -> dict[str, tuple[str, int]]:
    """The files, and the truth: picture name -> (take name, offset in samples) ("" for wild clips)."""
    rng = np.random.default_rng(seed)
    takes = []
    for k in range(sounds):
        seconds = float(rng.uniform(60, 300)) * scale
        pcm = speech(seed=1000 + k, seconds=seconds, rate=SR, vary=True)
        path = write_bwf(folder / f"T{k:03d}.WAV", [pcm], SR)
        takes.append((path.stem, pcm))
    truth: dict[str, tuple[str, int]] = {}
    for n in range(pictures):
        cam = folder / ("CamA" if n % 2 == 0 else "CamB")
        cam.mkdir(exist_ok=True)
        name = f"{cam.name[-1]}{n:03d}"
        if n % 5 == 4:  # a wild clip: speech no take holds
            length = float(rng.uniform(20, 60)) * scale
            wild = speech(seed=5000 + n, seconds=length + 1, rate=SR, vary=True)
            camera_clip(cam / f"{name}.mov", wild, SR, seconds=length, tc=None, noise_seed=n)
            truth[name] = ("", 0)
            continue
        take_name, pcm = takes[(n // 2) % len(takes)]
        take_s = pcm.size / SR
        length = min(float(rng.uniform(20, 90)) * scale, take_s * 0.8)
        start = int(rng.uniform(0, take_s - length) * SR)
        camera_clip(cam / f"{name}.mov", pcm, SR, start_sample=start, seconds=length, tc=None, noise_seed=n)
        truth[name] = (take_name, -start)
    return truth


def expected_groups(truth: dict[str, tuple[str, int]], names: set[str], pics: list[Path]) -> int:
    """Takes of the subset that both cameras (A, B) filmed: each should become one multicam group."""
    cameras: dict[str, set[str]] = {}
    for p in pics:
        take = truth[p.stem][0]
        if take in names:
            cameras.setdefault(take, set()).add(p.stem[0])
    return sum(1 for cams in cameras.values() if len(cams) > 1)


def cpu_now() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(folder: Path, truth: dict[str, tuple[str, int]], pictures: int, sounds: int, multicam: bool) -> None:
    pics = sorted(folder.glob("Cam*/*.mov"), key=lambda p: p.stem[1:])[:pictures]
    snds = sorted(folder.glob("*.WAV"))[:sounds]
    names = {p.stem for p in snds}
    cpu0, wall0 = cpu_now(), time.monotonic()
    run = sync_files(pics, snds, FF, SyncConfig(multicam=multicam))
    cpu, wall = cpu_now() - cpu0, time.monotonic() - wall0
    right = wrong = uncertain = missed = false_sync = 0
    errors_ms = []
    for clip in run.clips:
        want, offset = truth[clip.picture.name]
        want = want if want in names else ""
        got = clip.synced[0] if clip.synced else None
        if got is None:
            uncertain += bool(clip.matches)
            missed += bool(want) and not clip.matches
            continue
        if not want:
            false_sync += 1
            print(f"    false sync: {clip.picture.name} <- {got.sound.name} (confidence {got.confidence:.2f})")
        elif got.sound.name != want:
            wrong += 1
            print(f"    wrong take: {clip.picture.name} <- {got.sound.name}, truth {want}")
        else:
            right += 1
            errors_ms.append(abs(got.offset_samples - offset) / SR * 1000)
    synced = right + wrong + false_sync
    pairs = len(pics) * len(snds)
    print(
        f"{len(pics):3d} pictures x {len(snds):2d} sounds = {pairs:5d} candidate pairs | multicam {multicam!s:5} | "
        f"CPU {cpu:7.1f} s, wall {wall:6.1f} s | {cpu / max(1, synced):5.2f} CPU-s per synced pair, "
        f"{cpu / pairs * 1000:6.1f} CPU-ms per candidate pair | envelope decodes {run.envelope_decodes}, "
        f"full-rate windows {run.fine_decodes}"
    )
    worst = max(errors_ms, default=0.0)
    print(
        f"    right {right}, wrong take {wrong}, false sync of a wild clip {false_sync}, uncertain {uncertain}, "
        f"missed {missed}; offset error median {np.median(errors_ms) if errors_ms else 0:.3f} ms, max {worst:.3f} ms; "
        f"multicam groups {len(run.groups)} (angles {sorted(len(g.angles) for g in run.groups)}; "
        f"truth: {expected_groups(truth, names, pics)} takes seen by both cameras)"
    )
    for g in run.groups if multicam else []:
        angles = ", ".join(f"{a.picture.name} ({truth[a.picture.name][0] or 'wild'}, {a.method})" for a in g.angles)
        print(f"    {g.name}: {angles}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pictures", type=int, default=50)
    ap.add_argument("--sounds", type=int, default=20)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every duration (0.25 for a quick run)")
    ap.add_argument("--steps", type=int, default=3, help="subsets measured: 1/steps ... all of the day")
    ap.add_argument("--multicam", action="store_true", help="also group the cameras (scratch against scratch)")
    ap.add_argument("--multicam-only", action="store_true", help="only the full day with multicam grouping")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.monotonic()
        truth = make_day(folder, args.pictures, args.sounds, args.scale)
        print(f"generated {args.pictures} pictures and {args.sounds} takes in {time.monotonic() - t0:.0f} s")
        for step in range(1, args.steps + 1 if not args.multicam_only else 1):
            pictures = max(1, args.pictures * step // args.steps)
            sounds = max(1, args.sounds * step // args.steps)
            measure(folder, truth, pictures, sounds, multicam=False)
        if args.multicam or args.multicam_only:
            measure(folder, truth, args.pictures, args.sounds, multicam=True)


if __name__ == "__main__":
    main()
