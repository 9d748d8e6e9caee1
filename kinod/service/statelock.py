"""The state directory's lock: one daemon per state, and a clear message naming the holder.

Its own module because ``kinod run`` takes it before anything else and nothing else
needs the daemon to understand it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "kinod.lock"


class AlreadyRunning(RuntimeError):
    """Another daemon holds the state directory's lock."""


class StateLock:
    """An exclusive ``flock`` on ``<state dir>/kinod.lock``; released by the kernel if we die."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyRunning(
                f"another kinod (pid {holder}) is already running on state dir {self.path.parent} "
                f"(lock {self.path}); stop it first, or give this one its own state.dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
