"""Prometheus metrics and the health check, served on ``metrics.listen``.

One registry (not prometheus-client's global one) so tests and a future embedded use
never collide, with three kinds of series:

* **counters and histograms** the daemon updates as things happen (jobs finished,
  their durations, media seconds processed, cards seen);
* **gauges read from the state file at scrape time** (jobs by analyzer and state,
  clips and cards by state, the oldest queued job's age, per-card progress), so they
  are right after a restart and when ``kinod retry`` changed the file underneath;
* process and platform facts from prometheus-client's own collectors.

Every labelled series the dashboard and alert rules use is created at start with a
zero, so "no failures yet" is a 0, not a missing series that breaks ``rate()``.

``/healthz`` answers 200 while the scheduler loop is alive, 503 otherwise.
"""

from __future__ import annotations

import json
import platform
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kinod import __version__
from kinod.jobs.store import JobStore
from kinod.jobs.tasks import Task, TaskOutcome

log = structlog.get_logger(__name__)

JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
OUTCOMES = ("done", "failed", "retried", "cancelled")
CLIP_STATES = ("new", "queued", "done", "failed", "cancelled", "missing")
CARD_STATES = ("settling", "ready", "queued", "done", "failed")
#: Seconds: from a 1 s clip's shot detection to an hour of transcription.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
ERROR_KINDS = (
    "unreadable",
    "vanished",
    "changed_while_processing",
    "symlink_loop",
    "dangling_symlink",
    "unreadable_dir",
    "root_unreachable",
    "job_failed",
    "finalize",
    "integrity",
    "disk_full",
)


class StoreCollector(Collector):
    """Gauges computed from the state file when Prometheus scrapes."""

    def __init__(self, store: JobStore, analyzers: Callable[[], Iterable[str]]) -> None:
        self.store = store
        self.analyzers = analyzers

    def describe(self) -> list[Any]:
        return []  # computed per scrape; nothing to check at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily(
            "kinod_jobs", "Jobs in the state file by analyzer and state", labels=["analyzer", "state"]
        )
        counts = self.store.queue.counts()
        names = set(self.analyzers()) | {"pass"} | {a for a, _ in counts}
        for a in sorted(names):
            for s in JOB_STATES:
                jobs.add_metric([a, s], counts.get((a, s), 0))
        yield jobs
        clips = GaugeMetricFamily("kinod_clips", "Clips in the state file by state", labels=["state"])
        cstates = self.store.clips.states()
        for s in sorted(set(CLIP_STATES) | set(cstates)):
            clips.add_metric([s], cstates.get(s, 0))
        yield clips
        cards = GaugeMetricFamily("kinod_cards", "Cards in the state file by state", labels=["state"])
        kstates = self.store.cards.states()
        for s in sorted(set(CARD_STATES) | set(kstates)):
            cards.add_metric([s], kstates.get(s, 0))
        yield cards
        per_card = GaugeMetricFamily(
            "kinod_card_jobs", "Jobs per card (busy or recent cards) by state", labels=["card", "state"]
        )
        for card, state, n in self.store.cards.job_states():
            per_card.add_metric([card, state], n)
        yield per_card
        yield GaugeMetricFamily(
            "kinod_oldest_queued_job_age_seconds",
            "Age of the oldest queued job or pass (0 when none waits)",
            value=self.store.queue.oldest_queued_age(),
        )


