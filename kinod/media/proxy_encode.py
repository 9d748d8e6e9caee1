"""How a proxy is encoded: its size, the filter chains of its decode-pass branches, the encoder options.

:mod:`kinod.media.proxy` plans a proxy and finishes it; the ffmpeg words it hands to
the decode pass are built here, so the picture's path from the original to the
proxy (deinterlace, scale, burn-in, pixel format, codec, GOP) reads in one place.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from kinod.media.probe import Probe

if TYPE_CHECKING:
    from kinod.media.proxy import ProxyConfig, ProxyJob


@cache
def ffmpeg_filters(binary: str) -> frozenset[str]:
    """Filter names this ffmpeg build has (drawtext needs libfreetype, not in every build)."""
    try:
        out = subprocess.run([binary, "-hide_banner", "-filters"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    names = set()
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and "->" in parts[2]:
            names.add(parts[1])
    return frozenset(names)


def proxy_size(probe: Probe, config: ProxyConfig) -> tuple[int, int]:
    """Even (width, height) with square pixels at the original's display aspect, never upscaled."""
    w, h = probe.width or 1920, probe.height or 1080
    if abs(probe.rotation) % 180 == 90:
        w, h = h, w
    par = Fraction(1)
    if probe.pixel_aspect:
        with contextlib.suppress(ValueError, ZeroDivisionError):
            par = Fraction(probe.pixel_aspect).limit_denominator(1000)
    display_w = Fraction(w) * par
    if config.width:
        out_w = min(config.width, int(display_w))
        out_h = round(out_w * h / display_w)
    else:
        out_h = min(config.height, h)
        out_w = round(display_w * out_h / h)
    return max(2, out_w // 2 * 2), max(2, out_h // 2 * 2)


def video_filters(job: ProxyJob, name: str) -> str:
    """The picture branch's chain: every decoded frame (VFR put on the rate's grid) at proxy size and format."""
    probe, config = job.probe, job.config
    w, h = proxy_size(probe, config)
    chain: list[str] = []
    if probe.vfr and probe.rate is not None:
        r = probe.rate
        chain.append(f"fps={r.numerator}/{r.denominator}")
    if probe.field_order in ("tff", "bff"):
        chain.append("bwdif=mode=send_frame:deint=all")  # one frame out per frame in: same frame count
    chain.append(f"scale={w}:{h}:flags=bicubic")
    chain.append("setsar=1")
    chain.append("setpts=PTS-STARTPTS")
    if config.burn_in_timecode or config.burn_in_name:
        chain.extend(_burn_in(job, name, h))
    chain.append("format=yuv422p10le" if config.codec == "prores_proxy" else "format=yuv420p")
    return ",".join(chain)


def _burn_in(job: ProxyJob, name: str, height: int) -> list[str]:
    """drawtext filters for the clip name and the running source timecode; none without drawtext."""
    if "drawtext" not in ffmpeg_filters(job.ffmpeg):
        job.warnings.append(f"{job.source}: this ffmpeg has no drawtext filter; proxy made without burn-in")
        return []
    size = max(12, height // 20)
    font = f":fontfile='{_quote(job.config.fontfile)}'" if job.config.fontfile else ""
    style = f"fontsize={size}:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw={max(2, size // 5)}{font}"
    out = []
    if job.config.burn_in_name:
        # The name goes through a file in a private folder: no escaping of user text in the filter graph.
        job.work_dir = Path(tempfile.mkdtemp(prefix="kinod-proxy-"))
        name_file = job.work_dir / "name.txt"
        name_file.write_text(name, encoding="utf-8")
        out.append(f"drawtext=textfile='{_quote(str(name_file))}':expansion=none:{style}:x=20:y=h-th-20")
    if job.config.burn_in_timecode:
        r = job.probe.timeline_rate  # the rate the start label was counted at
        tc = job.start_tc.replace(":", "\\:").replace(";", "\\;")
        out.append(f"drawtext=timecode='{tc}':rate={r.numerator}/{r.denominator}:{style}:x=w-tw-20:y=h-th-20")
    return out


def audio_filters(probe: Probe) -> str:
    """Align sound with picture frame 0 (as the analysis audio is), starting at time 0."""
    chain = ["asetpts=PTS-STARTPTS"]
    offset = probe.video_start_s - probe.audio_start_s
    if probe.has_video and offset > 0.0005:
        chain.append(f"atrim=start={offset:.6f},asetpts=PTS-STARTPTS")
    elif probe.has_video and offset < -0.0005:
        chain.append(f"adelay=delays={round(-offset * 1000)}:all=1")
    return ",".join(chain)


def video_codec_args(config: ProxyConfig, probe: Probe) -> tuple[str, ...]:
    """Encoder options of the picture branch: ProRes 422 Proxy or x264, frames on the analysis grid."""
    r = probe.timeline_rate  # the grid the analysis frame indices use, so the proxy frames match them
    rate = ("-r", f"{r.numerator}/{r.denominator}") if probe.vfr else ()
    common = ("-fps_mode", "cfr" if probe.vfr else "passthrough", *rate)
    if config.codec == "prores_proxy":
        return ("-c:v", "prores", "-profile:v", "0", "-vendor", "apl0", *common)
    gop = str(max(1, round(r * 2)))
    tune = ("-tune", "fastdecode") if config.fast_decode else ()
    return ("-c:v", "libx264", "-preset", config.preset, *tune, "-crf", str(config.crf), "-g", gop, *common)


def layout_name(channels: int) -> str:
    """ffmpeg's channel layout name for a track of ``channels`` channels."""
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


def _quote(value: str) -> str:
    """Quote for a filter option value in single quotes (a quote itself must leave the quotes)."""
    return value.replace("\\", "\\\\").replace("'", "'\\''")


def ff_path(path: Path) -> str:
    """A path ffmpeg will not read as an option or a protocol."""
    return "file:" + str(Path(path).absolute())
