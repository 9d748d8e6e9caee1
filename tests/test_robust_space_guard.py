"""SpaceGuard.defer_if_full: work that writes waits for space on a full disk, and only then.

Why here and not only under the daemon (tests/test_robust_diskfull.py): the card
lifecycle calls it on the guard it is given, so the rule ("full disk: pause and keep
the item; any other error: the caller fails it") is the guard's own contract.
"""

from __future__ import annotations

import errno
import sqlite3
import threading
from pathlib import Path

from kinod.run.space import SpaceGuard


def _guard(folder: Path, changes: list[tuple[bool, str]], resumed: threading.Event) -> SpaceGuard:
    def on_change(full: bool, why: str) -> None:
        changes.append((full, why))
        if not full:
            resumed.set()

    return SpaceGuard([folder], min_free_bytes=0, max_backoff_s=0.5, on_change=on_change)


def test_a_full_disk_pauses_and_keeps_the_item_until_space_returns(tmp_path: Path) -> None:
    changes: list[tuple[bool, str]] = []
    resumed = threading.Event()
    guard = _guard(tmp_path, changes, resumed)
    try:
        error = OSError(errno.ENOSPC, "No space left on device")
        assert guard.defer_if_full(("finalize", "fp1"), error, note="clip outputs wait for space", fingerprint="fp1")
        assert changes and changes[0][0] is True  # paused, with the reason
        # the same item twice is kept once; SQLite's wording counts as a full disk too
        assert guard.defer_if_full(("finalize", "fp1"), OSError(errno.ENOSPC, "again"))
        assert guard.defer_if_full(("seen", "card"), sqlite3.OperationalError("database or disk is full"))
        assert guard.defer_if_full(None, OSError(errno.EROFS, "Read-only file system"))
        assert resumed.wait(30)  # tmp_path takes writes: the guard resumes on its own
        items, hit = guard.take_back()
        # the clip's outputs are written again on resume, not its analysis planned again
        assert items == [("finalize", "fp1"), ("seen", "card")] and hit == set()
    finally:
        guard.stop()


def test_other_errors_are_left_to_the_caller(tmp_path: Path) -> None:
    changes: list[tuple[bool, str]] = []
    guard = _guard(tmp_path, changes, threading.Event())
    try:
        assert not guard.defer_if_full(("finalize", "fp1"), ValueError("bad sidecar"))
        assert not guard.defer_if_full(("finalize", "fp1"), OSError(errno.EACCES, "Permission denied"))
        assert not guard.full and changes == [] and guard.take_back() == ([], set())
    finally:
        guard.stop()