class Metrics:
    """The daemon's metrics; also the scheduler's observer."""

    def __init__(self, store: JobStore | None, analyzers: Iterable[str], roots: Iterable[str] = ()) -> None:
        # "_created" series double the output and no dashboard uses them
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.analyzers = ["pass", *analyzers]
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        Info("kinod_build", "kinod version and platform", registry=r).info(
            {"version": __version__, "python": platform.python_version()}
        )
        self.cards_seen = Counter("kinod_cards_seen", "Cards the watcher noticed", registry=r)
        self.cards_ready = Counter("kinod_cards_ready", "Cards found copy-complete and handed on", registry=r)
        self.cards_done = Counter("kinod_cards_done", "Cards whose every clip is finished", ["outcome"], registry=r)
        self.files_detected = Counter("kinod_files_detected", "Files the watcher noticed in cards", registry=r)
        self.clips_queued = Counter("kinod_clips_queued", "Clips planned with work to do", registry=r)
        self.jobs_started = Counter("kinod_jobs_started", "Tasks started, by analyzer", ["analyzer"], registry=r)
        self.jobs_finished = Counter(
            "kinod_jobs_finished", "Tasks finished, by analyzer and outcome", ["analyzer", "outcome"], registry=r
        )
        self.job_duration = Histogram(
            "kinod_job_duration_seconds",
            "Wall time of tasks by analyzer",
            ["analyzer"],
            registry=r,
            buckets=DURATION_BUCKETS,
        )
        self.media_seconds = Counter(
            "kinod_media_seconds_processed", "Seconds of footage decoded by passes", registry=r
        )
        self.realtime = Gauge(
            "kinod_realtime_factor",
            "Media seconds per wall second of the last task, by analyzer",
            ["analyzer"],
            registry=r,
        )
        self.oom = Counter("kinod_oom_retries", "Out-of-memory retries, by analyzer", ["analyzer"], registry=r)
        self._cost_and_progress(r)
        self.cpu_slots = Gauge("kinod_cpu_slots", "CPU slots the scheduler may fill", registry=r)
        self.cpu_in_use = Gauge("kinod_cpu_slots_in_use", "CPU slots taken by running tasks", registry=r)
        self.gpu_slots = Gauge("kinod_gpu_slots", "GPU slots the scheduler may fill", registry=r)
        self.gpu_in_use = Gauge("kinod_gpu_slots_in_use", "GPU slots taken by running tasks", registry=r)
        self.gpu_mem = Gauge("kinod_gpu_memory_reserved_bytes", "GPU memory reserved by running tasks", registry=r)
        self.queue_mem = Gauge("kinod_queue_in_memory", "Tasks held in the in-memory queue", registry=r)
        self.sched_seconds = Counter(
            "kinod_scheduler_seconds", "Wall time the scheduler spent on bookkeeping (not running tasks)", registry=r
        )
        self.sched_cpu = Counter(
            "kinod_scheduler_cpu_seconds", "CPU time of the scheduler thread on bookkeeping", registry=r
        )
        self.sched_dispatched = Counter("kinod_scheduler_dispatched", "Tasks the scheduler started", registry=r)
        self.last_scan = Gauge(
            "kinod_last_successful_scan_timestamp_seconds",
            "When a full rescan of every root last succeeded",
            registry=r,
        )
        self.errors = Counter("kinod_errors", "Problems with input or storage, by kind", ["kind"], registry=r)
        self.root_up = Gauge("kinod_watch_root_up", "1 while a watch root is reachable", ["root"], registry=r)
        self.root_polling = Gauge(
            "kinod_watch_root_polling", "1 if a root is polled, 0 for inotify", ["root"], registry=r
        )
        self.started = Gauge("kinod_start_time_seconds", "When this daemon started", registry=r)
        self.storage_full = Gauge(
            "kinod_storage_full", "1 while the output or state file system is full and intake is paused", registry=r
        )
        self.started.set(time.time())
        for a in self.analyzers:
            self._init_analyzer(a)
        for o in ("done", "failed"):
            self.cards_done.labels(o)
        for k in ERROR_KINDS:
            self.errors.labels(k)
        for root in roots:  # 0 until the watcher has looked at it
            self.root_up.labels(root)
            self.root_polling.labels(root)
        if store is not None:
            r.register(StoreCollector(store, lambda: list(self.analyzers)))

    def _cost_and_progress(self, r: CollectorRegistry) -> None:
        """What each analyzer costs (in-pass ones included) and when each card should be done."""
        self.analyzer_cpu = Counter(
            "kinod_analyzer_cpu_seconds",
            "CPU time by analyzer; in-pass analyzers: their hooks' share of the pass",
            ["analyzer"],
            registry=r,
        )
        self.card_eta_s = Gauge(
            "kinod_card_eta_seconds",
            "Seconds until a card in progress is done, at its clips' rate",
            ["card"],
            registry=r,
        )

    def _init_analyzer(self, a: str) -> None:
        self.jobs_started.labels(a)
        for o in OUTCOMES:
            self.jobs_finished.labels(a, o)
        self.job_duration.labels(a)
        self.realtime.labels(a)
        self.oom.labels(a)
        self.analyzer_cpu.labels(a)

    def add_analyzers(self, names: Iterable[str]) -> None:
        for n in names:
            if n not in self.analyzers:
                self.analyzers.append(n)
                self._init_analyzer(n)

    def set_roots(self, roots: Iterable[str]) -> None:
        """Export exactly these watch roots: a root removed by a reload stops
        exporting ``kinod_watch_root_up 0``, which would keep the shipped alert firing."""
        keep = set(roots)
        for gauge in (self.root_up, self.root_polling):
            for (label,) in list(gauge._metrics):  # prometheus-client keeps its children there
                if label not in keep:
                    gauge.remove(label)
        for root in keep:
            self.root_up.labels(root)
            self.root_polling.labels(root)

    def card_eta(self, card: str, eta_s: float | None) -> None:
        """A card's ETA; None (done, or nothing finished yet) removes its series."""
        if eta_s is not None:
            self.card_eta_s.labels(card).set(eta_s)
        elif (card,) in self.card_eta_s._metrics:  # prometheus-client keeps its children there
            self.card_eta_s.remove(card)

    def set_limits(self, cpu: int, gpu: int) -> None:
        self.cpu_slots.set(cpu)
        self.gpu_slots.set(gpu)

    # SchedulerObserver ---------------------------------------------------------------------
    def task_started(self, task: Task) -> None:
        self.jobs_started.labels(task.analyzer).inc()
        # stream analyzers run inside a pass start with it, so started and
        # finished add up per analyzer (their finished count is raised in task_finished)
        if task.kind == "pass":
            for name in (task.options or {}).get("stream", {}) or {}:
                if name != task.analyzer:
                    self.jobs_started.labels(name).inc()

    def task_finished(self, task: Task, outcome: TaskOutcome, state: str) -> None:
        a = task.analyzer
        label = "retried" if state == "queued" else state
        self.jobs_finished.labels(a, label).inc()
        if outcome.oom is not None and state == "queued":
            self.oom.labels(a).inc()
        if state == "failed":
            self.errors.labels("job_failed").inc()
        if outcome.problem:
            self.errors.labels(outcome.problem).inc()
        for name, cpu in outcome.hook_cpu.items():
            self.analyzer_cpu.labels(name).inc(cpu)
        if outcome.cpu_s > 0:  # measured where one process runs one task: the rest of it is the task's own
            self.analyzer_cpu.labels(a).inc(max(0.0, outcome.cpu_s - sum(outcome.hook_cpu.values())))
        if outcome.status == "done":
            self.job_duration.labels(a).observe(outcome.elapsed_s)
            if outcome.elapsed_s > 0 and outcome.media_seconds > 0:
                self.realtime.labels(a).set(outcome.media_seconds / outcome.elapsed_s)
            if task.kind == "pass":
                self.media_seconds.inc(outcome.media_seconds)
        # stream analyzers that ran inside a pass count as finished jobs of their own
        for name in outcome.records:
            if name != a:
                self.jobs_finished.labels(name, "done").inc()
        for name in outcome.failures:
            self.jobs_finished.labels(name, "failed").inc()
        if task.kind == "pass":  # a pass that ended early ends its stream analyzers with it
            for name in (task.options or {}).get("stream", {}) or {}:
                if name != a and name not in outcome.records and name not in outcome.failures:
                    self.jobs_finished.labels(name, label).inc()

    def slots(self, cpu: int, gpu: int, gpu_mem_mb: int, queued_in_memory: int) -> None:
        self.cpu_in_use.set(cpu)
        self.gpu_in_use.set(gpu)
        self.gpu_mem.set(gpu_mem_mb * 1024 * 1024)
        self.queue_mem.set(queued_in_memory)

    def overhead(self, seconds: float, cpu_seconds: float, dispatched: int) -> None:
        self.sched_seconds.inc(seconds)
        self.sched_cpu.inc(cpu_seconds)
        if dispatched:
            self.sched_dispatched.inc(dispatched)

    def scrape(self) -> bytes:
        return generate_latest(self.registry)


