"""A full output or state file system: pause, say so, retry with backoff, resume by itself.

WHY: after ENOSPC the daemon logged a fingerprint and did nothing more: the clip's
outputs were never written, ``kinod retry`` found nothing to queue and ``/healthz``
said ok, until someone restarted it. Now a write that fails for lack of space (or a
free-space check at intake) puts the daemon in the *storage full* state:

* intake of new cards and the scheduler's dispatch pause (running tasks finish);
* the writes that failed are kept and tried again, with backoff, once a probe write
  succeeds on every watched file system; then intake resumes on its own;
* ``kinod_storage_full`` is 1, ``/healthz`` says ``degraded`` and names the folder,
  ``kinod status`` says which folder is short of space.

A keyframe JPEG that could not be written fails the pass as *retriable* and the
clip is planned again with fresh attempts on resume, so the shots analyzer is not
failed for good by a full disk.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

#: Errors that mean "this file system cannot take writes now" rather than "this clip is bad":
#: full, over quota, or remounted read-only (a NAS does that after an error). All pause and wait.
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
_DISK_FULL_TEXT = (
    *(os.strerror(n) for n in DISK_FULL_ERRNOS),
    *(f"[Errno {n}]" for n in DISK_FULL_ERRNOS),
    "database or disk is full",
)
PROBE_BYTES = 64 * 1024
BACKOFF_START_S = 0.5


def is_disk_full(error: BaseException | str | None) -> bool:
    """True for ENOSPC/EDQUOT/EROFS, SQLite's "database or disk is full", or a message that carries one."""
    if error is None:
        return False
    if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
        return True
    text = str(error)  # SQLite's OperationalError, or a message that quotes the OSError
    return any(t in text for t in _DISK_FULL_TEXT)


def free_bytes(path: Path) -> int | None:
    """Bytes an unprivileged writer may still use on ``path``'s file system (None: unknown)."""
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        st = os.statvfs(p)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def short_of_space(paths: Iterable[Path], min_free_bytes: int) -> str | None:
    """Why one of ``paths`` is short of space, or None."""
    for p in paths:
        free = free_bytes(p)
        if free is not None and free < min_free_bytes:
            return f"{p}: only {free // 1024} KiB free (storage.min_free_mb = {min_free_bytes // 2**20})"
    return None


def probe_write(folder: Path) -> str | None:
    """Write and remove a small file in ``folder``; the error text, or None when it worked."""
    probe = folder / f".kinod-space-probe.{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, bytes(PROBE_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        return None
    except OSError as e:
        return f"{folder}: {e.strerror or e}"
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


class SpaceGuard:
    """The storage-full state of one daemon; thread-safe."""

    def __init__(
        self,
        folders: Iterable[Path],
        *,
        min_free_bytes: int,
        max_backoff_s: float,
        on_change: Callable[[bool, str], None],
    ) -> None:
        self.folders = list(folders)
        self.min_free_bytes = min_free_bytes
        self.max_backoff_s = max_backoff_s
        self.on_change = on_change
        self.reason = ""
        self._full = threading.Event()
        self._lock = threading.Lock()
        self._deferred: list[tuple[str, Any]] = []
        self._hit: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.paused_total = 0

    @property
    def full(self) -> bool:
        return self._full.is_set()

    def check_before_intake(self) -> bool:
        """Free-space check before a card is taken; True (and paused) when short of space."""
        why = short_of_space(self.folders, self.min_free_bytes)
        if why:
            self.report_full(why)
        return self.full

    def report_full(self, why: str, fingerprint: str | None = None) -> None:
        """A write failed for lack of space (or the check found too little): pause and start watching."""
        with self._lock:
            if fingerprint:
                self._hit.add(fingerprint)
            if self._full.is_set():
                return
            self.reason = why
            self._full.set()
            self.paused_total += 1
            self._thread = threading.Thread(target=self._watch, name="kinod-space", daemon=True)
            self._thread.start()
        log.error("storage full: intake and new tasks paused until space returns", error=why)
        self.on_change(True, why)

    def defer(self, item: tuple[str, Any]) -> None:
        """Keep an intake item (a card, a finalize) for when space returns."""
        with self._lock:
            if item not in self._deferred:
                self._deferred.append(item)

    def defer_if_full(
        self, item: tuple[str, Any] | None, error: BaseException, *, note: str = "waits for space", **fields: Any
    ) -> bool:
        """If ``error`` is lack of space: pause, keep ``item`` for the resume, True; else False.

        For work that writes (a clip's outputs, an intake step on the state file): on a
        full disk it waits for space instead of failing; the caller fails it otherwise.
        """
        if not is_disk_full(error):
            return False
        self.report_full(str(error))
        if item is not None:
            self.defer(item)
        log.warning(note, **fields, error=str(error))
        return True

    def take_back(self) -> tuple[list[tuple[str, Any]], set[str]]:
        """What was deferred and the clips whose tasks failed for lack of space; clears both."""
        with self._lock:
            items, hit = self._deferred, self._hit
            self._deferred, self._hit = [], set()
        return items, hit

    def _space_back(self) -> str | None:
        for f in self.folders:
            err = probe_write(f)
            if err:
                return err
        return short_of_space(self.folders, self.min_free_bytes)

    def _watch(self) -> None:
        delay = BACKOFF_START_S
        while not self._stop.wait(delay):
            still = self._space_back()
            if still is None:
                break
            delay = min(self.max_backoff_s, delay * 2)
            log.info("storage still full; next check later", error=still, retry_in_s=delay)
        if self._stop.is_set():
            return
        with self._lock:
            self._full.clear()
            why, self.reason = self.reason, ""
        log.info("storage has space again: intake resumes", was=why)
        self.on_change(False, why)

    def stop(self) -> None:
        self._stop.set()


# One guard per process (the daemon's); code deep in a task reports through it.
_GUARD: SpaceGuard | None = None


def install(guard: SpaceGuard | None) -> None:
    global _GUARD
    _GUARD = guard


def note_disk_full(why: str, fingerprint: str | None = None) -> None:
    """Called where a write failed for lack of space (a task's keyframes, its cache)."""
    if _GUARD is not None:
        _GUARD.report_full(why, fingerprint)


def pass_outcome_if_disk_full(task: Any, failures: dict[str, str], error: BaseException | None = None) -> Any:
    """A retriable outcome when a pass lost an analyzer (a keyframe JPEG) or its cache to a full disk.

    None when lack of space was not the problem. The clip is noted, so that it is planned
    again with fresh attempts when space returns.
    """
    from kinod.jobs.tasks import TaskOutcome

    why = str(error) if is_disk_full(error) else next((m for m in failures.values() if is_disk_full(m)), None)
    if why is None:
        return None
    note_disk_full(why, task.fingerprint)
    return TaskOutcome(
        task.key, "failed", f"{task.path}: no space to write results ({why}); done again when space returns",
        retriable=True, problem="disk_full",
    )
