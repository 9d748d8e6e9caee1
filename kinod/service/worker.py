"""``kinod worker``: runs tasks from the broker's queues on any machine that mounts the storage.

A worker never opens the job store nor writes a sidecar: a task carries everything its
runner reads (the coordinator filled it in, see :mod:`kinod.run.task_facts`), so the
worker needs the broker, the footage or the analysis cache, and the shared folder of
the run's files (``state.shared_dir``), nothing of the coordinator's ``state.dir``. It
runs the task with the same :class:`~kinod.run.task_runner.TaskRunner` as the daemon,
writes the outcome as a result file on the shared storage (atomically) and sends a
completion message; the coordinator records it. Duplicate deliveries are harmless: a
claim file decides who runs a task (see :mod:`kinod.jobs.dist_files`).

Dramatiq settings: prefetch 1 per queue (a long job must not sit on messages another
worker could take), no time limit and no retries (see :mod:`kinod.jobs.broker`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from typing import Any

import dramatiq
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from kinod import __version__
from kinod.config import Config
from kinod.jobs.broker import RESULT_ACTOR, RESULTS_QUEUE, TASK_ACTOR, make_broker, message, safe_url
from kinod.jobs.dist_files import DistFiles, task_from_json
from kinod.jobs.paths_map import PathMap
from kinod.jobs.registry_workers import WorkerInfo, remove_record, write_record
from kinod.jobs.tasks import Task, TaskOutcome
from kinod.run.analyzer_set import AnalyzerSet
from kinod.run.task_runner import TaskRunner

#: How many ports from the configured one a "host:port+" metrics address tries.
METRICS_PORT_SCAN = 32

log = structlog.get_logger(__name__)


def model_hashes(analyzers: AnalyzerSet) -> dict[str, str | None]:
    """analyzer -> sha256 of its model file (None for analyzers without a model)."""
    return analyzers.model_hashes()


def to_worker(task: Task, pmap: PathMap) -> Task:
    """The task with every path in it as this worker mounts the storage."""
    if not pmap:
        return task
    m = pmap.to_worker
    return replace(
        task,
        path=m(task.path),
        files=pmap.deep_to_worker(task.files),
        out_dir=m(task.out_dir) if task.out_dir else task.out_dir,
        cache_dir=m(task.cache_dir) if task.cache_dir else task.cache_dir,
        card_path=m(task.card_path) if task.card_path else task.card_path,
        probe=pmap.deep_to_worker(task.probe),
        results=pmap.deep_to_worker(task.results),
    )


class WorkerMetrics:
    """The worker's own /metrics: jobs, durations, current job, GPU memory."""

    def __init__(self, worker_id: str) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.jobs = Counter("kinod_worker_jobs", "Tasks this worker finished", ["worker", "kind", "status"], registry=r)
        self.duration = Histogram(
            "kinod_worker_job_seconds",
            "Task run time on this worker",
            ["worker", "kind"],
            buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 14400),
            registry=r,
        )
        self.current = Gauge("kinod_worker_running", "Tasks running now", ["worker"], registry=r)
        self.info = Gauge(
            "kinod_worker_current_job", "1 for the job running now", ["worker", "key", "analyzer"], registry=r
        )
        self.gpu_mem = Gauge("kinod_worker_gpu_memory_used_bytes", "GPU memory in use (torch)", ["worker"], registry=r)
        self.refused = Counter(
            "kinod_worker_refused", "Deliveries refused (model hash differs, duplicate)", ["worker", "why"], registry=r
        )
        self.worker_id = worker_id
        self.worker_info = Gauge(
            "kinod_worker_info",
            "1 while this worker runs; its host and queues",
            ["worker", "host", "queues"],
            registry=r,
        )
        self.slots = Gauge(
            "kinod_worker_slots", "Tasks this worker can run at once (its threads)", ["worker"], registry=r
        )
        self._zero(worker_id)

    def _zero(self, w: str) -> None:
        """Every series from the start, at zero: increase() over a counter born mid-run misses its first tasks."""
        for kind in ("pass", "model"):
            self.duration.labels(w, kind)
            for status in ("done", "failed", "cancelled"):
                self.jobs.labels(w, kind, status)
        for why in ("withdrawn", "model_hash", "duplicate"):
            self.refused.labels(w, why)
        self.current.labels(w).set(0)
        self.gpu_mem.labels(w).set(0)

    def describe(self, host: str, queues: list[str], threads: int) -> None:
        """What the dashboard's per-worker panels and the KinodWorkerDown alert name."""
        self.worker_info.labels(self.worker_id, host, ",".join(queues)).set(1)
        self.slots.labels(self.worker_id).set(threads)

    def scrape(self) -> bytes:
        torch = sys.modules.get("torch")
        if torch is not None and getattr(torch, "cuda", None) is not None and torch.cuda.is_available():
            self.gpu_mem.labels(self.worker_id).set(torch.cuda.memory_allocated())
        return generate_latest(self.registry)


