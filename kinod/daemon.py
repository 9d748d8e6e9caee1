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

A lock file in the state directory keeps a second daemon off the same state.
"""

from __future__ import annotations

import fcntl
import functools
import os
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import structlog

from kinod import logs
from kinod.cards_service import CardService
from kinod.config import Config, ConfigError, load_config
from kinod.jobs.executor import LocalExecutor, ProcessExecutor
from kinod.jobs.lease import is_local_and_dead, make_owner
from kinod.jobs.scheduler import Limits, Scheduler, limits_for
from kinod.jobs.store import JobStore
from kinod.jobs.tasks import Task, TaskOutcome
from kinod.metrics import Metrics, MetricsServer
from kinod.pipeline import ClipProcessor, make_runner
from kinod.robust import pause
from kinod.robust.tempfiles import start_sweep
from kinod.sdnotify import Notifier
from kinod.watch.events import CardChanged, CardReady, CardSeen, RootState, ScanDone, WatchEvent, WatchProblem
from kinod.watch.watcher import Watcher

log = structlog.get_logger(__name__)

LOCK_NAME = "kinod.lock"
#: The scheduler loop counts as hung (no watchdog ping, /healthz 503) after this long without a tick.
STALL_SECONDS = 60.0
STATUS_SECONDS = 10.0
SWITCH_INTERVAL_S = 0.001


class ConfigConflict(RuntimeError):
    pass


class AlreadyRunning(RuntimeError):
    """Another daemon holds the state directory's lock."""


