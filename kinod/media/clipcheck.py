"""Cheap checks of a clip's file before its decode pass, beyond what the probe says.

WHY: a header probe happily describes a 20 GiB file as a 3 s clip when all but the
first megabytes are holes (a pre-allocated or interrupted copy, a damaged
restore). The analysis then "succeeds" and nobody learns that 20 GiB of the card
are zeros. These checks never raise; they return messages for the sidecar's
``errors`` (as warnings: the clip is still analysed).
"""

from __future__ import annotations

import os
from pathlib import Path

import structlog

from kinod.media.integrity import Integrity
from kinod.media.probe import Probe

log = structlog.get_logger(__name__)

#: Holes smaller than this are normal (file systems allocate in blocks and extents).
SPARSE_MIN_HOLE_BYTES = 64 * 1024 * 1024
#: ... and only a file mostly made of holes is suspicious.
SPARSE_MIN_FRACTION = 0.5


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def sparse_problem(path: Path, duration_s: float | None = None) -> str | None:
    """A message when most of the file is holes (unallocated zeros), else None."""
    try:
        st = os.stat(path)
    except OSError:
        return None  # the probe and the pass report unreadable files
    allocated = getattr(st, "st_blocks", 0) * 512
    hole = st.st_size - allocated
    if hole < SPARSE_MIN_HOLE_BYTES or hole < SPARSE_MIN_FRACTION * st.st_size:
        return None
    said = f"; the header describes only {duration_s:.3f} s of media" if duration_s else ""
    return (
        f"{path}: the file is {_gib(st.st_size)} but only {_gib(allocated)} is stored on disk: "
        f"{_gib(hole)} are holes (zeros), a pre-allocated, interrupted or damaged copy{said}"
    )


def pre_decode_problems(path: Path, probe: Probe, integrity: Integrity | None = None) -> list[str]:
    """Every pre-decode problem of the clip: the sparse check's and the integrity check's."""
    out = [m for m in (sparse_problem(path, probe.duration_s),) if m]
    for m in out:
        log.warning("clip file looks damaged", error=m)
    return out + (list(integrity.problems) if integrity is not None else [])
