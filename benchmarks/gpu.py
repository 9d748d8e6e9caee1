"""The card benchmark on an NVIDIA GPU: one run on a lent machine gives the figures.

Run: .venv/bin/python benchmarks/gpu.py [--install] [--minutes 5] [--configs defaults,faces] [--cpu-too]

``--install`` swaps onnxruntime for the pinned ``gpu`` extra (onnxruntime-gpu, about a
minute). It then says what the GPU path will use (nvidia-smi's GPU, onnxruntime's
providers, whether this ffmpeg can decode on NVDEC: ``media.hw_decode``) and runs
``benchmarks/card.py`` with ``jobs.device = "cuda"``, printing the same table: wall time,
real-time factor, CPU-s per minute per analyzer, peak RSS, time to first and last sidecar.
``--cpu-too`` runs the same card with ``jobs.device = "cpu"`` right after, on the same
machine, so the two are comparable. A 5-minute card with both configurations fits in
about ten minutes on a GPU machine with a few cores; ``--minutes 2`` for a quick look.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PINNED = "onnxruntime-gpu==1.31.1"  # the `gpu` extra in pyproject.toml


def install() -> None:
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "uninstall", "-y", "onnxruntime"], check=False)
    subprocess.run([*pip, "install", PINNED], check=True)


def describe() -> None:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        print("nvidia-smi: not found; the run below falls back to the CPU wherever it asks for CUDA")
    else:
        q = subprocess.run([smi, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                           capture_output=True, text=True)  # fmt: skip
        print(f"GPU: {q.stdout.strip()}")
    try:
        import onnxruntime

        print(f"onnxruntime {onnxruntime.__version__}: providers {onnxruntime.get_available_providers()}")
    except ImportError:
        print("onnxruntime: not installed")
    sys.path.insert(0, str(REPO))
    import imageio_ffmpeg

    from kinod.media.hwdecode import cuda_decode_works

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    works = cuda_decode_works(ffmpeg)
    print(f"NVDEC with {ffmpeg}: {'yes' if works else 'no (name a CUDA build of ffmpeg in media.ffmpeg)'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--install", action="store_true", help=f"uninstall onnxruntime, install {PINNED}")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--configs", default="defaults,faces")
    ap.add_argument("--cpu-too", action="store_true", help="then the same card with jobs.device = cpu")
    ap.add_argument("--extra", default="", help="more TOML for the config (e.g. [media] ffmpeg = ...)")
    args = ap.parse_args()
    if args.install:
        install()
    describe()
    card = [sys.executable, str(HERE / "card.py"), "--minutes", str(args.minutes), "--configs", args.configs]
    card += ["--extra", args.extra] if args.extra else []
    print("\n== jobs.device = cuda ==", flush=True)
    rc = subprocess.run([*card, "--device", "cuda"], check=False).returncode
    if args.cpu_too:
        print("\n== jobs.device = cpu (the same machine) ==", flush=True)
        rc = rc or subprocess.run([*card, "--device", "cpu"], check=False).returncode
    return rc


if __name__ == "__main__":
    sys.exit(main())
