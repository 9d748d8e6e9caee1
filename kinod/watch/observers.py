"""The filesystem observers behind the watcher: one watchdog observer per watch root.

Split from :mod:`kinod.watch.watcher`, which decides when a root is up and what an
event means; here is only how a root is observed. inotify where the mount allows it
(:mod:`kinod.watch.mounts` decides), polling otherwise, and polling as well when inotify
cannot start (``fs.inotify.max_user_watches`` reached on a huge library): an observer
only wakes cards early, the watcher's own tick and rescans still find everything.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver
from watchdog.observers.inotify import InotifyObserver
from watchdog.observers.polling import PollingObserver

from kinod.config import WatchRoot
from kinod.watch.ignore import RootFilter
from kinod.watch.mounts import choose_mode

log = structlog.get_logger(__name__)

EVENT_TYPES: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileClosedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]


@dataclass
class WatchedRoot:
    """One watch root: its settings, whether it is reachable, and how it is observed."""

    cfg: WatchRoot
    path: Path
    filter: RootFilter
    mode: str = "poll"
    why: str = ""
    up: bool | None = None
    observer: BaseObserver | None = None


#: What an event calls: the root, the path it touched, whether that path is a folder.
WakeFn = Callable[[WatchedRoot, Path, bool], None]


class _WakeHandler(FileSystemEventHandler):
    """Passes every path an event names (source and destination of a move) on to ``wake``."""

    def __init__(self, wake: WakeFn, root: WatchedRoot) -> None:
        self.wake = wake
        self.root = root

    def on_any_event(self, event: FileSystemEvent) -> None:
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                p = Path(os.fsdecode(raw))
                self.wake(self.root, p, event.is_directory)


def start_observer(root: WatchedRoot, mode_setting: str, poll_interval: float, wake: WakeFn) -> None:
    """Observe ``root`` (inotify or polling, see the module docstring); notes the mode and why on it."""
    mode, why = choose_mode(root.path, mode_setting)
    observer: BaseObserver
    if mode == "inotify":
        try:
            observer = InotifyObserver(timeout=min(1.0, poll_interval))
            observer.schedule(_WakeHandler(wake, root), str(root.path), recursive=True, event_filter=EVENT_TYPES)
            observer.start()
        except OSError as e:
            # e.g. fs.inotify.max_user_watches reached on a huge library
            why = f"inotify failed ({e.strerror or e}); polling instead"
            log.warning("inotify unavailable, polling", root=str(root.path), error=str(e))
            mode = "poll"
    if mode == "poll":
        observer = PollingObserver(timeout=poll_interval)
        observer.schedule(_WakeHandler(wake, root), str(root.path), recursive=True, event_filter=EVENT_TYPES)
        observer.start()
    root.observer, root.mode, root.why = observer, mode, why
    log.info("watching", root=str(root.path), mode=mode, why=why)


def stop_observer(root: WatchedRoot) -> None:
    """Stop the root's observer, if any; a failure to stop is only logged."""
    if root.observer is not None:
        try:
            root.observer.stop()
            root.observer.join(timeout=5)
        except (OSError, RuntimeError) as e:
            log.debug("observer stop failed", root=str(root.path), error=str(e))
        root.observer = None
