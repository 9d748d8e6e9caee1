"""Executors run tasks; the scheduler decides which and when.

The interface is deliberately narrow (submit, cancel, poll, shutdown) and speaks only
in :class:`~kinod.jobs.tasks.Task` and :class:`~kinod.jobs.tasks.TaskOutcome`, plain
data that can cross a process or network boundary. So a distributed executor (a
queue on an existing engine, workers on GPU boxes) plugs in without touching the
scheduler: it submits the task to its engine, and ``poll`` returns outcomes as they
come back.

:class:`LocalExecutor` is the embedded default: a pool of threads on this machine.
Threads are enough here because the heavy lifting happens outside the GIL: ffmpeg
decodes in its own process, OpenCV and the model runtimes release the GIL, and the
scheduler never runs more tasks than it has slots for. :class:`ProcessExecutor` runs
tasks in worker processes instead (``jobs.executor = "process"``), for analyzers whose
native code might crash or that hold the GIL.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as EventType
from typing import Protocol

import structlog

from kinod.jobs.tasks import Task, TaskOutcome

log = structlog.get_logger(__name__)

#: Runs one task to the end; checks ``cancelled()`` now and then and stops early if it says so.
TaskRunner = Callable[[Task, Callable[[], bool]], TaskOutcome]


class Executor(Protocol):
    def submit(self, task: Task) -> None:
        """Start a task (already claimed in the store by the scheduler)."""

    def cancel(self, key: str) -> None:
        """Ask a running task to stop; its outcome still comes back through ``poll``."""

    def poll(self, timeout: float = 0.0) -> list[TaskOutcome]:
        """Outcomes of finished tasks, waiting up to ``timeout`` seconds for the first one."""
        ...

    def shutdown(self, grace_s: float) -> list[TaskOutcome]:
        """Stop: wait up to ``grace_s`` for running tasks, cancel the rest; returns every outcome not yet polled."""
        ...


class LocalExecutor:
    """Runs tasks on a pool of daemon threads that grows to the number of tasks running at once.

    Worker threads are kept between tasks: starting a thread per task costs a GIL
    round trip that the scheduler would pay on every dispatch.
    """

    def __init__(self, runner: TaskRunner) -> None:
        self.runner = runner
        self._outcomes: queue.Queue[TaskOutcome] = queue.Queue()
        self._todo: queue.Queue[tuple[Task, threading.Event] | None] = queue.Queue()
        self._running: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._idle = 0

    def submit(self, task: Task) -> None:
        stop = threading.Event()
        with self._lock:
            self._running[task.key] = stop
            grow = self._idle == 0
            if not grow:
                self._idle -= 1
        if grow:
            t = threading.Thread(target=self._work, name=f"kinod-worker-{len(self._workers) + 1}", daemon=True)
            self._workers.append(t)
            t.start()
        self._todo.put((task, stop))

    def _work(self) -> None:
        while True:
            item = self._todo.get()
            if item is None:
                return
            task, stop = item
            self._run(task, stop)
            with self._lock:
                self._idle += 1

    def _run(self, task: Task, stop: threading.Event) -> None:
        t0 = time.monotonic()
        try:
            with structlog.contextvars.bound_contextvars(task=task.kind, analyzer=task.analyzer, clip=task.path):
                outcome = self.runner(task, stop.is_set)
        except BaseException as e:  # a runner bug must come back as an outcome, not vanish with the thread
            log.error("task crashed", error=repr(e), trace=traceback.format_exc(limit=5))
            outcome = TaskOutcome(task.key, "failed", f"{task.path}: {task.analyzer}: internal error: {e!r}", True)
        if not outcome.elapsed_s:
            outcome.elapsed_s = time.monotonic() - t0
        with self._lock:
            self._running.pop(task.key, None)
        self._outcomes.put(outcome)

    def cancel(self, key: str) -> None:
        with self._lock:
            stop = self._running.get(key)
        if stop is not None:
            stop.set()

    def running(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def poll(self, timeout: float = 0.0) -> list[TaskOutcome]:
        out: list[TaskOutcome] = []
        try:
            out.append(self._outcomes.get(timeout=timeout) if timeout > 0 else self._outcomes.get_nowait())
        except queue.Empty:
            return out
        while True:
            try:
                out.append(self._outcomes.get_nowait())
            except queue.Empty:
                return out

    def shutdown(self, grace_s: float) -> list[TaskOutcome]:
        deadline = time.monotonic() + grace_s
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            left = list(self._running.values())
        for stop in left:
            stop.set()
        # cancelled tasks get a moment to notice (the decode pass checks every 16 frames)
        deadline = time.monotonic() + 5.0
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in self._workers:
            self._todo.put(None)
        return self.poll()


def process_cpu() -> float:
    """CPU seconds of this process and the children it has waited for (ffmpeg)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when its parent goes (after ``kill -9`` of the daemon).

    Otherwise an orphaned worker would finish its task and write the same analysis
    cache as the task's second attempt under the restarted daemon.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent was already gone before prctl
        os._exit(1)