Health = Callable[[], tuple[bool, dict[str, Any]]]


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) -> (host, port); ValueError names the setting."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"metrics.listen = {listen!r}: expected host:port, e.g. 127.0.0.1:9464")
    return host.strip("[]") or "0.0.0.0", int(port)


def is_loopback(host: str) -> bool:
    """True for names and addresses that only this machine can reach."""
    import ipaddress

    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MetricsServer:
    """A small threaded HTTP server: ``/metrics`` and ``/healthz``."""

    def __init__(self, listen: str, metrics: Metrics, health: Health) -> None:
        host, port = parse_listen(listen)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    try:
                        body, status, ctype = outer.metrics.scrape(), 200, CONTENT_TYPE_LATEST
                    except Exception as e:  # a scrape must not kill the server thread
                        log.error("metrics scrape failed", error=str(e))
                        body, status, ctype = f"scrape failed: {e}\n".encode(), 500, "text/plain"
                elif path == "/healthz":
                    ok, info = outer.health()
                    body, status, ctype = (json.dumps(info) + "\n").encode(), 200 if ok else 503, "application/json"
                else:
                    body, status, ctype = b"kinod: /metrics or /healthz\n", 404, "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.metrics = metrics
        self.health = health
        try:
            self.server = ThreadingHTTPServer((host, port), Handler)
        except OSError as e:
            raise OSError(e.errno, f"metrics.listen = {listen!r}: cannot listen: {e.strerror}") from None
        self.server.daemon_threads = True
        self.address = f"{host}:{self.server.server_address[1]}"
        if not is_loopback(host):  # say so when metrics are reachable from other machines
            log.warning(
                "metrics listen beyond this machine: anyone who can reach it sees paths and card names",
                listen=listen,
                hint='metrics.listen = "127.0.0.1:9464" (the default) keeps it local; put a proxy in front',
            )
        self._thread = threading.Thread(target=self.server.serve_forever, name="kinod-metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
