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

It knows tasks, slots and states, never what an analyzer computes.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import structlog

from kinod.jobs.executor import Executor
from kinod.jobs.store import JobStore
from kinod.jobs.tasks import Need, Task, TaskOutcome

log = structlog.get_logger(__name__)

#: Passes run before model analyzers (lower runs first).
PASS_PRIORITY = 0
MODEL_PRIORITY = 10
#: Without news, the queue is re-read from SQLite this often (picks up ``kinod retry``).
REFILL_SECONDS = 1.0


@dataclass(frozen=True)
class Limits:
    cpu_slots: int
    gpu_slots: int = 0
    #: GPU memory that may be reserved, MiB; 0 = unknown (only slots limit GPU tasks).
    gpu_memory_mb: int = 0

    @property
    def has_gpu(self) -> bool:
        return self.gpu_slots > 0


def gpu_memory_mb() -> int | None:
    """Total memory of the first NVIDIA GPU, or None when there is none (or no driver tools)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run(
            [smi, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else ""
    return int(float(first)) if first.replace(".", "", 1).isdigit() else None


def limits_for(cpu_workers: int, gpu_workers: int, device: str, configured_gpu_mb: int) -> tuple[Limits, str]:
    """Slots for this machine under ``[jobs]``, and a sentence saying why."""
    if device == "cpu" or gpu_workers == 0:
        return Limits(cpu_workers), "GPU not used (jobs.device = 'cpu' or jobs.gpu_workers = 0)"
    total = gpu_memory_mb()
    if total is None:
        why = "no NVIDIA GPU found (nvidia-smi)"
        if device == "cuda":
            why += "; jobs.device = 'cuda' but GPU tasks will run on the CPU"
        return Limits(cpu_workers), why
    mem = configured_gpu_mb or total
    return Limits(cpu_workers, gpu_workers, mem), f"GPU with {total} MiB, planning for {mem} MiB"


class Slots:
    """CPU slots, GPU slots and GPU memory in use."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.cpu = 0
        self.gpu = 0
        self.gpu_mem = 0

    def cpu_need(self, task: Task) -> int:
        return max(1, min(task.need.cpu, self.limits.cpu_slots))

    def fits(self, task: Task) -> bool:
        if task.on_gpu:
            mem_ok = not self.limits.gpu_memory_mb or self.gpu_mem + task.need.gpu_mem_mb <= self.limits.gpu_memory_mb
            return self.gpu + max(1, task.need.gpu) <= self.limits.gpu_slots and mem_ok
        return self.cpu + self.cpu_need(task) <= self.limits.cpu_slots

    def take(self, task: Task) -> None:
        if task.on_gpu:
            self.gpu += max(1, task.need.gpu)
            self.gpu_mem += task.need.gpu_mem_mb
        else:
            self.cpu += self.cpu_need(task)

    def give(self, task: Task) -> None:
        if task.on_gpu:
            self.gpu -= max(1, task.need.gpu)
            self.gpu_mem -= task.need.gpu_mem_mb
        else:
            self.cpu -= self.cpu_need(task)


@dataclass(frozen=True)
class Decision:
    state: str  # done | failed | queued | cancelled
    options: dict[str, Any] | None = None
    note: str | None = None
    count_attempt: bool = True


def decide(task: Task, outcome: TaskOutcome, max_attempts: int, cpu_fallback: bool) -> Decision:
    """What happens to a task after its outcome: the retry and out-of-memory policy."""
    if outcome.status in ("done", "cancelled"):
        return Decision(outcome.status)
    oom = outcome.oom
    if oom is not None:
        if oom.retry_batch_size and task.on_gpu:
            note = f"CUDA out of memory at batch_size={oom.batch_size}; retrying with batch_size={oom.retry_batch_size}"
            return Decision("queued", {**task.options, "batch_size": oom.retry_batch_size}, note, False)
        if task.on_gpu and cpu_fallback:
            note = f"CUDA out of memory ({oom.message}); retrying on the CPU"
            return Decision("queued", {**task.options, "device": "cpu"}, note, False)
        why = "jobs.oom_cpu_fallback is off" if task.on_gpu else "it ran on the CPU"
        return Decision("failed", None, f"out of memory and no smaller retry left ({why})")
    if outcome.retriable and task.attempts < max_attempts:
        return Decision("queued", None, f"attempt {task.attempts} of {max_attempts} failed; retrying")
    return Decision("failed")


