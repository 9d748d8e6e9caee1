"""How the decode pass decodes: NVDEC where it can, the CPU otherwise, and what the CPU may skip.

``media.hw_decode = "auto"`` asks ffmpeg to decode on the GPU (``-hwaccel cuda``) when
this ffmpeg can open a CUDA device here; frames come back to system memory, so every
analyzer, tap and proxy branch sees the same pictures as from the CPU decoder. A codec
NVDEC does not know (ProRes, DNxHD) is decoded on the CPU by ffmpeg itself. Whether the
device opens is asked once per ffmpeg binary (a 0.04 s null decode); the wheel's static
ffmpeg has no CUDA, so "auto" costs nothing on machines without an NVIDIA driver:
without ``nvidia-smi`` the question is not even asked.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from kinod.media.probe import Probe

log = structlog.get_logger(__name__)

#: Decoder options for a pass whose pictures are only analysed: the in-loop deblocking
#: filter is skipped on frames no other frame is predicted from, so nothing drifts and
#: only those pictures are a little blockier (about 7 % less CPU per H.264 decode, cuts
#: unchanged). Skipping it on every frame saves 16 % but adds false cuts (testvideo.mp4
#: frame 691), as does skipping it on all B-frames; ``-flags2 fast`` measured nothing.
FAST_DECODE_OPTIONS = ["-skip_loop_filter", "noref"]

#: Input options for an NVDEC decode whose frames are downloaded for the filter graph.
CUDA_DECODE = ["-hwaccel", "cuda"]


@functools.lru_cache(maxsize=8)
def cuda_decode_works(ffmpeg: str) -> bool:
    """True when this ffmpeg opens a CUDA device on this machine (asked once per binary)."""
    if shutil.which("nvidia-smi") is None:
        return False
    cmd = [ffmpeg, "-v", "error", "-nostdin", "-init_hw_device", "cuda=gpu", "-f", "lavfi", "-i", "nullsrc=d=0.04"]
    try:
        r = subprocess.run([*cmd, "-f", "null", "-"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        log.warning("cannot ask ffmpeg about CUDA; decoding on the CPU", error=str(e))
        return False
    if r.returncode != 0:
        why = r.stderr.strip()[-300:]
        log.warning("ffmpeg cannot open a CUDA device; decoding on the CPU", ffmpeg=ffmpeg, error=why)
    return r.returncode == 0


def decode_args(mode: str, ffmpeg: str) -> list[str]:
    """The input options for ``media.hw_decode`` ("off", "auto" or "cuda") with this ffmpeg."""
    if mode == "off":
        return []
    if cuda_decode_works(ffmpeg):
        return list(CUDA_DECODE)
    if mode == "cuda":
        log.warning("media.hw_decode = cuda but NVDEC is not usable here: decoding on the CPU", ffmpeg=ffmpeg)
    return []


def decoder_options(probe: Probe, hw_mode: str, fast: bool, ffmpeg: str) -> list[str]:
    """The input-side decoder options of a pass: NVDEC where it works, else the cheap CPU
    decode when nothing but analysis reads the frames (``fast``).

    An image sequence never takes NVDEC (its frames are stills) and keeps one filter graph
    when a frame of another size comes by, so the graph's frame counts do not restart.
    """
    if probe.sequence is not None:
        return ["-reinit_filter", "0"]
    hw = decode_args(hw_mode, ffmpeg) if probe.has_video else []
    return hw or (list(FAST_DECODE_OPTIONS) if fast else [])
