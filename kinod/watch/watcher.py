"""The watcher: notices cards in the watch roots and says when each one is complete.

Three ways in, because none is enough alone:

* a watchdog observer per root (inotify on local disks, polling on network and FUSE
  mounts, see :mod:`kinod.watch.mounts`) wakes the card an event touched;
* a tick every ``watch.poll_interval_seconds`` walks each awake card, feeds the
  settle rule, and hands complete cards on (:class:`~kinod.watch.events.CardReady`);
* a full rescan (APScheduler, every ``watch.rescan_minutes`` and once at start)
  wakes every card that differs from what was handed on, which catches what arrived
  while kinod was down and anything an observer missed.

The watcher remembers, per card, the file list it last handed on ("handled"). The
daemon seeds that from the state file at start, so a restart does not re-settle the
whole library. A handled card whose files change or vanish produces
:class:`~kinod.watch.events.CardChanged` (work on them must stop) and settles again.

An unreachable root (unmounted share) is reported and skipped, never read as "every
card was deleted".
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from kinod.config import WatchConfig
from kinod.watch.cards import CardRef, CardScan, FileSig, card_of, list_cards, marker_wait, open_cards, scan_card
from kinod.watch.events import CardChanged, CardReady, CardSeen, RootState, ScanDone, WatchEvent, WatchProblem
from kinod.watch.ignore import RootFilter, is_system_name
from kinod.watch.observers import WatchedRoot, start_observer, stop_observer
from kinod.watch.settle import SettleTracker

log = structlog.get_logger(__name__)

__all__ = ["Sink", "Watcher"]

Sink = Callable[[WatchEvent], None]


@dataclass
class _Awake:
    card: CardRef
    last_files: set[str] = field(default_factory=set)
    waiting: str = ""
    #: Looked at since it woke up (a new card is looked at at once, not at the next tick).
    observed: bool = False


class Watcher:
    """Watches every root of a :class:`~kinod.config.WatchConfig`; reports through ``sink``."""

    def __init__(
        self,
        config: WatchConfig,
        sink: Sink,
        clock: Callable[[], float] = time.monotonic,
        known: Callable[[], dict[str, dict[str, FileSig]]] | None = None,
    ) -> None:
        self.config = config
        #: Re-reads "handled" from the state file at each rescan (``kinod forget``/``retry`` take effect).
        self.known = known
        self.sink = sink
        self.clock = clock
        self.roots = [WatchedRoot(r, r.path.absolute(), RootFilter.of(r.include, r.exclude)) for r in config.roots]
        self.tracker = SettleTracker(config.settle_seconds, config.stable_polls)
        self._lock = threading.RLock()
        self._tick_lock = threading.Lock()
        self._root_lock = threading.RLock()
        self._handled: dict[str, dict[str, FileSig]] = {}
        self._handed_at: dict[str, float] = {}
        self._rescan_started = float("-inf")
        self._awake: dict[str, _Awake] = {}
        self._seen_cards: set[str] = set()
        self._reported: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._thread: threading.Thread | None = None
        self._scheduler: BackgroundScheduler | None = None

    # Lifecycle -----------------------------------------------------------------------
    def seed(self, handled: dict[str, dict[str, FileSig]]) -> None:
        """What was handed on before (card key -> files), from the state file."""
        with self._lock:
            self._handled = {k: dict(v) for k, v in handled.items()}

    def start(self) -> None:
        for root in self.roots:
            self._check_root(root)
        self._thread = threading.Thread(target=self._loop, name="kinod-watch-tick", daemon=True)
        self._thread.start()
        # APScheduler logs every run at INFO as plain text, which would break JSON log lines
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._scheduler.add_job(
            self.rescan,
            "interval",
            minutes=self.config.rescan_minutes,
            next_run_time=datetime.now(UTC),
            id="rescan",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self._scheduler.start()

    def stop(self) -> None:
        self._stop.set()
        self._kick.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        for root in self.roots:
            stop_observer(root)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def modes(self) -> dict[Path, tuple[str, str]]:
        return {r.path: (r.mode, r.why) for r in self.roots}

    # Observers -----------------------------------------------------------------------
    def _start_observer(self, root: WatchedRoot) -> None:
        start_observer(root, self.config.mode, self.config.poll_interval_seconds, self.wake_path)

    def _check_root(self, root: WatchedRoot) -> bool:
        """Is the root reachable? Starts/stops its observer on a change and reports it."""
        with self._root_lock:  # the tick and the rescan both look
            return self._check_root_locked(root)

    def _check_root_locked(self, root: WatchedRoot) -> bool:
        try:
            up = root.path.is_dir() and os.access(root.path, os.R_OK | os.X_OK)
        except OSError:
            up = False
        if up == root.up:
            if up and root.observer is not None and not root.observer.is_alive():
                stop_observer(root)
                self._start_observer(root)
            return up
        was_down = root.up is False
        root.up = up
        if up:
            try:
                self._start_observer(root)
            except OSError as e:
                root.up = False
                self._problem(root.path, "root_unreachable", f"{root.path}: cannot watch: {e.strerror or e}")
                return False
            self.sink(RootState(root.path, True, root.mode, root.why))
            if was_down:  # back from an outage: look at everything (at start the rescan does)
                self._wake_root(root)
        else:
            stop_observer(root)
            msg = f"{root.path}: watch root is not reachable (unmounted share, or removed?); retrying every poll"
            log.error("watch root down", root=str(root.path), error=msg)
            self.sink(WatchProblem(root.path, "root_unreachable", msg))
            self.sink(RootState(root.path, False, root.mode, msg))
        return up

    # Waking cards --------------------------------------------------------------------
    def wake_path(self, root: WatchedRoot, path: Path, is_dir: bool = False) -> None:
        if is_system_name(path.name):
            return
        card = card_of(root.path, path, is_dir)
        if card is not None:
            self._wake(card)

    def _wake(self, card: CardRef) -> None:
        with self._lock:
            if card.key not in self._awake:
                prev = self._handled.get(card.key, {})
                self._awake[card.key] = _Awake(card, set(prev))
                self._kick.set()

    def _wake_root(self, root: WatchedRoot) -> None:
        try:
            for card in list_cards(root.path):
                self._wake(card)
        except OSError as e:
            log.warning("cannot list root", root=str(root.path), error=str(e))

    def _refresh_known(self) -> None:
        """Take "handled" from the state file, keeping what was handed on since the last rescan
        (its intake may not have reached the file yet)."""
        started = self.clock()
        if self.known is not None:
            try:
                fresh = self.known()
            except Exception as e:  # a locked or broken state file must not stop watching
                log.warning("cannot read handled cards from the state file", error=str(e))
                fresh = None
            if fresh is not None:
                with self._lock:
                    recent = {
                        k: v for k, v in self._handled.items() if self._handed_at.get(k, -1e18) >= self._rescan_started
                    }
                    self._handled = {**fresh, **recent}
        self._rescan_started = started

    def rescan(self) -> None:
        """Wake every card that differs from what was handed on; forget vanished ones."""
        self._refresh_known()
        cards, down = 0, []
        for root in self.roots:
            if not self._check_root(root):
                down.append(root.path)
                continue
            try:
                present = list(list_cards(root.path))
            except OSError as e:
                self._problem(root.path, "root_unreachable", f"{root.path}: cannot list: {e.strerror or e}")
                down.append(root.path)
                continue
            keys = set()
            for card in present:
                keys.add(card.key)
                cards += 1
                scan = scan_card(card, root.filter)
                with self._lock:
                    same = self._handled.get(card.key) == scan.files and not scan.temp
                if not same:
                    self._wake(card)
            prefix = str(root.path) + os.sep
            with self._lock:
                gone = [k for k in self._handled if k.startswith(prefix) and k not in keys]
            for k in gone:
                loose = k.endswith(os.sep + ".")
                path = root.path if loose else Path(k)
                self._wake(CardRef(root.path, path, loose))
        self.sink(ScanDone(time.time(), cards, tuple(down)))

    # The tick --------------------------------------------------------------------------
    def _loop(self) -> None:
        """Tick every poll interval; a card that just woke up is looked at at once (detection latency)."""
        interval = self.config.poll_interval_seconds
        next_tick = time.monotonic() + interval
        while not self._stop.is_set():
            kicked = self._kick.wait(max(0.0, next_tick - time.monotonic()))
            if self._stop.is_set():
                return
            self._kick.clear()
            full = time.monotonic() >= next_tick
            try:
                self.tick(only_new=not full)
            except Exception as e:  # the watcher must outlive any one bad card
                log.exception("watch tick failed", error=str(e))
            if full:
                next_tick = time.monotonic() + interval
            elif kicked:
                time.sleep(0.02)  # let a burst of events (a whole card moved in) arrive together

    def tick(self, only_new: bool = False) -> None:
        with self._tick_lock:
            now = self.clock()
            if not only_new:
                for root in self.roots:
                    self._check_root(root)
            with self._lock:
                awake = [aw for aw in self._awake.values() if not (only_new and aw.observed)]
            for aw in awake:
                aw.observed = True
                root = next((r for r in self.roots if r.path == aw.card.root), None)
                if root is None or not root.up:
                    continue
                self._tick_card(root, aw, now)

    def _tick_card(self, root: WatchedRoot, aw: _Awake, now: float) -> None:
        card = aw.card
        scan = scan_card(card, root.filter)
        for p in scan.problems:
            self._problem(p.path, p.kind, p.message)
        with self._lock:
            handled = self._handled.get(card.key)
        if not scan.exists:
            if handled:
                self.sink(CardChanged(card, removed=tuple(card.path / r for r in sorted(handled))))
            with self._lock:
                self._handled.pop(card.key, None)
                self._awake.pop(card.key, None)
            self.tracker.forget(card.key)
            return
        if handled is not None and handled == scan.files and not scan.temp:
            with self._lock:
                self._awake.pop(card.key, None)
            self.tracker.forget(card.key)
            return
        new = set(scan.files) - aw.last_files
        if new:
            first = card.key not in self._seen_cards
            self._seen_cards.add(card.key)
            self.sink(CardSeen(card, len(new), first))
        if handled:
            changed = tuple(card.path / r for r, sig in handled.items() if r in scan.files and scan.files[r] != sig)
            removed = tuple(card.path / r for r in handled if r not in scan.files)
            if changed or removed:
                self.sink(CardChanged(card, changed, removed))
                with self._lock:
                    # reported once: the changed files are no longer "handed on", so the
                    # card settles again and hands them on anew
                    self._handled[card.key] = {r: s for r, s in handled.items() if scan.files.get(r) == s}
        aw.last_files = set(scan.files)
        signature = (tuple(sorted(scan.files.items())), tuple(sorted(scan.temp)))
        st = self.tracker.observe(card.key, signature, now)
        if not st.settled:
            return
        wait = self._why_wait(card, scan)
        if wait:
            if wait != aw.waiting:
                log.info("card complete but waiting", card=card.key, reason=wait)
                aw.waiting = wait
            return
        self._hand_on(card, scan)

    def _why_wait(self, card: CardRef, scan: CardScan) -> str | None:
        if scan.temp:
            return f"{card.path}: copy in progress ({len(scan.temp)} temp file(s), e.g. {scan.temp[0]})"
        return marker_wait(card, self.config.ready_marker)

    def _hand_on(self, card: CardRef, scan: CardScan) -> None:
        opened = open_cards(card, scan)
        found = [c for o in opened for c in o.clips]
        clips = [c.first for c in found]
        with self._lock:
            self._handled[card.key] = dict(scan.files)
            self._handed_at[card.key] = self.clock()
            self._awake.pop(card.key, None)
        self.tracker.forget(card.key)
        if not clips:
            log.info("card has no media files", card=card.key, files=len(scan.files))
            return
        log.info("card ready", card=card.key, clips=len(clips))
        parts = {c.first: c for c in found if not c.plain}
        self.sink(CardReady(card, dict(scan.files), tuple(clips), parts, tuple(opened)))

    def ready_now(self) -> list[CardReady]:
        """Every card with media that differs from what was handed on, without settling (``run --once``)."""
        out = []
        for root in self.roots:
            if not root.path.is_dir():
                self._problem(root.path, "root_unreachable", f"{root.path}: watch root is not reachable")
                continue
            for card in list_cards(root.path):
                scan = scan_card(card, root.filter)
                with self._lock:
                    if self._handled.get(card.key) == scan.files:
                        continue
                    self._handled[card.key] = dict(scan.files)
                opened = open_cards(card, scan)
                found = [c for o in opened for c in o.clips]
                if found:
                    spans = {c.first: c for c in found if not c.plain}
                    out.append(CardReady(card, dict(scan.files), tuple(c.first for c in found), spans, tuple(opened)))
        return out

    def _problem(self, path: Path, kind: str, message: str) -> None:
        key = (str(path), kind)
        if key in self._reported:
            return
        self._reported.add(key)
        log.error("watch problem", path=str(path), kind=kind, error=message)
        self.sink(WatchProblem(path, kind, message))

    def handled(self) -> dict[str, dict[str, FileSig]]:
        """A copy of what was handed on (to seed a replacement watcher after a reload)."""
        with self._lock:
            return {k: dict(v) for k, v in self._handled.items()}

    def awake_cards(self) -> Iterable[str]:
        with self._lock:
            return list(self._awake)
