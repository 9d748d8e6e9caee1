"""``kinod doctor``: what works on this machine and what is missing, in one table.

Run it first on a new server: it answers "why is nothing happening?" before the
daemon is started (missing ffmpeg encoder, unwritable output share, model absent).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kinod.config import Config


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    #: A failed optional check is a warning (e.g. no GPU), not an error.
    optional: bool = False


def _writable(label: str, folder: Path) -> Check:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".kinod-doctor-"):
            pass
        return Check(label, True, f"{folder} is writable")
    except OSError as e:
        return Check(label, False, f"{folder}: {e.strerror or e}")


def run_checks(config: Config) -> list[Check]:
    checks: list[Check] = []
    from kinod.media.ffmpeg import FFmpegNotFound, ffmpeg_encoders, ffmpeg_path, ffmpeg_version

    try:
        ff = ffmpeg_path(config.media.ffmpeg)
        checks.append(Check("ffmpeg", True, f"{ffmpeg_version(ff)} at {ff}"))
        enc = ffmpeg_encoders(ff)
        for e in ("libx264", "prores", "dnxhd", "aac", "pcm_s16le"):
            checks.append(Check(f"encoder {e}", e in enc, "available" if e in enc else "missing (proxies)", True))
    except (FFmpegNotFound, OSError) as e:
        checks.append(Check("ffmpeg", False, str(e)))
    try:
        from pymediainfo import MediaInfo

        ok = MediaInfo.can_parse()
        checks.append(Check("mediainfo", ok, "libmediainfo loads" if ok else "libmediainfo not found"))
    except Exception as e:
        checks.append(Check("mediainfo", False, str(e)))
    try:
        import av

        checks.append(Check("pyav", True, f"PyAV {av.__version__}"))
    except Exception as e:
        checks.append(Check("pyav", False, str(e)))
    for root in config.watch.roots:
        ok = root.path.is_dir() and os.access(root.path, os.R_OK | os.X_OK)
        checks.append(Check(f"watch root {root.path}", ok, "readable" if ok else "missing or unreadable"))
    checks.append(_writable("output root", config.output.root))
    checks.append(_writable("state dir", config.state.dir))
    checks.extend(_gpu_checks())
    if config.jobs.executor == "dramatiq":  # the coordinator and workers need their broker
        from kinod.jobs.broker import ping

        checks.append(Check("broker", *ping(config.broker.url)))
    from kinod.analyzers.base import RuntimeContext
    from kinod.analyzers.registry import analyzer_class

    runtime = RuntimeContext(config.state.dir, config.jobs.device)
    for name in config.enabled_analyzers:
        cls = analyzer_class(name)
        checks.append(Check(f"analyzer {name}", True, f"version {cls.version} ({cls.__module__})"))
        try:
            for n, ok, detail in cls(config.analyzer_config(name), runtime).checks():
                checks.append(Check(f"{name}: {n}", ok, detail))
        except Exception as e:
            checks.append(Check(f"{name}: set-up", False, str(e)))
    return checks


def _gpu_checks() -> list[Check]:
    out: list[Check] = []
    try:
        import onnxruntime as ort

        providers = ort.get_available_providers()
        cuda = "CUDAExecutionProvider" in providers
        out.append(Check("onnxruntime providers", cuda, ", ".join(providers), optional=True))
    except ImportError:
        out.append(Check("onnxruntime", False, "not installed (face/visual analyzers)", optional=True))
    try:
        import ctranslate2

        n = ctranslate2.get_cuda_device_count()
        out.append(Check("ctranslate2 CUDA", n > 0, f"{n} CUDA device(s)", optional=True))
    except ImportError:
        out.append(Check("ctranslate2", False, "not installed (speech analyzer)", optional=True))
    return out