def _worker_main(factory: Callable[[], TaskRunner], conn: Connection, stop: EventType) -> None:
    """A worker process: build the runner once, then run the tasks the parent sends until None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the daemon decides when workers stop
    _die_with_parent()
    runner = factory()
    start_cpu = process_cpu()  # reported with the first outcome: kinod's own cost, not the task's
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        t0, c0 = time.monotonic(), process_cpu()
        try:
            outcome = runner(task, stop.is_set)
        except BaseException as e:
            outcome = TaskOutcome(task.key, "failed", f"{task.path}: {task.analyzer}: internal error: {e!r}", True)
        if not outcome.elapsed_s:
            outcome.elapsed_s = time.monotonic() - t0
        outcome.cpu_s = process_cpu() - c0  # this process runs one task at a time: all of it is the task's
        outcome.start_cpu_s, start_cpu = start_cpu, 0.0
        conn.send(outcome)


@dataclass
class _Worker:
    proc: BaseProcess
    conn: Connection
    stop: EventType
    task: Task | None = None
    #: Built from an old factory (before a config reload): leaves after its current task.
    retiring: bool = False


class ProcessExecutor:
    """Runs each task in a long-lived worker process (``multiprocessing``, forkserver).

    What threads cannot give: an analyzer that crashes the interpreter (a segfault in a
    native library, an out-of-memory kill) takes down one worker, whose task comes back
    as a retriable failure, not the daemon; and Python-heavy analyzers do not share one
    GIL. Workers are started on demand, up to the number of tasks running at once, and
    kept; each builds its runner once from ``factory`` (a picklable callable), so models
    are loaded once per worker. Outcomes travel back pickled, as a remote executor's would.
    """

    def __init__(self, factory: Callable[[], TaskRunner], preload: tuple[str, ...] = ("kinod.run.processor",)) -> None:
        self.factory = factory
        self.ctx = multiprocessing.get_context("forkserver")
        self.ctx.set_forkserver_preload(list(preload))
        self._workers: list[_Worker] = []
        self._pending: list[TaskOutcome] = []
        self._next_factory: Callable[[], TaskRunner] | None = None

    def replace_factory(self, factory: Callable[[], TaskRunner]) -> None:
        """A reloaded config: new workers use ``factory``; old ones leave once idle.

        May be called from any thread: it takes effect at the next :meth:`poll`, on the
        scheduler's thread, which owns the workers.
        """
        self._next_factory = factory

    def _apply_factory(self) -> None:
        factory, self._next_factory = self._next_factory, None
        if factory is not None:
            self.factory = factory
            for w in self._workers:
                w.retiring = True

    def _retire_idle(self) -> None:
        for w in [w for w in self._workers if w.retiring and w.task is None]:
            with contextlib.suppress(OSError):
                w.conn.send(None)
            self._workers.remove(w)

    def _idle_worker(self) -> _Worker:
        for w in self._workers:
            if w.task is None and not w.retiring and w.proc.is_alive():
                return w
        parent, child = self.ctx.Pipe()
        stop = self.ctx.Event()
        proc = self.ctx.Process(
            target=_worker_main,
            args=(self.factory, child, stop),
            daemon=True,
            name=f"kinod-worker-{len(self._workers) + 1}",
        )
        proc.start()
        child.close()
        w = _Worker(proc, parent, stop)
        self._workers.append(w)
        return w

    def submit(self, task: Task) -> None:
        w = self._idle_worker()
        w.task = task
        w.stop.clear()
        try:
            w.conn.send(task)
        except OSError as e:
            w.task = None
            self._pending.append(TaskOutcome(task.key, "failed", f"worker process unreachable: {e}", True))

    def cancel(self, key: str) -> None:
        for w in self._workers:
            if w.task is not None and w.task.key == key:
                w.stop.set()

    def running(self) -> list[str]:
        return [w.task.key for w in self._workers if w.task is not None]

    def poll(self, timeout: float = 0.0) -> list[TaskOutcome]:
        self._apply_factory()
        out, self._pending = self._pending, []
        busy = {w.conn: w for w in self._workers if w.task is not None}
        if not busy:
            if timeout and not out:
                time.sleep(timeout)
            return out
        for conn in wait(list(busy), timeout=0 if out else timeout):
            w = busy[conn]
            task = w.task
            assert task is not None
            try:
                outcome = conn.recv()
            except (EOFError, OSError):
                w.proc.join(timeout=5)
                code = w.proc.exitcode
                why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
                outcome = TaskOutcome(
                    task.key, "failed", f"{task.path}: {task.analyzer}: worker process died ({why})", retriable=True
                )
                self._workers.remove(w)
            w.task = None
            out.append(outcome)
        self._retire_idle()
        return out

    def shutdown(self, grace_s: float) -> list[TaskOutcome]:
        out: list[TaskOutcome] = []
        deadline = time.monotonic() + grace_s
        while self.running() and time.monotonic() < deadline:
            out += self.poll(min(0.2, max(0.01, deadline - time.monotonic())))
        for w in self._workers:
            if w.task is not None:
                w.stop.set()
        deadline = time.monotonic() + 5.0
        while self.running() and time.monotonic() < deadline:
            out += self.poll(0.1)
        for w in list(self._workers):
            if w.task is not None:  # did not notice the cancel: stop it the hard way
                w.proc.kill()
                out += self.poll(1.0)
        for w in self._workers:
            with contextlib.suppress(OSError):
                w.conn.send(None)
            w.proc.join(timeout=5)
            if w.proc.is_alive():
                w.proc.kill()
        self._workers = []
        return out + self._pending