class SchedulerObserver(Protocol):
    """What the scheduler reports (metrics implement it)."""

    def task_started(self, task: Task) -> None: ...
    def task_finished(self, task: Task, outcome: TaskOutcome, state: str) -> None: ...
    def slots(self, cpu: int, gpu: int, gpu_mem_mb: int, queued_in_memory: int) -> None: ...
    def overhead(self, seconds: float, cpu_seconds: float, dispatched: int) -> None: ...


class TaskFiller(Protocol):
    """The coordinator's side of a self-contained task (see :mod:`kinod.run.task_facts`)."""

    def blocked(self, task: Task) -> bool: ...
    def fill(self, task: Task) -> Task: ...


class _Quiet:
    def task_started(self, task: Task) -> None:
        return None

    def task_finished(self, task: Task, outcome: TaskOutcome, state: str) -> None:
        return None

    def slots(self, cpu: int, gpu: int, gpu_mem_mb: int, queued_in_memory: int) -> None:
        return None

    def overhead(self, seconds: float, cpu_seconds: float, dispatched: int) -> None:
        return None


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
        self.observer: SchedulerObserver = observer or _Quiet()
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
            self.store.heartbeat(self.owner, self.lease_seconds)
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
            self.store.cancel_fingerprints(fps, reason)
        self.queue = [t for t in self.queue if t.fingerprint not in fps]
        self._dirty = True

    def _reap(self) -> None:
        back = self.store.release_leases(
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
        rows = self.store.next_tasks(
            self.queue_size, newest_first=self.newest_first, exclude=self.running, fingerprints=self.scope
        )
        self.queue = [self._task(r) for r in rows]
        self._more = len(rows) >= self.queue_size
        self._dirty = False
        self._last_refill = now

    def _task(self, row: Any) -> Task:
        options = json.loads(row["options"]) if row["options"] else {}
        need = Need(int(row["cpu"]), int(row["gpu"]), int(row["gpu_mem_mb"]))
        on_gpu = (
            need.gpu > 0
            and self.limits.has_gpu
            and options.get("device") != "cpu"
            and (not self.limits.gpu_memory_mb or need.gpu_mem_mb <= self.limits.gpu_memory_mb)
        )
        return Task(
            key=row["key"],
            kind=row["kind"],
            fingerprint=row["fingerprint"],
            path=row["path"],
            analyzer=row["analyzer"],
            need=need,
            priority=int(row["priority"]),
            attempts=int(row["attempts"]),
            device="cuda" if on_gpu else "cpu",
            options=options,
            card=row["card"],
            version=row["version"] or "",
            config_hash=row["config_hash"] or "",
            model_sha256=row["model_sha256"],
            files=json.loads(row["parts"]) if row["parts"] else None,
        )

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
            rows = self.store.claim(task.key, self.owner, self.lease_seconds)
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
        stream = {r["analyzer"]: r["key"] for r in rows}
        need_cache = self.store.needs_cache(fp)
        if not stream and not need_cache:
            self.store.finish_pass(
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
            self.store.finish_pass(
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
            self.store.finish_job(
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
        self.observer.task_finished(task, outcome, decision.state)
        if decision.state == "queued" or (task.kind == "pass" and outcome.clip.get("cache")):
            self._dirty = True  # it is back in the queue, or model jobs of the clip can run now
        if decision.state != "queued" and self.store.is_settled(task.fingerprint):
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
            self.store.release_leases(owners=[self.owner], reason="daemon stopped; requeued", count_attempt=False)
            self.running.clear()
        return requeued

    # --- issue 17: tasks adopted from a dead coordinator's outbox ----------------------------
    def adopt(self, tasks: Iterable[Task]) -> None:
        """Count tasks already running elsewhere (their leases were moved to us) as ours."""
        for task in tasks:
            if task.key not in self.running:
                self.slots.take(task)
                self.running[task.key] = task
