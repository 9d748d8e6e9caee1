"""The coordinator's side of ``jobs.executor = "dramatiq"``: tasks out to queues, outcomes back from files.

It is an :class:`~kinod.jobs.executor.Executor` like the others, so the scheduler, the
store and the sidecar writing stay as they are: the scheduler claims a task in SQLite
and submits it here; this sends it to its queue (``pass``, ``proxy``, ``cpu``,
``gpu``); a worker runs it and leaves a result file; :meth:`poll` hands the outcome
back and the scheduler records it. Only this process writes the store and sidecars.

Nothing is lost when something dies, because nothing depends on the broker keeping
its messages (see :mod:`kinod.jobs.dist_files`):

* a worker dies: its claim stops beating; Dramatiq redelivers the unacked message
  after the broker's heartbeat timeout, and this executor also re-sends it, the first
  delivery takes over the stale claim, later ones see a fresh claim and do nothing;
* Redis loses its data (restart without persistence): the epoch key this executor
  set is gone, so every task in flight without a result or a live claim is re-sent;
* the coordinator dies: its outbox lists what was in flight; the next coordinator
  adopts those leases in SQLite (:meth:`adopt`) and collects their result files,
  instead of running them again.

A task whose queue has no live compatible worker (see
:mod:`kinod.jobs.registry_workers`) is *held* here, not sent, and shows in
``kinod status`` (``dist/held.json``) and in ``kinod_dist_jobs_held``.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import structlog
from prometheus_client.core import GaugeMetricFamily

from kinod.config import Config
from kinod.jobs.broker import QUEUES, RESULTS_QUEUE, TASK_ACTOR, epoch_key, make_broker, message, redis_client
from kinod.jobs.dist_files import DistFiles, task_from_json, token_of
from kinod.jobs.registry_workers import Fleet
from kinod.jobs.tasks import Task, TaskOutcome
from kinod.media.fsutil import atomic_write_json

log = structlog.get_logger(__name__)

#: How often the fleet, the held tasks, the claims and the Redis epoch are looked at.
CHECK_EVERY_S = 0.5


@dataclass
class Flight:
    task: Task
    token: str
    queue: str
    expect: dict[str, str | None]
    sent_at: float | None = None
    #: Why it is not sent (no live compatible worker; the broker is unreachable).
    held: str | None = None


class DramatiqExecutor:
    def __init__(self, config: Config, models: dict[str, str | None]) -> None:
        self.config = config
        self.models = models
        self.dist = DistFiles(config.state.shared).ensure()
        self.timeout = config.broker.heartbeat_timeout_seconds
        self.fleet = Fleet(self.dist.workers, self.timeout, models)
        self.broker = make_broker(config.broker.url, config.broker.namespace, self.timeout)
        self.redis = redis_client(self.broker)
        self.epoch: str | None = None
        self.flights: dict[str, Flight] = {}  # token -> flight
        #: Tokens whose outcomes the last poll handed out; their files go at the next poll.
        self._collected: list[str] = []
        self._consumer: Any = None
        self._last_check = 0.0
        self._held_written: Any = None
        self.broker_up = True
        self.resent = 0
        self.send_seconds: list[float] = []
        self._epoch_lost()  # take the marker as it is now: only a later loss means lost messages

    def set_models(self, models: dict[str, str | None]) -> None:
        """A reloaded config: tasks sent from now on expect these model hashes (thread-safe swap)."""
        self.models = models
        self.fleet.models = models

    # Routing ------------------------------------------------------------------------------------
    def _route(self, task: Task) -> tuple[Task, str, list[str]]:
        """The queue for a task (and the task placed on the CPU when no GPU worker may take it)."""
        if task.kind == "pass":
            analyzers = sorted(task.options.get("stream", {}))
            return task, ("proxy" if self.config.proxy.enabled else "pass"), analyzers
        if task.on_gpu:
            if self.fleet.route("gpu", [task.analyzer]) is None or self.config.jobs.device == "cuda":
                return task, "gpu", [task.analyzer]
            return replace(task, device="cpu"), "cpu", [task.analyzer]
        return task, "cpu", [task.analyzer]

    # Executor interface ---------------------------------------------------------------------------
    def submit(self, task: Task) -> None:
        self.fleet.refresh()
        task, queue, analyzers = self._route(task)
        token = token_of(task)
        f = Flight(task, token, queue, {a: self.models.get(a) for a in analyzers})
        self.dist.put_outbox(token, task, queue, f.expect)
        self.flights[token] = f
        self._send(f)
        if f.held:
            self._write_held()  # `kinod status` says so at once

    def _send(self, f: Flight, probe: bool = False) -> bool:
        """Send (or hold) one task; True when the broker took it."""
        why = self.fleet.route(f.queue, list(f.expect))
        if why is not None:
            if f.held != why:
                log.warning("task held", key=f.task.key, queue=f.queue, why=why)
            f.held = why
            return False
        if not self.broker_up and not probe:  # one connect timeout per check, not one per task
            f.held = f.held if f.held and f.held.startswith("broker") else "broker unreachable"
            return False
        t0 = time.perf_counter()
        try:
            body = {**f.task.to_json(), "_queue": f.queue}
            self.broker.enqueue(message(f.queue, TASK_ACTOR, body, f.token, f.expect))
        except Exception as e:  # broker unreachable: keep it, send when it is back
            f.held = f"broker unreachable: {e}"
            self.broker_up = False
            return False
        self.send_seconds.append(time.perf_counter() - t0)
        del self.send_seconds[:-1000]
        self.broker_up = True
        f.held = None
        f.sent_at = time.time()
        return True

    def cancel(self, key: str) -> None:
        for f in self.flights.values():
            if f.task.key == key:
                self.dist.cancel(f.token)

    def running(self) -> list[str]:
        return [f.task.key for f in self.flights.values()]

    def poll(self, timeout: float = 0.0) -> list[TaskOutcome]:
        self._forget_recorded()
        out = self._collect()
        now = time.monotonic()
        if now - self._last_check >= CHECK_EVERY_S:
            self._last_check = now
            self._check()
            out += self._collect()
        if not out and timeout > 0:
            self._wait_completion(timeout)
            out = self._collect()
        return out

    def shutdown(self, grace_s: float) -> list[TaskOutcome]:
        out: list[TaskOutcome] = []
        deadline = time.monotonic() + grace_s
        while self._sent() and time.monotonic() < deadline:  # held tasks are not waited for
            out += self.poll(min(0.2, max(0.01, deadline - time.monotonic())))
        for f in self.flights.values():
            if f.sent_at is None:  # never left: nothing to wait for
                out.append(TaskOutcome(f.task.key, "cancelled", "the coordinator stopped before it was sent"))
            else:
                self.dist.cancel(f.token)
        for f in [f for f in self.flights.values() if f.sent_at is None]:
            self._drop(f)
        deadline = time.monotonic() + 5.0
        while self.flights and time.monotonic() < deadline:
            out += self.poll(0.2)
        for f in list(self.flights.values()):  # the scheduler requeues these; workers skip them
            self._drop(f)
        self._write_held()
        self.broker.close()
        return out

    def _sent(self) -> bool:
        return any(f.sent_at is not None for f in self.flights.values())

    # Results ------------------------------------------------------------------------------------
    def _drop(self, f: Flight, *, keep_files: bool = False) -> None:
        self.flights.pop(f.token, None)
        if keep_files:
            self._collected.append(f.token)
        else:
            self.dist.forget(f.token)

    def _forget_recorded(self) -> None:
        """Remove the files of outcomes handed out by the previous poll.

        The scheduler records what one poll returns before it polls again, so only then may
        a result's outbox entry and result file go: a coordinator killed in between finds
        them at its next start and collects the result instead of running the task again.
        """
        for token in self._collected:
            self.dist.forget(token)
        self._collected.clear()

    def _collect(self) -> list[TaskOutcome]:
        out = []
        for f in list(self.flights.values()):
            if f.sent_at is None:
                continue
            o = self.dist.result(f.token)
            if o is None:
                continue
            o.key = f.task.key
            out.append(o)
            self._drop(f, keep_files=True)
        return out

    def _wait_completion(self, timeout: float) -> None:
        """Sleep until a completion message arrives (or ``timeout``): it only wakes us up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self._consumer is None:
                    self._consumer = self.broker.consume(RESULTS_QUEUE, prefetch=256, timeout=10)
                msg = next(self._consumer)
                self.broker_up = True
            except Exception as e:
                if self.broker_up:
                    log.warning("broker connection lost; tasks are kept and re-sent when it is back", error=str(e))
                self.broker_up = False
                self._close_consumer()
                time.sleep(max(0.0, min(0.5, deadline - time.monotonic())))
                return
            if msg is not None:
                try:
                    self._consumer.ack(msg)
                except Exception:
                    self._close_consumer()
                return

    def _close_consumer(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                self._consumer.close()
            self._consumer = None

    # Checks: held tasks, dead workers, a broker that lost its data ---------------------------------
    def _check(self) -> None:
        self.fleet.refresh(0.0)
        lost = self._epoch_lost()
        now = time.time()
        probe = not self.broker_up and self.redis is None  # RabbitMQ: the next send tells
        for f in list(self.flights.values()):
            if f.sent_at is None:
                self._send(f, probe=probe)
                probe = False
                continue
            if self.dist.result(f.token) is not None:
                continue
            age = self.dist.claim_age(f.token)
            if age is None:
                if lost:
                    self._resend(f, "the broker lost its messages (restarted without persistence?)")
                continue
            if age > self.timeout and now - f.sent_at > self.timeout:
                self._resend(f, f"its worker stopped beating {age:.0f} s ago")
        self._write_held()

    def _resend(self, f: Flight, why: str) -> None:
        log.warning("re-sending task", key=f.task.key, why=why)
        self.resent += 1
        self._send(f)

    def _epoch_lost(self) -> bool:
        """True once after Redis came back without the marker we left in it (its data is gone)."""
        if self.redis is None:
            return False
        key = epoch_key(self.config.broker.namespace)
        try:
            value = self.redis.get(key)
            if not self.broker_up:
                log.info("broker reachable again")
            self.broker_up = True
            if value is not None and value.decode() == self.epoch:
                return False
            if value is not None and self.epoch is None:  # another coordinator session's marker
                self.epoch = value.decode()
                return False
            self.epoch = self.epoch or uuid.uuid4().hex
            self.redis.set(key, self.epoch)
            return value is None
        except Exception as e:
            if self.broker_up:
                log.warning("broker unreachable", error=str(e))
            self.broker_up = False
            self._close_consumer()
            return False

    # After a coordinator crash ------------------------------------------------------------------------
    def outbox_tasks(self) -> list[tuple[Task, str, dict[str, str | None]]]:
        out = []
        for e in self.dist.outbox_entries():
            try:
                out.append((task_from_json(e["task"]), str(e["queue"]), dict(e.get("expect") or {})))
            except (KeyError, TypeError) as err:
                log.warning("unreadable outbox entry ignored", error=str(err))
        return out

    def adopt(self, tasks: list[tuple[Task, str, dict[str, str | None]]], adopted: set[str]) -> list[Task]:
        """Track the tasks a dead coordinator had in flight (``adopted``: keys the store gave us)."""
        out = []
        for task, queue, expect in tasks:
            token = token_of(task)
            if task.key not in adopted:
                self.dist.forget(token)  # recorded before the crash, or taken back by someone else
                continue
            self.flights[token] = Flight(task, token, queue, expect, sent_at=time.time())
            out.append(task)
        pruned = self.dist.prune(set(self.flights))
        if pruned:
            log.info("removed files of tasks no longer in flight", files=pruned)
        # no claim yet: the message may be in the broker still, or not; re-sending is safe
        for f in self.flights.values():
            if self.dist.claim_age(f.token) is None and self.dist.result(f.token) is None:
                self._send(f)
        if out:
            log.info("adopted tasks in flight from before a restart", tasks=len(out))
        return out

    # Status and metrics ---------------------------------------------------------------------------------
    def held(self) -> list[dict[str, Any]]:
        return [
            {"key": f.task.key, "path": f.task.path, "analyzer": f.task.analyzer, "queue": f.queue, "why": f.held}
            for f in self.flights.values()
            if f.sent_at is None and f.held
        ]

    def _write_held(self) -> None:
        data = {
            "held": self.held(),
            "refused_workers": self.fleet.refused(),
            "broker_up": self.broker_up,
            "at": time.time(),
        }
        summary = json.dumps({k: v for k, v in data.items() if k != "at"}, sort_keys=True)
        if summary != self._held_written:
            atomic_write_json(self.dist.root / "held.json", data)
            self._held_written = summary

    def queue_depths(self) -> dict[str, int]:
        """Messages waiting per queue (Redis only; empty for RabbitMQ or when unreachable)."""
        if self.redis is None:
            return {}
        ns = f"{self.config.broker.namespace}-dramatiq"
        try:
            return {q: int(self.redis.llen(f"{ns}:{q}")) for q in (*QUEUES, RESULTS_QUEUE)}
        except Exception:
            return {}


class DistCollector:
    """``kinod_dist_*`` gauges at scrape time: held jobs, live/refused workers, queue depth, in flight."""

    def __init__(self, executor: DramatiqExecutor) -> None:
        self.ex = executor

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ex = self.ex
        held = GaugeMetricFamily("kinod_dist_jobs_held", "Tasks held: no live compatible worker", labels=["queue"])
        counts: dict[str, int] = dict.fromkeys(QUEUES, 0)
        for h in ex.held():
            counts[h["queue"]] = counts.get(h["queue"], 0) + 1
        for q, n in counts.items():
            held.add_metric([q], n)
        yield held
        inflight = GaugeMetricFamily("kinod_dist_jobs_in_flight", "Tasks sent and not yet recorded", labels=["queue"])
        per: dict[str, int] = dict.fromkeys(QUEUES, 0)
        for f in list(ex.flights.values()):
            if f.sent_at is not None:
                per[f.queue] = per.get(f.queue, 0) + 1
        for q, n in per.items():
            inflight.add_metric([q], n)
        yield inflight
        depth = GaugeMetricFamily("kinod_dist_queue_depth", "Messages waiting in the broker", labels=["queue"])
        for q, n in ex.queue_depths().items():
            depth.add_metric([q], n)
        yield depth
        live = ex.fleet.live()
        refused = ex.fleet.refused()
        workers = GaugeMetricFamily("kinod_dist_workers", "Live workers per queue", labels=["queue", "state"])
        for q in QUEUES:
            ok = sum(1 for w in live if q in w.queues and w.id not in refused)
            workers.add_metric([q, "ok"], ok)
            workers.add_metric([q, "refused"], sum(1 for w in live if q in w.queues and w.id in refused))
        yield workers
        up = GaugeMetricFamily("kinod_dist_broker_up", "1 while the broker answers")
        up.add_metric([], 1.0 if ex.broker_up else 0.0)
        yield up
