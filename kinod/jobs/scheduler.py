"""The scheduler: takes queued work from the store and runs it within the machine's means.

* **Slots.** At most ``jobs.cpu_workers`` CPU slots and ``jobs.gpu_workers`` GPU slots
  are taken at once, and GPU tasks never reserve more GPU memory (their analyzer's
  ``Resources.gpu_mem_mb``) than there is. A GPU task that does not fit waits while
  CPU tasks behind it go ahead.
* **Priority.** Decode passes (probe, stream analyzers, proxies, the analysis cache)
  come before model analyzers, so every clip gets its cheap results and its cache
  early; then the newest card first (``jobs.newest_card_first``), then the oldest job.
* **Backpressure.** Only the best ``jobs.queue_size`` tasks are held in memory; the
  rest wait in SQLite, so a 10 000-clip card costs rows, not RAM.
* **Durability.** A task is claimed in the store under a lease before it starts, the
  lease is renewed while it runs, and every outcome is written before the slot is
  given back. Work of a dead daemon goes back to the queue (see :mod:`kinod.jobs.lease`).
* **Self-contained tasks.** Before a task goes to its executor, the coordinator's
  :class:`TaskFiller` adds what its runner reads from the store (the clip's facts,
  other analyzers' results), so executors in other processes or on other machines
  never open the state file. A model task whose input still runs waits in the queue.
* **Out of memory.** A GPU task that runs out of memory is retried with the smaller
  batch its analyzer suggests, then on the CPU when ``jobs.oom_cpu_fallback`` allows,
  and the job's note and event log say what was done.

It knows tasks, slots and states, never what an analyzer computes. The slot accounting
lives in :mod:`kinod.jobs.slots`, the retry and out-of-memory policy in
:mod:`kinod.jobs.retry_policy`, the observer and filler protocols in
:mod:`kinod.jobs.scheduler_hooks`; their names are importable from here too.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import structlog

from kinod.jobs.executor import Executor
from kinod.jobs.retry_policy import Decision, decide
from kinod.jobs.scheduler_hooks import QuietObserver, SchedulerObserver, TaskFiller
from kinod.jobs.slots import Limits, Slots, gpu_memory_mb, limits_for, task_from_row
from kinod.jobs.store import JobStore
from kinod.jobs.tasks import Task, TaskOutcome

__all__ = [
    "MODEL_PRIORITY",
    "PASS_PRIORITY",
    "REFILL_SECONDS",
    "Decision",
    "Limits",
    "Scheduler",
    "SchedulerObserver",
    "Slots",
    "TaskFiller",
    "decide",
    "gpu_memory_mb",
    "limits_for",
]

log = structlog.get_logger(__name__)

#: Passes run before model analyzers (lower runs first).
PASS_PRIORITY = 0
MODEL_PRIORITY = 10
#: Without news, the queue is re-read from SQLite this often (picks up ``kinod retry``).
REFILL_SECONDS = 1.0


class Scheduler:
    """Drive with :meth:`tick` from one thread; other threads talk to it through its methods."""

    def __init__(
        self,
        store: JobStore,
        executor: Executor,
        *,
        owner: str,
        limits: Limits,
        lease_seconds: float = 120.0,
        max_attempts: int = 3,
        newest_first: bool = True,
        queue_size: int = 64,
        cpu_fallback: bool = True,
        observer: SchedulerObserver | None = None,
        on_settled: Callable[[str], None] | None = None,
        scope: set[str] | None = None,
        facts: TaskFiller | None = None,
    ) -> None:
        self.store = store
        #: Fills a task's facts before it is submitted (None: executors read them themselves).
        self.facts = facts
        self.executor = executor
        self.owner = owner
        self.limits = limits
        self.slots = Slots(limits)
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.newest_first = newest_first
        self.queue_size = queue_size
        self.cpu_fallback = cpu_fallback
        self.observer: SchedulerObserver = observer or QuietObserver()
        self.on_settled = on_settled or (lambda fp: None)
        #: Only these clips (``kinod scan`` runs one clip's tasks, not the daemon's queue).
        self.scope = scope
        self.accepting = True
        self.running: dict[str, Task] = {}
        self.queue: list[Task] = []
        self._commands: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._cancel_reason: dict[str, tuple[str, bool]] = {}
        self._dirty = True
        self._more = True
        self._last_refill = 0.0
        self._last_heartbeat = time.monotonic()
        self._last_reap = 0.0
        self._deadline = 0.0
        self.alive_at = time.monotonic()
        self._lock = threading.Lock()

    # Talking to the scheduler from other threads -----------------------------------------
    def notify(self) -> None:
        """New work was queued in the store: refill on the next tick."""
        self._commands.put(("refill", None))

    def cancel_fingerprints(self, fps: Iterable[str], reason: str) -> None:
        """Stop running work of these clips and cancel their queued work."""
        self._commands.put(("cancel", (list(fps), reason)))

    def update_limits(self, limits: Limits, max_attempts: int, newest_first: bool, queue_size: int) -> None:
        self._commands.put(("limits", (limits, max_attempts, newest_first, queue_size)))

    # The loop ---------------------------------------------------------------------------------
    def tick(self, wait: float = 0.2) -> int:
        """One round: outcomes, commands, leases, then start what fits. Returns tasks started."""
        outcomes = self.executor.poll(wait)
        t0, c0 = time.perf_counter(), time.thread_time()
        self.alive_at = time.monotonic()
        for o in outcomes:
            self._finish(o)
        self._run_commands()
        now = time.monotonic()
        if now - self._last_heartbeat >= self.lease_seconds / 3:
            self.store.queue.heartbeat(self.owner, self.lease_seconds)
            self._last_heartbeat = now
        if now - self._last_reap >= max(1.0, self.lease_seconds / 2):
            self._reap()
            self._last_reap = now
        started = self._dispatch() if self.accepting else 0
        self.observer.slots(self.slots.cpu, self.slots.gpu, self.slots.gpu_mem, len(self.queue))
        self.observer.overhead(time.perf_counter() - t0, time.thread_time() - c0, started)
        return started

    def idle(self) -> bool:
        """Nothing running and nothing runnable queued (``run --once`` exits on this)."""
        if self.running:
            return False
        self._refill(force=True)
        return not self.queue

    def _run_commands(self) -> None:
        while True:
            try:
                cmd, arg = self._commands.get_nowait()
            except queue.Empty:
                return
            if cmd == "refill":
                self._dirty = True
            elif cmd == "cancel":
                fps, reason = arg
                self._cancel(set(fps), reason, requeue=False)
            elif cmd == "limits":
                self.limits, self.max_attempts, self.newest_first, self.queue_size = arg
                self.slots.limits = self.limits
                self._dirty = True

    def _cancel(self, fps: set[str], reason: str, requeue: bool) -> None:
        for key, task in list(self.running.items()):
            if task.fingerprint in fps:
                self._cancel_reason[key] = (reason, requeue)
                self.executor.cancel(key)
        if not requeue:
            self.store.queue.cancel_fingerprints(fps, reason)
        self.queue = [t for t in self.queue if t.fingerprint not in fps]
        self._dirty = True

    def _reap(self) -> None:
        back = self.store.queue.release_leases(
            expired_before=time.time(),
            max_attempts=self.max_attempts,
            reason="lease expired (worker lost?)",
            not_owner=self.owner,
        )
        if back:
            log.warning("took back work with expired leases", tasks=len(back))
            self._dirty = True

    # Dispatch ---------------------------------------------------------------------------------
    def _refill(self, force: bool = False) -> None:
        """Re-read the best tasks from SQLite: on news, when the queue runs low, or now and then."""
        now = time.monotonic()
        low = len(self.queue) <= self.queue_size // 2 and self._more
        if not (force or self._dirty or low or now - self._last_refill >= REFILL_SECONDS):
            return
        rows = self.store.queue.next_tasks(
            self.queue_size, newest_first=self.newest_first, exclude=self.running, fingerprints=self.scope
        )
        self.queue = [self._task(r) for r in rows]
        self._more = len(rows) >= self.queue_size
        self._dirty = False
        self._last_refill = now

    def _task(self, row: Any) -> Task:
        return task_from_row(row, self.limits)

    def _full(self) -> bool:
        s, lim = self.slots, self.limits
        return s.cpu >= lim.cpu_slots and (not lim.has_gpu or s.gpu >= lim.gpu_slots)

    def _dispatch(self) -> int:
        if self._full():
            return 0
        self._refill()
        started = 0
        # A clip's model job that does not fit holds back that clip's later-priority model
        # jobs: they may read its result (categories reads speech, which wants both CPU
        # slots), so backfilling them into a free slot would run them without it.
        held: dict[str, int] = {}
        for task in list(self.queue):
            if task.kind != "pass" and task.priority > held.get(task.fingerprint, task.priority):
                continue
            if self.facts is not None and self.facts.blocked(task):
                held[task.fingerprint] = min(task.priority, held.get(task.fingerprint, task.priority))
                continue  # what it reads still runs: its result goes out with the task
            if not self.slots.fits(task):
                if task.kind != "pass":
                    held[task.fingerprint] = min(task.priority, held.get(task.fingerprint, task.priority))
                continue
            self.queue.remove(task)
            rows = self.store.queue.claim(task.key, self.owner, self.lease_seconds)
            if rows is None:
                continue  # someone else took it, or it was cancelled meanwhile
            if task.kind == "pass":
                task = self._pass_task(task, rows)
                if task is None:
                    continue
            else:
                task = replace(task, attempts=task.attempts + 1)
            if self.facts is not None:
                task = self.facts.fill(task)
            self.slots.take(task)
            self.running[task.key] = task
            self.observer.task_started(task)
            self.executor.submit(task)
            started += 1
            if self._full():
                break
        return started

    def _pass_task(self, task: Task, rows: list[Any]) -> Task | None:
        fp = task.fingerprint
        stream = {r.analyzer: r.key for r in rows}
        need_cache = self.store.queue.needs_cache(fp)
        if not stream and not need_cache:
            self.store.queue.finish_pass(
                fp, self.owner, state="done", error=None, records={}, failures={}, clip={}, note="nothing left to do"
            )
            self._settled(fp)
            return None
        options = {"stream": stream, "cache": need_cache}
        return replace(task, options=options, attempts=task.attempts + 1)

    # Outcomes ---------------------------------------------------------------------------------
    def _finish(self, outcome: TaskOutcome) -> None:
        task = self.running.pop(outcome.key, None)
        if task is None:
            log.warning("outcome for a task that is not running here", key=outcome.key)
            return
        self.slots.give(task)
        reason, requeue = self._cancel_reason.pop(task.key, (None, False))
        if outcome.status == "cancelled" and requeue:
            decision = Decision("queued", None, reason, count_attempt=False)
        else:
            decision = decide(task, outcome, self.max_attempts, self.cpu_fallback)
        # a task we cancelled: our reason says why (the task only knows it was stopped)
        error = reason if (reason and outcome.status == "cancelled") else outcome.error
        note = " ".join(n for n in (outcome.note, decision.note) if n) or None
        if task.kind == "pass":
            stream = task.options.get("stream", {})
            self.store.queue.finish_pass(
                task.fingerprint,
                self.owner,
                state=decision.state,
                error=error,
                records={a: (stream[a], r) for a, r in outcome.records.items() if a in stream},
                failures={a: (stream[a], m) for a, m in outcome.failures.items() if a in stream},
                clip=outcome.clip,
                note=note,
                count_attempt=decision.count_attempt,
            )
        else:
            self.store.queue.finish_job(
                task.key,
                self.owner,
                state=decision.state,
                error=error if decision.state != "done" else None,
                record=outcome.records.get(task.analyzer),
                options=decision.options,
                note=note,
                count_attempt=decision.count_attempt,
            )
        if decision.note:
            log.warning("task will be retried", key=task.key, analyzer=task.analyzer, note=decision.note)
        log.info(
            "task done",
            key=task.key,
            kind=task.kind,
            analyzer=task.analyzer,
            state=decision.state,
            seconds=round(outcome.elapsed_s, 3),
            cpu_s=round(outcome.cpu_s, 3),
            media_s=round(outcome.media_seconds, 3),
            hook_cpu={a: round(c, 3) for a, c in outcome.hook_cpu.items()},
            start_cpu_s=round(outcome.start_cpu_s, 3),
        )
        self.observer.task_finished(task, outcome, decision.state)
        if decision.state == "queued" or (task.kind == "pass" and outcome.clip.get("cache")):
            self._dirty = True  # it is back in the queue, or model jobs of the clip can run now
        if decision.state != "queued" and self.store.queue.is_settled(task.fingerprint):
            self._settled(task.fingerprint)

    def _settled(self, fp: str) -> None:
        try:
            self.on_settled(fp)
        except Exception as e:  # the callback belongs to someone else; never stop the loop for it
            log.exception("settled callback failed", fingerprint=fp, error=str(e))

    # Stopping ---------------------------------------------------------------------------------
    def stop_accepting(self) -> None:
        self.accepting = False
        self.queue = []

    def hurry(self) -> None:
        """End a :meth:`drain` grace period now (a second SIGTERM)."""
        self._deadline = 0.0

    def drain(self, grace_s: float) -> list[str]:
        """Shutdown: let running tasks finish within ``grace_s``, then stop and requeue the rest."""
        self.stop_accepting()
        self._deadline = time.monotonic() + grace_s
        while self.running and time.monotonic() < self._deadline:
            for o in self.executor.poll(min(0.2, max(0.01, self._deadline - time.monotonic()))):
                self._finish(o)
        requeued = list(self.running)
        for key in requeued:
            self._cancel_reason[key] = ("daemon stopped before the task finished; requeued", True)
        for o in self.executor.shutdown(0.0):
            self._finish(o)
        # Tasks that did not even notice the cancel: their leases go back now, not after expiry.
        left = list(self.running)
        if left:
            self.store.queue.release_leases(owners=[self.owner], reason="daemon stopped; requeued", count_attempt=False)
            self.running.clear()
        return requeued

    # Tasks adopted from a dead coordinator's outbox ----------------------------------------
    def adopt(self, tasks: Iterable[Task]) -> None:
        """Count tasks already running elsewhere (their leases were moved to us) as ours."""
        for task in tasks:
            if task.key not in self.running:
                self.slots.take(task)
                self.running[task.key] = task
