"""Lease owners: who holds a running job, and whether that holder is still alive.

An owner is ``<role>:<host>:<pid>:<process start time>``. The start time (from
``/proc/<pid>/stat``) guards against pid reuse: after ``kill -9`` and a restart the
new daemon may get the old pid, but never the old start time. So at start a daemon
can take back, at once, everything that dead local processes held, instead of
waiting for their leases to expire; leases of other hosts (a later distributed
executor) are left to expire normally.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name may contain spaces and parentheses: split after the last ")"
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def make_owner(role: str, pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{role}:{socket.gethostname()}:{pid}:{_start_time(pid) or '0'}"


def is_local_and_dead(owner: str) -> bool:
    """True when ``owner`` is a process on this host that no longer runs."""
    parts = owner.split(":")
    if len(parts) != 4 or parts[1] != socket.gethostname():
        return False
    try:
        pid = int(parts[2])
    except ValueError:
        return False
    started = _start_time(pid)
    return started is None or started != parts[3]
