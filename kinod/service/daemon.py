"""``kinod run``: the long-running service. Wiring only.

    watcher ──events──▶ intake thread ──plan──▶ SQLite ◀──claim/finish── scheduler thread ──▶ executor
                                 ▲                                             │
                                 └────────── finalize (sidecar) ◀──settled─────┘

* the **watcher** (:mod:`kinod.watch`) says when a card is copy-complete, or that files
  of a card being worked on changed (their work is cancelled and done again later);
* the **intake** thread plans each clip (fingerprint, job rows) and writes sidecars
  when a clip's work is over, so slow NAS reads never stall the scheduler;
* the **scheduler** (:mod:`kinod.jobs`) runs tasks on CPU/GPU slots under leases;
* the main thread handles signals: SIGTERM stops taking work, gives running tasks
  ``jobs.shutdown_grace_seconds`` and requeues the rest; SIGHUP reloads the config;
  it also pings the systemd watchdog while the scheduler loop is alive.

A lock file in the state directory (:mod:`kinod.service.statelock`) keeps a second daemon off the same state.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
from typing import Any

import structlog

from kinod.config import Config, ConfigError
from kinod.jobs.lease import is_local_and_dead, make_owner
from kinod.jobs.scheduler import Limits, Scheduler
from kinod.jobs.store import JobStore
from kinod.jobs.tasks import Task, TaskOutcome
from kinod.run.cards import CardService
from kinod.run.processor import ClipProcessor
from kinod.run.tempfiles import start_sweep
from kinod.service import logs
from kinod.service.daemon_events import route_watch_event
from kinod.service.daemon_executor import apply_reload, make_executor, slot_limits, start_dist
from kinod.service.daemon_servers import start_metrics, start_ui
from kinod.service.metrics import Metrics
from kinod.service.pause import StoragePause
from kinod.service.progress import ProgressObserver
from kinod.service.reload import ConfigConflict, check_layout, read_reloaded
from kinod.service.sdnotify import Notifier
from kinod.service.statelock import LOCK_NAME, AlreadyRunning, StateLock
from kinod.watch.events import WatchEvent
from kinod.watch.watcher import Watcher

log = structlog.get_logger(__name__)

#: The scheduler loop counts as hung (no watchdog ping, /healthz 503) after this long without a tick.
STALL_SECONDS = 60.0
STATUS_SECONDS = 10.0
SWITCH_INTERVAL_S = 0.001


__all__ = ["LOCK_NAME", "AlreadyRunning", "ConfigConflict", "Daemon", "StateLock", "check_layout", "run_daemon"]


class Daemon:
    def __init__(self, config: Config, *, once: bool = False) -> None:
        self.config = config
        self.once = once
        self.stop_event = threading.Event()
        self.reload_requested = threading.Event()
        self.grace = config.jobs.shutdown_grace_seconds
        self.notifier = Notifier()
        self.intake: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.owner = make_owner("daemon")
        self._intake_busy = threading.Event()
        self._threads: list[threading.Thread] = []
        self._dist: Any = None  # the Dramatiq executor with jobs.executor = "dramatiq"

    # Start-up --------------------------------------------------------------------------------------
    def run(self) -> int:
        check_layout(self.config)
        for root in self.config.watch.roots:
            if not root.path.exists():
                log.warning("watch root does not exist (yet)", root=str(root.path))
        self.config.output.root.mkdir(parents=True, exist_ok=True)
        self.lock = StateLock(self.config.state.dir)
        self.lock.acquire()
        try:
            self.store = JobStore(self.config.state.dir / "kinod.sqlite")
            try:
                return self._run()
            finally:
                self.store.close()
        finally:
            self.lock.release()

    def _run(self) -> int:
        cfg = self.config
        # Every SQLite call lets go of the GIL; with the default 5 ms switch interval the
        # scheduler then waits up to 5 ms per call for busy worker threads to hand it back.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.processor = ClipProcessor(cfg, self.store)
        self.cards = CardService(self)
        self.metrics = Metrics(self.store, self.processor.classes, [str(r.path.absolute()) for r in cfg.watch.roots])
        self.storage = StoragePause(  # a full output/state file system pauses, then resumes
            cfg,
            metrics=self.metrics,
            notifier=self.notifier,
            intake=self.intake,
            stop_event=self.stop_event,
            store=self.store,
            processor=lambda: self.processor,
            owner=self.owner,
        )
        self.space = self.storage.guard
        self.server = start_metrics(cfg, self.metrics, self.health, self.once)
        self.ui_server = start_ui(cfg, self.once)
        # Dramatiq: adopt what a killed coordinator had in flight, before _recover would requeue it
        self._dist, adopted = start_dist(cfg, self.processor, self.metrics, self.store, self.owner)
        self._recover()
        start_sweep(cfg.output.root)  # orphaned temp files of a killed daemon
        limits, why = slot_limits(cfg, self._dist)
        log.info(
            "scheduler slots", cpu=limits.cpu_slots, gpu=limits.gpu_slots, gpu_memory_mb=limits.gpu_memory_mb, why=why
        )
        self.metrics.set_limits(limits.cpu_slots, limits.gpu_slots)
        self.executor = make_executor(cfg, self._dist, self._run_task)
        self.scheduler = self._make_scheduler(limits)
        self.storage.attach(self.scheduler)
        if adopted:
            self.scheduler.adopt(adopted)
        self.watcher = Watcher(cfg.watch, self._on_watch_event, known=self.store.cards.files)
        self.watcher.seed(self.store.cards.files())
        self._install_signals()
        self._start_thread(self._intake_loop, "kinod-intake")
        self._start_thread(self._scheduler_loop, "kinod-scheduler")
        if self.once:
            return self._run_once()
        self.watcher.start()
        # Faces: reference photos dropped into <output root>/people/<Name>/.
        from kinod.service.people_watch import start_people_watch
        start_people_watch(cfg, self.stop_event)
        roots = ", ".join(f"{p} ({m})" for p, (m, _w) in self.watcher.modes().items())
        self.notifier.ready(f"watching {roots}")
        log.info("kinod running", roots=[str(r.path) for r in cfg.watch.roots], output=str(cfg.output.root))
        try:
            self._main_loop()
        finally:
            self._shutdown()
        return 0

    def _make_scheduler(self, limits: Limits) -> Scheduler:
        j = self.config.jobs
        return Scheduler(
            self.store,
            self.executor,
            owner=self.owner,
            limits=limits,
            lease_seconds=j.lease_seconds,
            max_attempts=j.max_attempts,
            newest_first=j.newest_card_first,
            queue_size=j.queue_size,
            cpu_fallback=j.oom_cpu_fallback,
            observer=ProgressObserver(self.metrics, self.store),
            on_settled=lambda fp: self.intake.put(("finalize", fp)),
            facts=self.processor.facts,
        )

    def _run_task(self, task: Task, cancelled: Any) -> TaskOutcome:
        # through self so a SIGHUP-reloaded processor takes the next task
        return self.processor.run_task(task, cancelled)

    def _recover(self) -> None:
        """After a crash: take back what dead local daemons held; plan again after a config change."""
        dead = [o for o in self.store.queue.running_owners() if is_local_and_dead(o)]
        if dead:
            back = self.store.queue.release_leases(
                owners=dead,
                max_attempts=self.config.jobs.max_attempts,
                reason="the daemon running it stopped; requeued",
            )
            log.warning("took back work of a stopped daemon", tasks=len(back), owners=dead)
        plan = self.processor.plan_hash()
        if self.store.meta("plan") is None:
            self.store.set_meta("plan", plan)
        elif self.store.meta("plan") != plan:
            self.intake.put(("replan", plan))  # the new plan is recorded once every clip was planned again
        for fp in self.store.clips.unfinished():  # their work ended but the sidecar was never written
            self.intake.put(("finalize", fp))

    def _start_thread(self, target: Any, name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _install_signals(self) -> None:
        def stop(signum: int, _frame: object) -> None:
            if self.stop_event.is_set():
                self.grace = 0.0  # a second signal: do not wait for running tasks
                if hasattr(self, "scheduler"):
                    self.scheduler.hurry()
                log.warning("second stop signal: requeueing running tasks now")
            log.info("stopping", signal=signal.Signals(signum).name)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, lambda *_: self.reload_requested.set())

    # Threads ----------------------------------------------------------------------------------
    def _scheduler_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.scheduler.tick(0.2)
            except Exception as e:  # log, pause, go on: a transient SQLite error must not end the daemon
                self.storage.tick_failed(e)  # "database or disk is full" pauses like ENOSPC
                log.exception("scheduler tick failed", error=str(e))
                time.sleep(1.0)
        self.scheduler.drain(self.grace)

    def _intake_loop(self) -> None:
        while True:
            kind, arg = self.intake.get()
            if kind == "quit":
                return
            self._intake_busy.set()
            try:
                if self.storage.hold(kind, arg):  # waits while the disk is full
                    continue
                if kind == "resume":
                    self.storage.resume()
                elif kind == "ready":
                    self.cards.ready(arg)
                elif kind == "verified":
                    self.cards.plan(*arg)
                elif kind == "seen":
                    self.cards.seen(arg)
                elif kind == "finalize":
                    self.cards.finalize(arg)
                elif kind == "replan":
                    n = self.processor.replan_known(owner=self.owner)
                    self.store.set_meta("plan", arg)
                    log.info("planned known clips again after a config change", clips=n)
                    self.scheduler.notify()
            except Exception as e:  # one bad card or clip must not stop intake
                if self.storage.intake_failed(kind, arg, e):  # the state file system is full
                    continue
                log.exception("intake failed", what=kind, error=str(e))
            finally:
                self._intake_busy.clear()

    # Watch events -------------------------------------------------------------------------------
    def _on_watch_event(self, ev: WatchEvent) -> None:
        """Runs on watcher threads: urgent things here, slow ones go to the intake thread."""
        route_watch_event(ev, self.metrics, self.submit, self.cards.changed)

    # Main thread ------------------------------------------------------------------------------
    def health(self) -> tuple[bool, dict[str, Any]]:
        """/healthz and the watchdog: alive while the scheduler loop ticks."""
        sched = getattr(self, "scheduler", None)
        age = time.monotonic() - sched.alive_at if sched is not None else 0.0
        ok = age < STALL_SECONDS and not self.stop_event.is_set()
        running = len(sched.running) if sched is not None else 0
        info = {"status": "ok" if ok else "stalled", "scheduler_tick_age_s": round(age, 1), "running": running}
        storage = getattr(self, "storage", None)
        return ok, storage.health(info) if storage is not None else info  # "degraded" while storage is full

    def _main_loop(self) -> None:
        interval = self.notifier.watchdog_interval
        last_status = 0.0
        while not self.stop_event.wait(min(interval or 1.0, 1.0)):
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self._reload()
            ok, _info = self.health()
            if ok:
                self.notifier.watchdog()
            else:
                log.error("scheduler loop stalled; not pinging the systemd watchdog")
            now = time.monotonic()
            if now - last_status >= STATUS_SECONDS:
                last_status = now
                self.notifier.status(self._status_line())

    def _status_line(self) -> str:
        counts = self.store.queue.counts()
        q = sum(n for (_a, s), n in counts.items() if s == "queued")
        r = sum(n for (_a, s), n in counts.items() if s == "running")
        f = sum(n for (_a, s), n in counts.items() if s == "failed")
        return f"{q} queued, {r} running, {f} failed; {len(list(self.watcher.awake_cards()))} card(s) settling"

    def _run_once(self) -> int:
        """``run --once``: everything there now, without settling, then exit."""
        for ev in self.watcher.ready_now():
            self._on_watch_event(ev)
        try:
            while not self.stop_event.is_set():
                time.sleep(0.2)
                if self._quiet() and self.scheduler.idle():
                    time.sleep(0.3)  # let a last finalize land
                    if self._quiet():
                        break
        finally:
            self._shutdown()
        return 0

    def _quiet(self) -> bool:
        """Nothing waiting for the intake thread, nothing on it, no card being verified."""
        return self.intake.empty() and not self._intake_busy.is_set() and not self.cards.busy()

    def submit(self, kind: str, arg: Any) -> None:
        """Hand work to the intake thread (the card lifecycle's verification thread uses it)."""
        self.intake.put((kind, arg))

    def _shutdown(self) -> None:
        self.notifier.stopping(f"stopping: {len(self.scheduler.running)} task(s) get {self.grace:.0f} s to finish")
        log.info("shutting down", running=len(self.scheduler.running), grace_s=self.grace)
        self.watcher.stop()
        self.storage.stop()
        self.stop_event.set()
        self.cards.close()
        sched = next((t for t in self._threads if t.name == "kinod-scheduler"), None)
        if sched is not None:
            sched.join(timeout=self.grace + 30)
        dropped = 0
        while True:  # what intake has not started is picked up again at the next start
            try:
                self.intake.get_nowait()
                dropped += 1
            except queue.Empty:
                break
        if dropped:
            log.info("left for the next start", intake_items=dropped)
        self.intake.put(("quit", None))
        intake = next((t for t in self._threads if t.name == "kinod-intake"), None)
        if intake is not None:
            intake.join(timeout=30)
        if self.server is not None:
            self.server.stop()
        if self.ui_server is not None:
            self.ui_server.stop()
        self.notifier.close()
        t = os.times()  # what this run cost: benchmarks/card.py balances its books with these
        log.info("kinod stopped", cpu_s=round(t.user + t.system, 3), children_cpu_s=round(t[2] + t[3], 3))

    def _reload(self) -> None:
        """SIGHUP: read the config file again and apply what can change while running."""
        self.notifier.reloading()
        try:
            new = read_reloaded(self.config)
        except (ConfigError, ConfigConflict) as e:
            log.error("reload refused; keeping the running config", error=str(e))
            self.notifier.ready(f"reload refused: {e}")
            return
        except Exception as e:  # nothing in a config file may end the daemon on SIGHUP
            log.exception("reload refused; keeping the running config", error=f"{self.config.source}: {e}")
            self.notifier.ready(f"reload refused: {e}")
            return
        if (new.metrics.listen, new.metrics.enabled) != (self.config.metrics.listen, self.config.metrics.enabled):
            log.warning("metrics.listen/enabled changes need a restart; keeping the running server")
        old = self.config
        self.config = new
        logs.configure(new.logging.level, new.logging.format)
        self.processor = ClipProcessor(new, self.store)
        self.scheduler.facts = self.processor.facts  # tasks handed out from now on: the new analyzer set
        apply_reload(new, self.executor, self._dist, self.processor)
        self.metrics.add_analyzers(self.processor.classes)
        limits, _why = slot_limits(new, self._dist)
        self.metrics.set_limits(limits.cpu_slots, limits.gpu_slots)
        self.scheduler.update_limits(limits, new.jobs.max_attempts, new.jobs.newest_card_first, new.jobs.queue_size)
        self.scheduler.cpu_fallback = new.jobs.oom_cpu_fallback
        if new.watch != old.watch:
            handled = self.watcher.handled()
            self.watcher.stop()
            self.watcher = Watcher(new.watch, self._on_watch_event, known=self.store.cards.files)
            self.watcher.seed(handled)
            self.metrics.set_roots(str(r.path.absolute()) for r in new.watch.roots)
            self.watcher.start()
        else:
            threading.Thread(target=self.watcher.rescan, name="kinod-rescan", daemon=True).start()
        plan = self.processor.plan_hash()
        if self.store.meta("plan") != plan:
            self.intake.put(("replan", plan))
        log.info("config reloaded", source=str(new.source))
        self.notifier.ready("config reloaded")


def run_daemon(config: Config, once: bool = False) -> int:
    """Entry point of ``kinod run``: clear messages and exit codes for what stops it at start."""
    try:
        return Daemon(config, once=once).run()
    except ConfigConflict as e:
        print(f"kinod run: {e}", file=sys.stderr)
        return 2
    except AlreadyRunning as e:
        print(f"kinod run: {e}", file=sys.stderr)
        return 3
    except OSError as e:
        print(f"kinod run: {e}", file=sys.stderr)
        return 1
