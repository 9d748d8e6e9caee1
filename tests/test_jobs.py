"""The job store, leases, the scheduler's slots and priorities, and the out-of-memory policy."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from daemon_harness import make_clip

from kinod.analyzers.base import AnalyzerConfig, ClipInfo, ModelAnalyzer, Needs, Resources, Result
from kinod.analyzers.shots import ShotsAnalyzer
from kinod.analyzers.speech import GpuOutOfMemory
from kinod.config import Config, JobsConfig, OutputConfig, StateConfig
from kinod.jobs.executor import LocalExecutor
from kinod.jobs.lease import is_local_and_dead, make_owner
from kinod.jobs.scheduler import Decision, Limits, Scheduler, decide
from kinod.jobs.store import JobSpec, JobStore, job_key
from kinod.jobs.tasks import Need, OutOfMemory, Task, TaskOutcome
from kinod.media.cards.model import ClipFiles
from kinod.run.processor import ClipProcessor, InlineExecutor

V1_SCHEMA = """
CREATE TABLE clips (fingerprint TEXT PRIMARY KEY, path TEXT NOT NULL, size INTEGER, card TEXT,
    state TEXT NOT NULL DEFAULT 'new', sidecar TEXT, last_error TEXT, updated REAL NOT NULL);
CREATE TABLE jobs (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, analyzer TEXT NOT NULL, version TEXT NOT NULL,
    config_hash TEXT NOT NULL, model_sha256 TEXT, path TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued','running','done','failed','cancelled')),
    priority INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, lease_owner TEXT,
    lease_until REAL, record TEXT, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO clips VALUES ('fp1', '/f/a.mov', 10, NULL, 'done', '/o/a.mov.kino.json', NULL, 1.0);
INSERT INTO jobs VALUES ('k1', 'fp1', 'shots', '1', 'c', NULL, '/f/a.mov', 'done', 0, 1, NULL, NULL, NULL, '{}', 1, 1);
"""


def test_a_schema_1_state_file_is_migrated_in_place(tmp_path: Path) -> None:
    db = tmp_path / "kinod.sqlite"
    con = sqlite3.connect(db)
    con.executescript(V1_SCHEMA)
    con.close()
    store = JobStore(db)
    try:
        assert store.meta("schema_version") == "2"
        row = store.query("SELECT key, state, kind, gpu_mem_mb FROM jobs")[0]
        assert (row["key"], row["state"], row["kind"], row["gpu_mem_mb"]) == ("k1", "done", "stream", 0)
        assert store.clips.get("fp1").cache == "none"
        assert store.queue.done_records({"shots": "k1"}) == {"shots": {}}
    finally:
        store.close()


def _model_spec(fp: str, name: str = "m", **kw: Any) -> JobSpec:
    return JobSpec(job_key(fp, name, "1", "c", None), fp, name, "1", "c", None, f"/f/{fp}.mov", kind="model", **kw)


def _ready_clip(store: JobStore, fp: str, rank: float = 0.0) -> None:
    store.clips.upsert(fp, f"/f/{fp}.mov", 1, None, "queued", card_rank=rank)
    store.clips.set_state(fp, "queued", cache="ready")


def test_leases_expire_back_to_queued_and_give_up_after_max_attempts(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "s.sqlite")
    try:
        _ready_clip(store, "fp")
        spec = _model_spec("fp")
        assert store.queue.enqueue([spec]) == [spec.key]
        assert store.queue.enqueue([spec]) == []  # queued twice is harmless
        for attempt in (1, 2, 3):
            assert [r.key for r in store.queue.next_tasks(10, newest_first=True)] == [spec.key]
            assert store.queue.claim(spec.key, "w:host:1:1", 0.01) is not None
            assert store.queue.claim(spec.key, "other", 10) is None  # held
            time.sleep(0.02)
            back = store.queue.release_leases(expired_before=time.time(), max_attempts=3)
            assert back == [spec.key]
            row = store.query("SELECT state, attempts, last_error FROM jobs")[0]
            assert row["attempts"] == attempt
        assert row["state"] == "failed" and "given up" in row["last_error"]
        events = [e.event for e in store.events(spec.key)]
        assert events == ["queued"] + ["started", "requeued"] * 2 + ["started", "failed"]
    finally:
        store.close()


def test_owners_of_dead_local_processes_are_recognised() -> None:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    assert is_local_and_dead(make_owner("daemon", pid=p.pid))
    me = make_owner("daemon")
    assert not is_local_and_dead(me)
    role, host, pid, start = me.split(":")
    assert is_local_and_dead(f"{role}:{host}:{pid}:{int(start) + 1}")  # pid reused by another process
    assert not is_local_and_dead(f"daemon:another-host:{pid}:{start}")  # a lease of another machine


class Probe:
    """Counts concurrent runs per kind of slot; the runner the executor is given in these tests."""

    def __init__(self, seconds: float = 0.05, fail: Callable[[Task], TaskOutcome | None] | None = None) -> None:
        self.seconds = seconds
        self.fail = fail
        self.lock = threading.Lock()
        self.now = {"cpu": 0, "cuda": 0}
        self.peak = {"cpu": 0, "cuda": 0}
        self.mem = 0
        self.peak_mem = 0
        self.order: list[str] = []

    def __call__(self, task: Task, cancelled: Callable[[], bool]) -> TaskOutcome:
        with self.lock:
            self.order.append(task.key)
            self.now[task.device] += 1
            self.peak[task.device] = max(self.peak[task.device], self.now[task.device])
            if task.on_gpu:
                self.mem += task.need.gpu_mem_mb
                self.peak_mem = max(self.peak_mem, self.mem)
        time.sleep(self.seconds)
        with self.lock:
            self.now[task.device] -= 1
            if task.on_gpu:
                self.mem -= task.need.gpu_mem_mb
        failed = self.fail(task) if self.fail else None
        if failed:
            return failed
        if task.kind == "pass":  # what a pass leaves: stream results and the analysis cache
            records = {name: {"ok": True} for name in task.options.get("stream", {})}
            return TaskOutcome(task.key, "done", records=records, clip={"cache": task.options.get("cache")})
        return TaskOutcome(task.key, "done", records={task.analyzer: {"ok": True}})


def _drain(sched: Scheduler, timeout: float = 30, watch: Callable[[], None] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not sched.idle():
        assert time.monotonic() < deadline, "scheduler did not finish"
        sched.tick(0.01)
        if watch:
            watch()


def test_slots_and_gpu_memory_are_never_oversubscribed(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "s.sqlite")
    try:
        specs = []
        for i in range(6):
            _ready_clip(store, f"c{i}")
            specs.append(_model_spec(f"c{i}", "cpu-model", cpu=1))
            specs.append(_model_spec(f"c{i}", "gpu-model", gpu=1, gpu_mem_mb=600))
        store.queue.enqueue(specs)
        runner = Probe(0.05)
        limits = Limits(cpu_slots=2, gpu_slots=2, gpu_memory_mb=1000)
        sched = Scheduler(store, LocalExecutor(runner), owner="t:h:1:1", limits=limits, queue_size=4)
        _drain(sched)
        assert runner.peak["cpu"] == 2
        assert runner.peak["cuda"] == 1  # two GPU slots, but 2 x 600 MiB do not fit in 1000
        assert runner.peak_mem == 600
        assert store.queue.counts() == {("cpu-model", "done"): 6, ("gpu-model", "done"): 6}
    finally:
        store.close()


def test_a_reader_is_not_backfilled_past_the_job_it_reads(tmp_path: Path) -> None:
    """Speech wants both CPU slots; categories (a later priority of the same clip) reads its
    result, so it must not take the one free slot first. Another clip's job still may."""
    store = JobStore(tmp_path / "s.sqlite")
    try:
        for fp in ("a", "b"):
            _ready_clip(store, fp)
        specs = [
            _model_spec("a", "visual", cpu=1, priority=10),
            _model_spec("a", "speech", cpu=2, priority=10),
            _model_spec("a", "categories", cpu=1, priority=11),
            _model_spec("b", "ocr", cpu=1, priority=10),
        ]
        store.queue.enqueue(specs)
        runner = Probe(0.05)
        sched = Scheduler(store, LocalExecutor(runner), owner="t:h:1:1", limits=Limits(cpu_slots=2), queue_size=8)
        _drain(sched)
        label = {s.key: f"{s.analyzer}:{s.fingerprint}" for s in specs}
        order = [label[k] for k in runner.order]
        assert order.index("speech:a") < order.index("categories:a")
        assert order.index("ocr:b") < order.index("speech:a")  # other clips still fill the free slot
    finally:
        store.close()


def test_passes_first_newest_card_first_and_a_bounded_queue(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "s.sqlite")
    try:
        for i, rank in enumerate([1.0, 3.0, 2.0] * 10):
            fp = f"c{i:02d}"
            store.clips.upsert(fp, f"/f/{fp}.mov", 1, None, "queued", card_rank=rank)
            stream = JobSpec(job_key(fp, "s", "1", "c", None), fp, "s", "1", "c", None, f"/f/{fp}.mov")
            store.queue.enqueue([_model_spec(fp, priority=10), stream], card_rank=rank)
            store.queue.enqueue_pass(fp, f"/f/{fp}.mov", card_rank=rank)
        runner = Probe(0.0)
        sched = Scheduler(store, LocalExecutor(runner), owner="t:h:1:1", limits=Limits(cpu_slots=1), queue_size=5)
        sizes: list[int] = []
        _drain(sched, watch=lambda: sizes.append(len(sched.queue)))
        assert max(sizes) <= 5
        kinds = ["pass" if k.startswith("pass:") else "model" for k in runner.order]
        assert kinds == ["pass"] * 30 + ["model"] * 30
        ranks = [store.clips.get(k.removeprefix("pass:")).card_rank for k in runner.order[:30]]
        assert ranks == sorted(ranks, reverse=True)
        assert store.queue.counts() == {("pass", "done"): 30, ("m", "done"): 30, ("s", "done"): 30}
    finally:
        store.close()


def test_model_jobs_go_clip_by_clip_longest_first_and_passes_in_arrival_order(tmp_path: Path) -> None:
    """Longest first within a card: the last job to start is a short one, so no slot idles at the end;
    clip by clip, so each clip's sidecar lands when its own jobs are done."""
    store = JobStore(tmp_path / "s.sqlite")
    try:
        seconds = {"a": 20.0, "b": 90.0, "c": 60.0, "d": 120.0}
        for fp in seconds:
            store.clips.upsert(fp, f"/f/{fp}.mov", 1, None, "queued", card_rank=1.0)
            jobs = [_model_spec(fp, "categories", priority=11), _model_spec(fp, "faces", priority=10)]
            store.queue.enqueue([*jobs, _model_spec(fp, "ocr", priority=10)], card_rank=1.0)
            store.queue.enqueue_pass(fp, f"/f/{fp}.mov", card_rank=1.0)
        passes = [t.fingerprint for t in store.queue.next_tasks(10, newest_first=False) if t.kind == "pass"]
        assert passes == ["a", "b", "c", "d"]
        for fp, dur in seconds.items():  # each pass leaves the probe and the cache
            store.queue.claim(f"pass:{fp}", "me", 60)
            probe = {"duration_s": dur}
            store.queue.finish_pass(fp, "me", state="done", error=None, records={}, failures={},
                                    clip={"probe": probe, "cache": "ready"})  # fmt: skip
        tasks = store.queue.next_tasks(20, newest_first=False)
        assert [t.fingerprint for t in tasks] == [fp for fp in "dbca" for _ in range(3)]
        assert [t.analyzer for t in tasks][2::3] == ["categories"] * 4  # a clip's reader after what it reads
        store.clips.set_state("a", "queued", probe={"duration_s": 500.0})  # a probe written again counts
        assert store.queue.next_tasks(1, newest_first=False)[0].fingerprint == "a"
    finally:
        store.close()


def test_a_retriable_failure_is_retried_up_to_max_attempts(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "s.sqlite")
    try:
        _ready_clip(store, "fp")
        spec = _model_spec("fp")
        store.queue.enqueue([spec])
        runner = Probe(0.0, fail=lambda t: TaskOutcome(t.key, "failed", "EIO reading the share", retriable=True))
        sched = Scheduler(store, LocalExecutor(runner), owner="t:h:1:1", limits=Limits(1), max_attempts=3)
        _drain(sched)
        row = store.query("SELECT state, attempts, last_error FROM jobs")[0]
        assert (row["state"], row["attempts"], row["last_error"]) == ("failed", 3, "EIO reading the share")
        assert len(runner.order) == 3
    finally:
        store.close()


def test_out_of_memory_policy() -> None:
    gpu = Task("k", "model", "fp", "/p", "speech", device="cuda", options={})
    cpu = Task("k", "model", "fp", "/p", "speech", device="cpu", options={})

    def oom(batch: int | None, retry: int | None, on_cpu: bool) -> TaskOutcome:
        return TaskOutcome("k", "failed", "CUDA out of memory", oom=OutOfMemory(batch, retry, on_cpu, "oom"))

    d = decide(gpu, oom(8, 4, False), 3, True)
    assert d == Decision("queued", {"batch_size": 4}, d.note, False) and "batch_size=4" in (d.note or "")
    d = decide(gpu, oom(1, None, True), 3, True)
    assert d.state == "queued" and d.options == {"device": "cpu"} and not d.count_attempt
    assert decide(gpu, oom(1, None, True), 3, False).state == "failed"  # fallback off
    assert decide(cpu, oom(None, None, True), 3, True).state == "failed"  # already on the CPU
    assert decide(gpu, TaskOutcome("k", "failed", "bad clip"), 3, True).state == "failed"


class OomConfig(AnalyzerConfig):
    batch_size: int = 8
    device: str | None = None
    always_oom_on_gpu: bool = False


class GreedyModel(ModelAnalyzer):
    """A model analyzer that runs out of GPU memory above batch 2 (or always on the GPU)."""

    name: ClassVar[str] = "greedy"
    version: ClassVar[str] = "1"
    needs: ClassVar[Needs] = Needs(cache=True)
    resources: ClassVar[Resources] = Resources(cpu=1, gpu=1, gpu_mem_mb=900)
    Config: ClassVar[type[AnalyzerConfig]] = OomConfig

    def run(self, clip: ClipInfo, cache: Any) -> Result:
        cfg = self.config
        assert isinstance(cfg, OomConfig)
        device = cfg.device or self.runtime.device
        if device == "cuda" and (cfg.batch_size > 2 or cfg.always_oom_on_gpu):
            raise GpuOutOfMemory(cfg.batch_size)
        return Result(summary={"device": device, "batch_size": cfg.batch_size, "samples": cache.audio_samples})


@pytest.mark.parametrize(("always", "expect"), [(False, ("cuda", 2)), (True, ("cpu", 1))])
def test_out_of_memory_retries_smaller_then_on_cpu_through_the_pipeline(
    tmp_path: Path, always: bool, expect: tuple[str, int]
) -> None:
    clip = make_clip(tmp_path / "in" / "a.mov", 1, audio=True)
    config = Config(
        output=OutputConfig(root=tmp_path / "out"),
        state=StateConfig(dir=tmp_path / "var"),
        jobs=JobsConfig(device="cuda"),
        enabled_analyzers=("shots", "greedy"),
        analyzer_configs={"greedy": OomConfig(always_oom_on_gpu=always)},
    )
    store = JobStore(tmp_path / "var" / "kinod.sqlite")
    try:
        proc = ClipProcessor(config, store, classes=[ShotsAnalyzer, GreedyModel])
        plan = proc.enqueue_clip(ClipFiles.alone(clip), tmp_path / "out")
        settled: list[str] = []
        sched = Scheduler(
            store,
            InlineExecutor(proc.run_task),
            owner="t:h:1:1",
            limits=Limits(cpu_slots=1, gpu_slots=1, gpu_memory_mb=4000),
            on_settled=settled.append,
        )
        _drain(sched)
        assert settled == [plan.fingerprint]
        out = proc.finalize(plan.fingerprint)
        assert out.ok, out.error
        row = store.query("SELECT state, note, options, attempts FROM jobs WHERE analyzer='greedy'")[0]
        assert row["state"] == "done" and "out of memory" in row["note"].lower()
        requeues = [e.detail for e in store.events() if e.analyzer == "greedy" and e.event == "requeued"]
        assert requeues and all("out of memory" in r.lower() for r in requeues)
        summary = proc.finalize(plan.fingerprint) and _sidecar(out.sidecar)["analyses"]["greedy"]
        assert (summary["summary"]["device"], summary["summary"]["batch_size"]) == expect
        assert any("after running out of GPU memory" in w for w in summary["warnings"])
        assert summary["summary"]["samples"] > 0  # read the cache the pass left
        assert not (tmp_path / "var" / "cache" / plan.fingerprint).exists()  # dropped once all jobs are done
    finally:
        store.close()


def _sidecar(path: Path | None) -> dict[str, Any]:
    import json

    assert path is not None
    return json.loads(path.read_text())


def _dies_once(marker: str) -> Callable[[Task, Callable[[], bool]], TaskOutcome]:
    """A worker's runner that kills its own process on the first task (a segfaulting analyzer)."""
    import os
    import signal

    def run(task: Task, cancelled: Callable[[], bool]) -> TaskOutcome:
        if not os.path.exists(marker):
            Path(marker).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return TaskOutcome(task.key, "done", records={task.analyzer: {"pid": os.getpid()}})

    return run


def test_process_executor_survives_a_worker_crash(tmp_path: Path) -> None:
    import functools

    from kinod.jobs.executor import ProcessExecutor

    store = JobStore(tmp_path / "s.sqlite")
    executor = ProcessExecutor(functools.partial(_dies_once, str(tmp_path / "crashed")), preload=())
    try:
        _ready_clip(store, "fp")
        store.queue.enqueue([_model_spec("fp")])
        sched = Scheduler(store, executor, owner="t:h:1:1", limits=Limits(1), max_attempts=3)
        _drain(sched, timeout=60)
        row = store.query("SELECT state, attempts, record FROM jobs")[0]
        assert row["state"] == "done" and row["attempts"] == 2
        died = [e.detail for e in store.events() if e.event == "requeued"]
        assert died and "worker process died (killed by signal 9)" in died[0]
    finally:
        executor.shutdown(5)
        store.close()


def test_process_executor_runs_the_real_pipeline(tmp_path: Path) -> None:
    import functools

    from kinod.jobs.executor import ProcessExecutor
    from kinod.run.processor import make_runner
    clip = make_clip(tmp_path / "in" / "a.mp4", 1)
    config = Config(output=OutputConfig(root=tmp_path / "out"), state=StateConfig(dir=tmp_path / "var"))
    store = JobStore(tmp_path / "var" / "kinod.sqlite")
    executor = ProcessExecutor(functools.partial(make_runner, config))
    try:
        proc = ClipProcessor(config, store)
        plan = proc.enqueue_clip(ClipFiles.alone(clip), tmp_path / "out")
        # the worker processes open no state file: the scheduler hands tasks out filled in
        sched = Scheduler(store, executor, owner="t:h:1:1", limits=Limits(2), facts=proc.facts)
        _drain(sched, timeout=120)
        out = proc.finalize(plan.fingerprint)
        assert out.ok and _sidecar(out.sidecar)["analyses"]["shots"]["items"]
    finally:
        executor.shutdown(5)
        store.close()


def test_a_task_is_complete_in_its_fields_and_survives_json() -> None:
    """A later executor on another machine gets the task as JSON and runs it from its fields."""
    import json as _json

    t = Task(
        "k", "model", "fp", "/card/a.mp4", "speech", Need(2, 1, 900), priority=5, attempts=1, card="A001",
        device="cuda", options={"batch_size": 4}, version="3", config_hash="abc", model_sha256="f00",
        files={"parts": ["/card/a.mp4"], "audio": ["/card/a01.mxf"]},
    )  # fmt: skip
    assert Task.from_json(_json.loads(_json.dumps(t.to_json()))) == t