def gpu_info() -> dict[str, Any]:
    """Name and memory of the first NVIDIA GPU (empty when none)."""
    from shutil import which

    smi = which("nvidia-smi")
    if smi is None:
        return {}
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        name, mem = out.stdout.strip().splitlines()[0].rsplit(",", 1)
        return {"name": name.strip(), "memory_mb": int(float(mem))}
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return {}


class WorkerProcess:
    def __init__(self, config: Config, queues: list[str], threads: int, metrics_listen: str | None = None) -> None:
        self.config = config
        self.queues = queues
        self.threads = threads
        self.metrics_listen = config.worker.metrics_listen if metrics_listen is None else metrics_listen
        self.id = config.worker.name or f"{socket.gethostname()}-{os.getpid()}"
        self.dist = DistFiles(config.state.shared).ensure()
        self.pmap = PathMap.from_config(config.paths.map)
        self.timeout = config.broker.heartbeat_timeout_seconds
        self.runner = TaskRunner(config)
        self.models = model_hashes(self.runner.analyzers)
        self.metrics = WorkerMetrics(self.id)
        self.metrics.describe(socket.gethostname(), queues, threads)
        self.broker = make_broker(config.broker.url, config.broker.namespace, self.timeout)
        self.current: dict[str, str] = {}
        self.done = 0
        self._lock = threading.Lock()
        self.stop_event = threading.Event()
        self.gpu = gpu_info()

    # Registration ---------------------------------------------------------------------------
    def record(self) -> WorkerInfo:
        with self._lock:
            current = list(self.current)
        return WorkerInfo(
            id=self.id,
            host=socket.gethostname(),
            queues=self.queues,
            analyzers=list(self.runner.analyzers.classes),
            models=self.models,
            version=__version__,
            heartbeat=time.time(),
            gpu=self.gpu,
            current=current,
            done=self.done,
            metrics=self.metrics_listen,
        )

    def _heartbeat_loop(self) -> None:
        every = max(0.2, self.timeout / 4)
        while not self.stop_event.wait(every):
            self._beat()

    def _beat(self) -> None:
        try:
            write_record(self.dist.workers, self.record())
        except OSError as e:
            log.warning("cannot write worker record", error=str(e))
        with self._lock:
            tokens = list(self.current)
        for t in tokens:
            self.dist.beat(t)

    # Tasks --------------------------------------------------------------------------------------
    def handle(self, task_json: dict[str, Any], token: str, expect: dict[str, str | None]) -> None:
        """The actor: one delivery of one task."""
        with structlog.contextvars.bound_contextvars(token=token, worker=self.id):
            if not (self.dist.outbox / f"{token}.json").exists():
                log.info("task already recorded or withdrawn by the coordinator; skipping")
                self.metrics.refused.labels(self.id, "withdrawn").inc()
                return
            if self.dist.result(token) is not None:
                self._complete(token)
                return
            if self.dist.cancelled(token):
                return
            wrong = {a: h for a, h in expect.items() if self.models.get(a, "<not enabled>") != h}
            if wrong:
                log.warning("refusing task: model differs from the coordinator's", analyzers=sorted(wrong))
                self.metrics.refused.labels(self.id, "model_hash").inc()
                queue = str(task_json.get("_queue", "cpu"))
                try:  # back to its queue for a compatible worker (the coordinator re-sends it otherwise)
                    self.broker.enqueue(message(queue, TASK_ACTOR, task_json, token, expect), delay=2000)
                except Exception as e:
                    log.warning("could not put the refused task back", error=str(e))
                return
            if not self.dist.try_claim(token, self.id, self.timeout):
                log.info("another worker runs this task; skipping the duplicate delivery")
                self.metrics.refused.labels(self.id, "duplicate").inc()
                return
            self._run(task_json, token)

    def _run(self, task_json: dict[str, Any], token: str) -> None:
        task = task_from_json({k: v for k, v in task_json.items() if not k.startswith("_")})
        with self._lock:
            self.current[token] = task.key
        self.dist.beat(token)
        self.metrics.current.labels(self.id).inc()
        self.metrics.info.labels(self.id, task.key, task.analyzer).set(1)
        local = to_worker(task, self.pmap)
        log.info("task started", key=task.key, analyzer=task.analyzer, path=local.path)
        t0 = time.monotonic()
        try:
            outcome = self.runner(local, lambda: self.dist.cancelled(token))
        except BaseException as e:
            log.exception("task crashed", error=repr(e))
            outcome = TaskOutcome(task.key, "failed", f"{task.path}: {task.analyzer}: internal error: {e!r}", True)
        outcome.elapsed_s = outcome.elapsed_s or time.monotonic() - t0
        outcome.key = task.key
        if self.pmap:
            outcome.records = self.pmap.deep_to_coordinator(outcome.records)
            outcome.clip = self.pmap.deep_to_coordinator(outcome.clip)
            outcome.error = self.pmap.deep_to_coordinator(outcome.error)
        try:
            self.dist.put_result(token, outcome, self.id)
        except OSError as e:  # the shared storage went away: the claim goes stale, the task is re-sent
            log.error("cannot write the result file; the coordinator will send the task again", error=str(e))
            with self._lock:
                self.current.pop(token, None)
            self.metrics.current.labels(self.id).dec()
            self.metrics.info.remove(self.id, task.key, task.analyzer)
            return
        with self._lock:
            self.current.pop(token, None)
            self.done += 1
        self.metrics.current.labels(self.id).dec()
        self.metrics.info.remove(self.id, task.key, task.analyzer)
        self.metrics.jobs.labels(self.id, task.kind, outcome.status).inc()
        self.metrics.duration.labels(self.id, task.kind).observe(outcome.elapsed_s)
        log.info("task finished", key=task.key, status=outcome.status, seconds=round(outcome.elapsed_s, 3))
        self._complete(token)

    def _complete(self, token: str) -> None:
        """Tell the coordinator; if the broker is down, the result file is found without this."""
        try:
            self.broker.enqueue(message(RESULTS_QUEUE, RESULT_ACTOR, token))
        except Exception as e:
            log.warning("completion message not sent (the coordinator finds the result file)", error=str(e))

    def _metrics_server(self) -> Any:
        """The worker's /metrics; "host:port+" takes the first free port from ``port`` on.

        Several instances of one unit template read the same config: with a trailing "+"
        each finds a port of its own, and its record (and ``kinod status``) says which.
        """
        from kinod.service.metrics import MetricsServer, parse_listen

        listen = self.metrics_listen
        scan = listen.endswith("+")
        host, port = parse_listen(listen.removesuffix("+"))
        for candidate in range(port, port + (METRICS_PORT_SCAN if scan else 1)):
            address = f"{host}:{candidate}"
            try:
                server = MetricsServer(address, self.metrics, lambda: (True, {"worker": self.id}))  # type: ignore[arg-type]
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    raise
                continue
            self.metrics_listen = address
            return server
        raise OSError(
            errno.EADDRINUSE,
            f"metrics port {listen!r} is taken (another worker on this host?): give each worker its own with "
            f"--metrics-listen, the KINOD_WORKER_METRICS_LISTEN environment variable or worker.metrics_listen, "
            f'or end it with "+" (e.g. "127.0.0.1:9465+") to take the next free port',
        )

    # Running ----------------------------------------------------------------------------------
    def run(self) -> int:
        dramatiq.actor(self.handle, actor_name=TASK_ACTOR, queue_name="pass", broker=self.broker)
        server = None
        if self.metrics_listen:
            server = self._metrics_server()
            server.start()
        self._beat()
        hb = threading.Thread(target=self._heartbeat_loop, name="kinod-worker-heartbeat", daemon=True)
        hb.start()
        worker = dramatiq.Worker(
            self.broker,
            queues=set(self.queues),
            worker_threads=self.threads,
            worker_timeout=self.config.worker.idle_poll_ms,
        )
        worker.queue_prefetch = 1
        worker.start()
        log.info(
            "kinod worker running",
            worker=self.id,
            queues=self.queues,
            threads=self.threads,
            broker=safe_url(self.config.broker.url),
        )

        def stop(signum: int, _frame: object) -> None:
            log.info("worker stopping", signal=signal.Signals(signum).name)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stop_event.wait()
        worker.stop(timeout=int(self.config.jobs.shutdown_grace_seconds * 1000))
        remove_record(self.dist.workers, self.id)
        if server is not None:
            server.stop()
        self.broker.close()
        return 0


