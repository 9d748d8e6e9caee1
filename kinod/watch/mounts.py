"""Which file system a watch root lives on, to choose between inotify and polling.

inotify only reports changes made through *this* kernel. On NFS, SMB/CIFS and most
FUSE file systems the footage is written by other hosts (the DIT cart, the cloud
sync box), so inotify stays silent and only polling sees new cards. ``watch.mode =
"auto"`` therefore reads ``/proc/self/mountinfo`` and polls on those.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")

#: File system types whose changes may come from other hosts (inotify misses them).
NETWORK_FS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb",
        "smb2",
        "smb3",
        "smbfs",
        "9p",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "afs",
        "davfs",
        "beegfs",
        "virtiofs",
    }
)


@dataclass(frozen=True)
class Mount:
    mount_point: str
    fs_type: str
    source: str


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and len(field[i + 1 : i + 4]) == 3 and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        lf, rf = left.split(), right.split()
        if len(lf) < 5 or len(rf) < 2:
            continue
        mounts.append(Mount(_unescape(lf[4]), rf[0], _unescape(rf[1])))
    return mounts


def mount_of(path: Path, mounts: list[Mount] | None = None) -> Mount | None:
    """The mount a path is on: the longest mount point that contains its real path."""
    if mounts is None:
        try:
            mounts = parse_mountinfo(MOUNTINFO.read_text())
        except OSError:
            return None
    real = os.path.realpath(path)
    best: Mount | None = None
    for m in mounts:
        mp = m.mount_point.rstrip("/") or "/"
        inside = real == mp or real.startswith(mp + "/") or mp == "/"
        # later entries over-mount earlier ones at the same point, so >= keeps the last
        if inside and (best is None or len(mp) >= len(best.mount_point.rstrip("/") or "/")):
            best = m
    return best


def is_network_fs(fs_type: str) -> bool:
    return fs_type in NETWORK_FS or fs_type.startswith(("nfs", "smb", "fuse.")) or fs_type == "fuse"


def choose_mode(path: Path, mode: str, mounts: list[Mount] | None = None) -> tuple[str, str]:
    """("inotify" | "poll", why) for a root under ``watch.mode``."""
    if mode in ("inotify", "poll"):
        return mode, f"watch.mode = {mode!r}"
    m = mount_of(path, mounts)
    if m is None:
        return "poll", "file system type unknown (cannot read /proc/self/mountinfo)"
    if is_network_fs(m.fs_type):
        return "poll", f"{m.mount_point} is {m.fs_type}: inotify misses changes made by other hosts"
    return "inotify", f"{m.mount_point} is {m.fs_type} (local)"
