"""The distributed executor's parts without processes: path map, claim files, routing, metrics."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from daemon_harness import free_port
from dist_harness import RedisServer
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from test_metrics import queried_metrics

from kinod.config import Config, load_config
from kinod.jobs.dist_files import DistFiles, outcome_from_json, outcome_to_json, task_from_json, token_of
from kinod.jobs.paths_map import PathMap
from kinod.jobs.registry_workers import Fleet, WorkerInfo, write_record
from kinod.jobs.tasks import Need, OutOfMemory, Task, TaskOutcome

if TYPE_CHECKING:
    from kinod.jobs.dramatiq_executor import DramatiqExecutor


def test_path_map_longest_prefix_at_component_boundaries() -> None:
    m = PathMap([("/mnt/nas", "/Volumes/NAS"), ("/mnt/nas/proj", "/Volumes/PROJ")])
    assert m.to_worker("/mnt/nas/A001/C1.mov") == "/Volumes/NAS/A001/C1.mov"
    assert m.to_worker("/mnt/nas/proj/x.mov") == "/Volumes/PROJ/x.mov"
    assert m.to_worker("/mnt/nas2/x.mov") == "/mnt/nas2/x.mov"
    assert m.to_worker("/mnt/nas") == "/Volumes/NAS"
    assert m.to_coordinator("/Volumes/NAS/A001") == "/mnt/nas/A001"
    deep = m.deep_to_coordinator({"a": ["/Volumes/NAS/k.jpg", "text /Volumes/NAS"], "n": 3})
    assert deep == {"a": ["/mnt/nas/k.jpg", "text /Volumes/NAS"], "n": 3}
    assert not PathMap([])


def test_task_and_outcome_survive_json() -> None:
    t = Task("k1", "model", "fp", "/x.mov", "speech", Need(2, 1, 900), attempts=2, device="cuda", options={"b": 1})
    assert task_from_json(json.loads(json.dumps(t.to_json()))) == t
    assert token_of(t) == "k1.2"
    o = TaskOutcome("k1", "failed", "oom", oom=OutOfMemory(8, 4, True, "CUDA out of memory"), records={"a": {"x": 1}})
    assert outcome_from_json(json.loads(json.dumps(outcome_to_json(o)))) == o


def test_claims_make_a_second_delivery_do_nothing_until_the_holder_goes_silent(tmp_path: Path) -> None:
    files = DistFiles(tmp_path).ensure()
    assert files.try_claim("k.1", "w1", stale_after=5)
    assert not files.try_claim("k.1", "w2", stale_after=5)  # duplicate delivery: w1 is alive
    old = time.time() - 10
    os.utime(files.claims / "k.1", (old, old))  # w1 stopped beating
    assert files.try_claim("k.1", "w2", stale_after=5)
    assert (files.claims / "k.1").read_text() == "w2"
    files.put_result("k.1", TaskOutcome("k", "done"), "w2")
    assert files.result("k.1") == TaskOutcome("k", "done")
    files.forget("k.1")
    assert files.result("k.1") is None and files.claim_age("k.1") is None
    files.put_result("late.1", TaskOutcome("late", "done"), "w3")  # finished after its coordinator gave up on it
    assert files.try_claim("live.1", "w1", stale_after=5)
    old_worker = files.workers / "gone.json"
    old_worker.write_text("{}")
    os.utime(old_worker, (time.time() - 2 * 86400,) * 2)
    assert files.prune(keep={"live.1"}) == 2
    assert files.result("late.1") is None and files.claim_age("live.1") is not None and not old_worker.exists()


def _worker(wid: str, queues: list[str], models: dict[str, str | None], age: float = 0.0) -> WorkerInfo:
    return WorkerInfo(wid, "h", queues, list(models), models, "0", time.time() - age)


def test_routing_holds_without_a_live_compatible_worker(tmp_path: Path) -> None:
    folder = tmp_path / "workers"
    fleet = Fleet(folder, timeout_s=10, models={"shots": None, "speech": "aaa"})
    assert fleet.route("pass", ["shots"]) == "no live worker serves queue 'pass'"
    write_record(folder, _worker("old", ["pass"], {"shots": None}, age=60))  # silent: not live
    write_record(folder, _worker("tiny", ["cpu"], {"shots": None, "speech": "bbb"}))
    fleet.refresh(0)
    assert "no live worker" in str(fleet.route("pass", ["shots"]))
    why = fleet.route("cpu", ["speech"])
    assert why is not None and "model hash bbb" in why and "aaa" in why
    assert set(fleet.refused()) == {"tiny"}
    write_record(folder, _worker("good", ["cpu", "pass"], {"shots": None, "speech": "aaa"}))
    fleet.refresh(0)
    assert fleet.route("cpu", ["speech"]) is None and fleet.route("pass", ["shots"]) is None


def test_config_keys_and_errors(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[jobs]\nexecutor = "dramatiq"\n[broker]\nurl = "redis://10.0.0.5:6379/2"\n'
        '[[paths.map]]\ncoordinator = "/mnt/nas"\nworker = "/Volumes/NAS"\n[worker]\nqueues = ["gpu"]\n'
    )
    c = load_config(cfg)
    assert c.jobs.executor == "dramatiq" and c.paths.map[0].worker == "/Volumes/NAS" and c.worker.queues == ("gpu",)
    from kinod.config import ConfigError

    cfg.write_text('[broker]\nurl = "http://x"\n')
    try:
        load_config(cfg)
    except ConfigError as e:
        assert "broker" in str(e) and "redis://" in str(e)
    else:
        raise AssertionError("a broker URL of an unknown scheme must be refused")


def test_dashboard_dist_metrics_are_exported_by_coordinator_and_worker(tmp_path: Path) -> None:
    from kinod.jobs.dramatiq_executor import DistCollector
    from kinod.service.worker import WorkerMetrics
    down = _executor(tmp_path, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there: no crash
    assert "kinod_dist_broker_up 0.0" in generate_latest(_registry(DistCollector(down))).decode()
    redis = RedisServer(tmp_path).start()
    ex = _executor(tmp_path, redis.url)
    reg = CollectorRegistry()
    reg.register(DistCollector(ex))
    wm = WorkerMetrics("w1")
    wm.jobs.labels("w1", "pass", "done").inc()
    wm.duration.labels("w1", "pass").observe(1.0)
    wm.current.labels("w1").set(0)
    wm.gpu_mem.labels("w1").set(0)
    wm.describe("host", ["pass", "cpu"], 2)
    wm.info.labels("w1", "pass:fp.1", "pass").set(1)  # while a task runs
    zero = wm.scrape().decode()  # every series from the start: increase() counts the first task
    assert 'kinod_worker_jobs_total{kind="model",status="done",worker="w1"} 0.0' in zero
    assert 'kinod_worker_info{host="host",queues="pass,cpu",worker="w1"} 1.0' in zero
    assert 'kinod_worker_slots{worker="w1"} 2.0' in zero
    try:
        text = generate_latest(reg).decode() + wm.scrape().decode()
    finally:
        redis.stop()
    exported = {s.name for fam in text_string_to_metric_families(text) for s in fam.samples}
    exported |= {n.removesuffix("_total") for n in exported} | {n.removesuffix("_bucket") for n in exported}
    for where, names in queried_metrics().items():
        missing = sorted(n for n in names if n.startswith(("kinod_dist_", "kinod_worker_")) and n not in exported)
        assert not missing, f"the {where} queries metrics no coordinator or worker exports: {missing}"
    assert "kinod_dist_broker_up 1.0" in text and 'kinod_dist_queue_depth{queue="pass"} 0.0' in text


def _registry(collector: object) -> CollectorRegistry:
    reg = CollectorRegistry()
    reg.register(collector)  # type: ignore[arg-type]
    return reg


def _executor(state: Path, url: str) -> DramatiqExecutor:
    from kinod.jobs.dramatiq_executor import DramatiqExecutor

    base = Config()
    cfg = base.model_copy(
        update={
            "state": base.state.model_copy(update={"dir": state}),
            "broker": base.broker.model_copy(update={"url": url}),
        }
    )
    return DramatiqExecutor(cfg, {"shots": None})


def test_broker_down_holds_tasks_and_says_why(tmp_path: Path) -> None:
    ex = _executor(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    write_record(ex.dist.workers, _worker("w", ["pass"], {"shots": None}))
    for i in range(5):
        ex.submit(Task(f"pass:fp{i}", "pass", f"fp{i}", f"/f/{i}.mov", "pass", options={"stream": {"shots": "k"}}))
    held = ex.held()
    assert len(held) == 5 and all(h["why"].startswith("broker unreachable") for h in held), held
    # a GPU-capable model task with no GPU worker alive goes to the cpu queue, placed on the CPU
    write_record(ex.dist.workers, _worker("c", ["cpu"], {"shots": None}))
    ex.fleet.refresh(0)
    ex.submit(Task("m1", "model", "fp0", "/f/0.mov", "shots", Need(1, 1, 500), device="cuda"))
    f = next(f for f in ex.flights.values() if f.task.key == "m1")
    assert f.queue == "cpu" and f.task.device == "cpu"
    assert ex.poll(0.05) == []  # nothing came back, nothing crashed
    assert json.loads((ex.dist.root / "held.json").read_text())["broker_up"] is False
    back = ex.shutdown(0.0)
    assert sorted(o.key for o in back) == ["m1"] + [f"pass:fp{i}" for i in range(5)] and {o.status for o in back} == {
        "cancelled"
    }
    assert not list(ex.dist.outbox.iterdir())  # unsent tasks leave no outbox entry behind


def test_broker_ping_for_doctor(tmp_path: Path) -> None:
    from kinod.jobs.broker import ping, safe_url

    ok, why = ping(f"redis://127.0.0.1:{free_port()}/0", timeout_s=1)
    assert not ok and "127.0.0.1" in why
    assert safe_url("amqp://guest:secret@h:5672/%2F") == "amqp://***@h:5672/%2F"
    redis = RedisServer(tmp_path).start()
    try:
        assert ping(redis.url) == (True, f"{redis.url} answers")
    finally:
        redis.stop()