def run_worker(config: Config, queues: list[str], processes: int, threads: int, config_path: str | None) -> int:
    """One worker in this process, or ``processes`` child processes (each its own broker link)."""
    if processes <= 1:
        return WorkerProcess(config, queues, threads).run()
    procs = []
    listen = config.worker.metrics_listen
    for i in range(processes):
        argv = [sys.executable, "-m", "kinod.cli.main"]
        if config_path:
            argv += ["--config", config_path]
        argv += ["worker", "--queues", ",".join(queues), "--processes", "1", "--threads", str(threads)]
        argv += ["--name", f"{config.worker.name or socket.gethostname()}-{i + 1}"]
        if listen.endswith("+"):
            argv += ["--metrics-listen", listen]  # each child takes the next free port itself
        elif listen:
            host, _, port = listen.rpartition(":")
            argv += ["--metrics-listen", f"{host}:{int(port) + i}"]
        procs.append(subprocess.Popen(argv))

    def forward(signum: int, _frame: object) -> None:
        for p in procs:
            with contextlib.suppress(OSError):
                p.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return max(p.wait() for p in procs)


def worker_command(config: Config, args: Any) -> int:
    queues = [q.strip() for q in (args.queues or ",".join(config.worker.queues)).split(",") if q.strip()]
    bad = [q for q in queues if q not in ("pass", "cpu", "gpu", "proxy")]
    if bad:
        print(f"kinod worker: --queues: unknown queue(s) {', '.join(bad)} (pass, cpu, gpu, proxy)", file=sys.stderr)
        return 2
    processes = args.processes or config.worker.processes
    threads = args.threads or config.worker.threads
    if args.name:
        config = config.model_copy(update={"worker": config.worker.model_copy(update={"name": args.name})})
    # The flag, else the environment (the systemd unit template sets it), else the config.
    listen = args.metrics_listen if args.metrics_listen is not None else os.environ.get("KINOD_WORKER_METRICS_LISTEN")
    if listen is not None:
        config = config.model_copy(update={"worker": config.worker.model_copy(update={"metrics_listen": listen})})
    src = str(config.source) if config.source else None
    if processes > 1:
        return run_worker(config, queues, processes, threads, src)
    try:
        return WorkerProcess(config, queues, threads).run()
    except (OSError, ValueError) as e:  # a taken metrics port, a bad listen address, unwritable dist folder
        print(f"kinod worker: {e}", file=sys.stderr)
        return 2