def check_layout(config: Config) -> None:
    """Refuse layouts that would write into the footage or watch our own outputs."""
    out = config.output.root.absolute()
    state = config.state.dir.absolute()
    for root in config.watch.roots:
        r = root.path.absolute()
        if out.is_relative_to(r) or r.is_relative_to(out):
            raise ConfigConflict(
                f"output.root {out} and watch root {r} overlap: outputs must never be written into the footage"
            )
        if state.is_relative_to(r):
            raise ConfigConflict(f"state.dir {state} is inside watch root {r}: kinod would watch its own state")


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
        self.space = pause.make_guard(self)  # issue 13: a full output/state file system pauses, then resumes
        self.server: MetricsServer | None = None
        if cfg.metrics.enabled and not self.once:
            self.server = MetricsServer(cfg.metrics.listen, self.metrics, self.health)
            self.server.start()
            log.info("metrics listening", address=self.server.address)
        self._start_ui()
        adopted = self._dist_start()  # issue 17: before _recover, which would requeue them
        self._recover()
        start_sweep(cfg.output.root)  # issue 13: orphaned temp files of a killed daemon
        limits, why = limits_for(cfg.jobs.cpu_workers, cfg.jobs.gpu_workers, cfg.jobs.device, cfg.jobs.gpu_memory_mb)
        if self._dist is not None:  # issue 17: remote workers, not local slots, bound the work
            limits, why = self._dist_limits()
        log.info(
            "scheduler slots", cpu=limits.cpu_slots, gpu=limits.gpu_slots, gpu_memory_mb=limits.gpu_memory_mb, why=why
        )
        self.metrics.set_limits(limits.cpu_slots, limits.gpu_slots)
        self.executor = self._make_executor()
        self.scheduler = self._make_scheduler(limits)
        if adopted:  # issue 17
            self.scheduler.adopt(adopted)
        self.watcher = Watcher(cfg.watch, self._on_watch_event, known=self.store.cards.files)
        self.watcher.seed(self.store.cards.files())
        self._install_signals()
        self._start_thread(self._intake_loop, "kinod-intake")
        self._start_thread(self._scheduler_loop, "kinod-scheduler")
        if self.once:
            return self._run_once()
        self.watcher.start()
        # Faces (issue 14): reference photos dropped into <output root>/people/<Name>/.
        from kinod.people_watch import start_people_watch

        start_people_watch(cfg, self.stop_event)
        roots = ", ".join(f"{p} ({m})" for p, (m, _w) in self.watcher.modes().items())
        self.notifier.ready(f"watching {roots}")
        log.info("kinod running", roots=[str(r.path) for r in cfg.watch.roots], output=str(cfg.output.root))
        try:
            self._main_loop()
        finally:
            self._shutdown()
        return 0

    # --- browse UI (issue 16) ---
    def _start_ui(self) -> None:
        """The browse UI on ``ui.listen`` (off by default); a UI that cannot bind costs the UI, not the daemon."""
        from kinod.ui.server import UiServer

        self.ui_server: UiServer | None = None
        if not self.config.ui.listen or self.once:
            return
        try:
            self.ui_server = UiServer(self.config, self.config.ui.listen)
            self.ui_server.start()
            log.info("ui listening", address=self.ui_server.address)
        except (OSError, ValueError) as e:
            log.error("ui not started", listen=self.config.ui.listen, error=str(e))
            self.ui_server = None
    # --- end browse UI ---

    def _make_executor(self) -> Any:
        """Threads (default), worker processes (``jobs.executor = "process"``) or Dramatiq workers."""
        if self._dist is not None:  # issue 17
            return self._dist
        if self.config.jobs.executor == "process":
            return ProcessExecutor(functools.partial(make_runner, self.config))
        return LocalExecutor(self._run_task)

    # --- issue 17: jobs.executor = "dramatiq" ------------------------------------------------------
    _dist: Any = None

    def _dist_start(self) -> list[Task]:
        """Connect to the broker, and adopt what a killed coordinator still had in flight."""
        if self.config.jobs.executor != "dramatiq":
            return []
        from kinod.jobs.dramatiq_executor import DistCollector, DramatiqExecutor
        from kinod.worker import model_hashes

        self._dist = DramatiqExecutor(self.config, model_hashes(self.processor.analyzers))
        self.metrics.registry.register(DistCollector(self._dist))
        outbox = self._dist.outbox_tasks()
        moved = self.store.queue.adopt_leases(
            [t.key for t, _q, _e in outbox], self.owner, self.config.jobs.lease_seconds
        )
        return self._dist.adopt(outbox, moved)

    def _dist_limits(self) -> tuple[Limits, str]:
        n = self.config.broker.max_in_flight
        gpu = n if self.config.jobs.device != "cpu" and self.config.jobs.gpu_workers else 0
        return Limits(n, gpu, 0), f"dramatiq executor: up to {n} tasks in flight on workers"

    # --- end issue 17 ---

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
            observer=self.metrics,
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
                pause.tick_failed(self, e)  # issue 13: "database or disk is full" pauses like ENOSPC
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
                if pause.hold(self, kind, arg):  # issue 13: waits while the disk is full
                    continue
                if kind == "resume":
                    pause.resume(self)
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
                if pause.intake_failed(self, kind, arg, e):  # issue 13: the state file system is full
                    continue
                log.exception("intake failed", what=kind, error=str(e))
            finally:
                self._intake_busy.clear()

    # Watch events -------------------------------------------------------------------------------
    def _on_watch_event(self, ev: WatchEvent) -> None:
        """Runs on watcher threads: urgent things here, slow ones go to the intake thread."""
        if isinstance(ev, CardSeen):
            if ev.first_time:
                self.metrics.cards_seen.inc()
            self.metrics.files_detected.inc(ev.new_files)
            self.intake.put(("seen", ev))
        elif isinstance(ev, CardReady):
            self.metrics.cards_ready.inc()
            self.intake.put(("ready", ev))
        elif isinstance(ev, CardChanged):
            self.cards.changed(ev)
        elif isinstance(ev, WatchProblem):
            self.metrics.errors.labels(ev.kind).inc()
        elif isinstance(ev, RootState):
            self.metrics.root_up.labels(str(ev.root)).set(1 if ev.up else 0)
            self.metrics.root_polling.labels(str(ev.root)).set(1 if ev.mode == "poll" else 0)
        elif isinstance(ev, ScanDone) and not ev.roots_down:
            self.metrics.last_scan.set(ev.at)

    # Main thread ------------------------------------------------------------------------------
    def health(self) -> tuple[bool, dict[str, Any]]:
        """/healthz and the watchdog: alive while the scheduler loop ticks."""
        sched = getattr(self, "scheduler", None)
        age = time.monotonic() - sched.alive_at if sched is not None else 0.0
        ok = age < STALL_SECONDS and not self.stop_event.is_set()
        running = len(sched.running) if sched is not None else 0
        info = {"status": "ok" if ok else "stalled", "scheduler_tick_age_s": round(age, 1), "running": running}
        return ok, pause.health(self, info)  # issue 13: "degraded" while storage is full

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
        self.space.stop()
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
        log.info("kinod stopped")

    def _reload(self) -> None:
        """SIGHUP: read the config file again and apply what can change while running."""
        self.notifier.reloading()
        try:
            new = load_config(self.config.source) if self.config.source else None
            if new is None:
                raise ConfigError("no config file was given (built-in defaults): nothing to reload")
            check_layout(new)
            if new.state.dir.absolute() != self.config.state.dir.absolute():
                raise ConfigError(f"state.dir changed to {new.state.dir}: restart kinod to move its state")
            if new.state.shared != self.config.state.shared:
                raise ConfigError(f"state.shared_dir changed to {new.state.shared}: restart kinod to move it")
        except (ConfigError, ConfigConflict) as e:
            log.error("reload refused; keeping the running config", error=str(e))
            self.notifier.ready(f"reload refused: {e}")
            return
        except Exception as e:  # issue 13: nothing in a config file may end the daemon on SIGHUP
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
        if isinstance(self.executor, ProcessExecutor):
            self.executor.replace_factory(functools.partial(make_runner, new))
        self.metrics.add_analyzers(self.processor.classes)
        limits, _why = limits_for(new.jobs.cpu_workers, new.jobs.gpu_workers, new.jobs.device, new.jobs.gpu_memory_mb)
        if self._dist is not None:  # issue 17: in-flight bound, and the models workers must match
            from kinod.worker import model_hashes

            limits, _why = self._dist_limits()
            self._dist.set_models(model_hashes(self.processor.analyzers))
        self.metrics.set_limits(limits.cpu_slots, limits.gpu_slots)
        self.scheduler.update_limits(limits, new.jobs.max_attempts, new.jobs.newest_card_first, new.jobs.queue_size)
        self.scheduler.cpu_fallback = new.jobs.oom_cpu_fallback
        if new.watch != old.watch:
            handled = self.watcher.handled()
            self.watcher.stop()
            self.watcher = Watcher(new.watch, self._on_watch_event, known=self.store.cards.files)
            self.watcher.seed(handled)
            self.metrics.set_roots(str(r.path.absolute()) for r in new.watch.roots)  # issue 13
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
