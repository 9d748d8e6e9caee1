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
from kinod.card_outputs import finish_card, verify_before_analysis
from kinod.config import Config, ConfigError, load_config
from kinod.jobs.executor import LocalExecutor, ProcessExecutor
from kinod.jobs.lease import is_local_and_dead, make_owner
from kinod.jobs.scheduler import Limits, Scheduler, limits_for
from kinod.jobs.store import JobStore
from kinod.jobs.tasks import Task, TaskOutcome
from kinod.metrics import Metrics, MetricsServer
from kinod.pipeline import ClipError, ClipProcessor, make_runner, output_dir_for
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
        #: MHL verification of cards being analysed, for their report when the last clip is done.
        self.verifications: dict[str, Any] = {}

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
        self.metrics = Metrics(self.store, self.processor.classes, [str(r.path.absolute()) for r in cfg.watch.roots])
        self.server: MetricsServer | None = None
        if cfg.metrics.enabled and not self.once:
            self.server = MetricsServer(cfg.metrics.listen, self.metrics, self.health)
            self.server.start()
            log.info("metrics listening", address=self.server.address)
        adopted = self._dist_start()  # issue 17: before _recover, which would requeue them
        self._recover()
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
        self.watcher = Watcher(cfg.watch, self._on_watch_event, known=self.store.card_files)
        self.watcher.seed(self.store.card_files())
        self._install_signals()
        self._start_thread(self._intake_loop, "kinod-intake")
        self._start_thread(self._scheduler_loop, "kinod-scheduler")
        if self.once:
            return self._run_once()
        self.watcher.start()
        roots = ", ".join(f"{p} ({m})" for p, (m, _w) in self.watcher.modes().items())
        self.notifier.ready(f"watching {roots}")
        log.info("kinod running", roots=[str(r.path) for r in cfg.watch.roots], output=str(cfg.output.root))
        try:
            self._main_loop()
        finally:
            self._shutdown()
        return 0

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
        from kinod.jobs.worker import model_hashes

        self._dist = DramatiqExecutor(self.config, model_hashes(self.processor))
        self.metrics.registry.register(DistCollector(self._dist))
        outbox = self._dist.outbox_tasks()
        moved = self.store.adopt_leases([t.key for t, _q, _e in outbox], self.owner, self.config.jobs.lease_seconds)
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
        )

    def _run_task(self, task: Task, cancelled: Any) -> TaskOutcome:
        # through self so a SIGHUP-reloaded processor takes the next task
        return self.processor.run_task(task, cancelled)

    def _recover(self) -> None:
        """After a crash: take back what dead local daemons held; plan again after a config change."""
        dead = [o for o in self.store.running_owners() if is_local_and_dead(o)]
        if dead:
            back = self.store.release_leases(
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
        rows = self.store.query(
            "SELECT fingerprint FROM clips WHERE state IN ('new','queued','running')"
            " AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.fingerprint=clips.fingerprint AND j.state IN"
            " ('queued','running')) AND NOT EXISTS (SELECT 1 FROM passes p WHERE p.fingerprint=clips.fingerprint"
            " AND p.state IN ('queued','running'))"
        )
        for r in rows:  # their work ended but the sidecar was never written
            self.intake.put(("finalize", r["fingerprint"]))

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
                if kind == "ready":
                    self._take_card(arg)
                elif kind == "seen":
                    self._card_seen(arg)
                elif kind == "finalize":
                    self._finalize(arg)
                elif kind == "replan":
                    n = self.processor.replan_known(owner=self.owner)
                    self.store.set_meta("plan", arg)
                    log.info("planned known clips again after a config change", clips=n)
                    self.scheduler.notify()
            except Exception as e:  # one bad card or clip must not stop intake
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
            self._card_changed(ev)
        elif isinstance(ev, WatchProblem):
            self.metrics.errors.labels(ev.kind).inc()
        elif isinstance(ev, RootState):
            self.metrics.root_up.labels(str(ev.root)).set(1 if ev.up else 0)
            self.metrics.root_polling.labels(str(ev.root)).set(1 if ev.mode == "poll" else 0)
        elif isinstance(ev, ScanDone) and not ev.roots_down:
            self.metrics.last_scan.set(ev.at)

    def _card_changed(self, ev: CardChanged) -> None:
        fps: dict[str, str] = {}
        changed = "changed (still being copied?) while it was processed; cancelled, it runs again once settled"
        deleted = "was deleted (or moved away) while it was processed; cancelled"
        for p, why in [(p, changed) for p in ev.changed] + [(p, deleted) for p in ev.removed]:
            row = self.store.clip_by_path(str(p))
            if row is None:
                continue
            if self.store.is_settled(row["fingerprint"]):
                # Moved or deleted after it was done: results stay by content, and the path's
                # record stays until the content is finalized at a new path (a rename), which
                # then removes the old outputs (ClipProcessor._remove_renamed).
                continue
            fps[row["fingerprint"]] = f"{p}: the file {why}"
        for fp, reason in fps.items():
            log.warning("cancelling work on a changed file", reason=reason)
            self.store.set_clip_state(fp, "cancelled", reason)
            self.metrics.errors.labels("vanished" if "deleted" in reason else "changed_while_processing").inc()
        for fp, reason in fps.items():
            self.scheduler.cancel_fingerprints([fp], reason)

    def _card_seen(self, ev: CardSeen) -> None:
        c = ev.card
        row = self.store.query("SELECT state FROM cards WHERE key=?", (c.key,))
        if not row or row[0]["state"] in ("done", "failed"):
            self.store.upsert_card(
                c.key, root=str(c.root), path=str(c.path), name=c.name, loose=c.loose, state="settling"
            )

    def _take_card(self, ev: CardReady) -> None:
        c = ev.card
        self.store.upsert_card(
            c.key, root=str(c.root), path=str(c.path), name=c.name, loose=c.loose, state="ready", clips=len(ev.clips)
        )
        rank = self.store.card_rank(c.key)
        problems: list[str] = []
        if not c.loose:
            verification = verify_before_analysis(self.config, c.path)
            if verification is not None and not verification.ok:
                why = verification.summary()
                log.error("card failed verification: not analysed", card=str(c.path), error=why)
                self.metrics.errors.labels("verification").inc()
                self.store.upsert_card(
                    c.key, root=str(c.root), path=str(c.path), name=c.name, loose=c.loose, state="failed",
                    files=ev.files, clips=len(ev.clips), error=why,
                )
                self.store.set_card_state(c.key, "failed")
                self.metrics.cards_done.labels("failed").inc()
                finish_card(self.config, c.path, [], verification)
                return
            self.verifications[str(c.path)] = verification
        for clip in ev.clips:
            if self.stop_event.is_set() and not self.once:
                return  # not recorded as handled: the next start plans it again
            rel = clip.relative_to(c.path).as_posix()
            sig = ev.files.get(rel)
            known = self.store.clip_by_path(str(clip))
            if (
                known is not None
                and sig is not None
                and (known["path_size"], known["path_mtime_ns"]) == sig
                and known["state"] in ("done", "failed", "queued", "running")
            ):
                continue
            try:
                plan = self.processor.enqueue_clip(
                    clip,
                    output_dir_for(clip, self.config),
                    card=c.name,
                    card_path=str(c.path),
                    card_rank=rank,
                    owner=self.owner,
                    parts=ev.parts.get(clip),
                )
            except ClipError as e:
                problems.append(str(e))
                kind = "vanished" if not clip.exists() else "unreadable"
                self.metrics.errors.labels(kind).inc()
                log.error("cannot read clip", error=str(e))
                self.processor.write_error_sidecar(clip, output_dir_for(clip, self.config), str(e), c.name, None)
                continue
            if plan.queued or plan.pass_queued:
                self.metrics.clips_queued.inc()
            if plan.needs_finalize:
                self._finalize(plan.fingerprint, only=str(clip))
        self.store.upsert_card(
            c.key,
            root=str(c.root),
            path=str(c.path),
            name=c.name,
            loose=c.loose,
            state="queued",
            files=ev.files,
            clips=len(ev.clips),
            error="; ".join(problems) or None,
        )
        self.scheduler.notify()
        self._check_card(str(c.path), c.key, failed_reads=len(problems))

    def _finalize(self, fp: str, only: str | None = None) -> None:
        try:
            out = self.processor.finalize(fp, only=only)
        except (ClipError, OSError, ValueError) as e:
            self.metrics.errors.labels("finalize").inc()
            log.error("cannot write the clip's outputs", fingerprint=fp, error=str(e))
            return
        if out.error and "file is gone" in out.error:
            self.metrics.errors.labels("vanished").inc()
        for row in self.store.paths_of(fp):
            if row["card_path"] and (only is None or row["path"] == only):
                keys = self.store.query(
                    "SELECT key FROM cards WHERE path=? ORDER BY updated DESC LIMIT 1", (row["card_path"],)
                )
                if keys:
                    self._check_card(row["card_path"], keys[0]["key"])

    def _check_card(self, card_path: str, key: str, failed_reads: int = 0) -> None:
        progress = self.store.card_progress(card_path)
        if any(progress.get(s) for s in ("new", "queued", "running")):
            return
        rows = self.store.query("SELECT state, last_error FROM cards WHERE key=?", (key,))
        if not rows or rows[0]["state"] not in ("queued", "ready"):
            return
        failed = failed_reads or rows[0]["last_error"] or any(progress.get(s) for s in ("failed", "missing"))
        state = "failed" if failed else "done"
        self.store.set_card_state(key, state)
        self.metrics.cards_done.labels(state).inc()
        log.info("card finished", card=card_path, state=state, clips=progress)
        loose = self.store.query("SELECT loose FROM cards WHERE key=?", (key,))
        if loose and not loose[0]["loose"]:
            rows = self.store.query("SELECT sidecar FROM clip_paths WHERE card_path=? AND sidecar IS NOT NULL",
                                    (card_path,))
            finish_card(self.config, Path(card_path), [Path(r["sidecar"]) for r in rows],
                        self.verifications.pop(card_path, None))

    # Main thread ------------------------------------------------------------------------------
    def health(self) -> tuple[bool, dict[str, Any]]:
        """/healthz and the watchdog: alive while the scheduler loop ticks."""
        sched = getattr(self, "scheduler", None)
        age = time.monotonic() - sched.alive_at if sched is not None else 0.0
        ok = age < STALL_SECONDS and not self.stop_event.is_set()
        running = len(sched.running) if sched is not None else 0
        return ok, {"status": "ok" if ok else "stalled", "scheduler_tick_age_s": round(age, 1), "running": running}

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
        counts = self.store.counts()
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
                if self.intake.empty() and not self._intake_busy.is_set() and self.scheduler.idle():
                    time.sleep(0.3)  # let a last finalize land
                    if self.intake.empty() and not self._intake_busy.is_set():
                        break
        finally:
            self._shutdown()
        return 0

    def _shutdown(self) -> None:
        self.notifier.stopping(f"stopping: {len(self.scheduler.running)} task(s) get {self.grace:.0f} s to finish")
        log.info("shutting down", running=len(self.scheduler.running), grace_s=self.grace)
        self.watcher.stop()
        self.stop_event.set()
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
        except (ConfigError, ConfigConflict) as e:
            log.error("reload refused; keeping the running config", error=str(e))
            self.notifier.ready(f"reload refused: {e}")
            return
        if (new.metrics.listen, new.metrics.enabled) != (self.config.metrics.listen, self.config.metrics.enabled):
            log.warning("metrics.listen/enabled changes need a restart; keeping the running server")
        old = self.config
        self.config = new
        logs.configure(new.logging.level, new.logging.format)
        self.processor = ClipProcessor(new, self.store)
        if isinstance(self.executor, ProcessExecutor):
            self.executor.replace_factory(functools.partial(make_runner, new))
        self.metrics.add_analyzers(self.processor.classes)
        limits, _why = limits_for(new.jobs.cpu_workers, new.jobs.gpu_workers, new.jobs.device, new.jobs.gpu_memory_mb)
        self.metrics.set_limits(limits.cpu_slots, limits.gpu_slots)
        self.scheduler.update_limits(limits, new.jobs.max_attempts, new.jobs.newest_card_first, new.jobs.queue_size)
        self.scheduler.cpu_fallback = new.jobs.oom_cpu_fallback
        if new.watch != old.watch:
            handled = self.watcher.handled()
            self.watcher.stop()
            self.watcher = Watcher(new.watch, self._on_watch_event, known=self.store.card_files)
            self.watcher.seed(handled)
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
