"""``jobs.executor = "dramatiq"`` end to end: real Redis, real ``kinod run`` and ``kinod worker`` processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import Daemon, kinod_command, make_clip
from dist_harness import RedisServer, Worker, dist_config

#: One decoder thread, wide analysis frames: the long clip's pass takes seconds (kill needs a job in flight).
SLOW = "[media]\ndecode_threads = 1\nanalysis_width = 960\n"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    out = {"long": make_clip(d / "long.mp4", 60, size="1280x720", src="testsrc2")}
    for i in range(19):
        src = ("testsrc", "testsrc2", "smptebars")[i % 3]
        out[f"s{i}"] = make_clip(d / f"s{i}.mp4", 1, src=src, extra=["-metadata", f"comment=clip {i}"])
    return out


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    r = RedisServer(tmp_path).start()
    yield r
    r.stop()


def make_card(d: Daemon, media: dict[str, Path], name: str = "A001", shorts: int = 19, long: bool = True) -> Path:
    """A card of ``shorts`` short clips (distinct content) and LONG.mp4."""
    staging = d.base / "staging" / name
    staging.mkdir(parents=True)
    if long:
        shutil.copy(media["long"], staging / "LONG.mp4")
    for i in range(shorts):
        shutil.copy(media[f"s{i}"], staging / f"C{i:03d}.mp4")
    staging.rename(d.root / name)
    return d.root / name


def live_workers(d: Daemon) -> set[str]:
    folder = d.state / "dist" / "workers"
    return {json.loads(f.read_text())["id"] for f in folder.glob("*.json")} if folder.is_dir() else set()


def pass_token(d: Daemon, path: Path) -> str | None:
    rows = d.query("SELECT fingerprint, attempts FROM passes WHERE path=? AND state='running'", (str(path),))
    return f"pass:{rows[0]['fingerprint']}.{rows[0]['attempts']}" if rows else None


def claim_holder(d: Daemon, token: str) -> str | None:
    f = d.state / "dist" / "claims" / token
    return f.read_text() if f.exists() else None


def assert_exactly_once(d: Daemon, clips: int) -> None:
    done = Counter(e["key"] for e in d.events("done"))
    assert done and all(n == 1 for n in done.values()), done
    jobs = d.query("SELECT key, state FROM jobs")
    assert {j["state"] for j in jobs} == {"done"} and len(jobs) == clips
    assert {j["key"] for j in jobs} <= set(done)
    assert d.validate_all_sidecars() == clips
    leftovers = [p for p in d.out.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".")]
    assert not leftovers


def test_two_workers_and_one_killed_mid_job(tmp_path: Path, media: dict[str, Path], redis: RedisServer) -> None:
    d = Daemon(tmp_path, extra=SLOW)
    dist_config(d, redis)
    workers = {n: Worker(d, n) for n in ("w1", "w2")}
    try:
        for w in workers.values():
            w.start()
        with d:
            d.start()
            d.wait_for(lambda: live_workers(d) == {"w1", "w2"}, 60, "both workers to register")
            card = make_card(d, media)
            long = card / "LONG.mp4"

            def holder() -> str | None:
                token = pass_token(d, long)
                return claim_holder(d, token) if token else None

            victim = d.wait_for(holder, 90, "a worker to claim the long clip's pass")
            token = pass_token(d, long)
            workers[victim].kill9()
            d.wait_metric("kinod_cards_done_total", 1, timeout=180, outcome="done")
            survivor = workers[({"w1", "w2"} - {victim}).pop()]
            with urllib.request.urlopen(f"http://127.0.0.1:{survivor.port}/metrics", timeout=5) as r:
                text = r.read().decode()  # the worker's own /metrics (worker.metrics_listen)
            assert f'kinod_worker_jobs_total{{kind="pass",status="done",worker="{survivor.name}"}}' in text
            d.stop()
        assert_exactly_once(d, 20)
        long_fp = token.split(":")[1].rsplit(".", 1)[0] if token else ""
        started = d.query("SELECT count(*) AS n FROM job_events WHERE key=? AND event='started'", ("pass:" + long_fp,))
        assert started[0]["n"] == 1  # the store saw one attempt; the message ran once more on the other worker
        assert d.sidecar("A001/LONG.mp4")["analyses"]["shots"]["items"]
        assert not list((d.state / "dist" / "outbox").iterdir())  # every result was recorded and cleared
    finally:
        for w in workers.values():
            w.stop()


def executions(*workers: Worker) -> Counter[str]:
    """How many times each task ran to the end, over the workers' logs."""
    n: Counter[str] = Counter()
    for w in workers:
        for line in w.log_text().splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("event") == "task finished":
                n[ev["key"]] += 1
    return n


def decoder_of(path: Path, timeout: float = 90) -> int:
    """The pid of the ffmpeg decoding ``path`` (waited for: the worker starts it right after its claim)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and b"ffmpeg" in Path(os.fsdecode(argv[0])).name.encode() and any(
                os.fsencode(str(path)) in a for a in argv
            ):
                return int(pid)
        time.sleep(0.005)
    raise AssertionError(f"no ffmpeg decoding {path} within {timeout} s")


def test_redis_restarted_mid_run_loses_nothing(tmp_path: Path, media: dict[str, Path], redis: RedisServer) -> None:
    d = Daemon(tmp_path, extra=SLOW)
    dist_config(d, redis)
    workers = [Worker(d, "w1"), Worker(d, "w2")]
    try:
        workers[0].start()  # one worker, one thread: the short clips wait in Redis behind the long one
        with d:
            d.start()
            d.wait_for(lambda: live_workers(d) == {"w1"}, 60, "the worker to register")
            long = make_card(d, media, "A001", shorts=0) / "LONG.mp4"
            d.wait_for(lambda: (t := pass_token(d, long)) and claim_holder(d, t), 90, "the long pass to start")
            # Hold the long decode where it is (its worker keeps beating), so the short clips
            # surely wait in Redis behind it, however fast this machine decodes.
            decoder = decoder_of(long)
            os.kill(decoder, signal.SIGSTOP)
            make_card(d, media, "A002", shorts=6, long=False)  # these wait in Redis behind the long pass
            sent = "SELECT 1 FROM passes WHERE state='running' AND path LIKE '%/A002/%'"
            d.wait_for(lambda: len(d.query(sent)) == 6, 60, "the short clips to be sent")
            redis.shutdown_nosave()  # every queued message is gone
            d.wait_for(lambda: d.metric("kinod_dist_broker_up") == 0, 30, "the coordinator to notice")
            redis.start()
            workers[1].start()
            os.kill(decoder, signal.SIGCONT)
            d.wait_metric("kinod_cards_done_total", 2, timeout=180, outcome="done")
            d.stop()
        assert_exactly_once(d, 7)
        ran = executions(*workers)
        assert ran and all(n == 1 for n in ran.values()), ran  # nothing done twice
        passes = d.query("SELECT fingerprint FROM passes")
        assert {f"pass:{p['fingerprint']}" for p in passes} == set(ran)
        started = Counter(e["key"] for e in d.events("started") if e["key"].startswith("pass:"))
        assert all(n == 1 for n in started.values()), started
        assert "the broker lost its messages" in d.log_text()
    finally:
        for w in workers:
            w.stop()


def test_coordinator_kill_9_and_restart_picks_up_finished_results(
    tmp_path: Path, media: dict[str, Path], redis: RedisServer
) -> None:
    d = Daemon(tmp_path, extra=SLOW)
    dist_config(d, redis)
    workers = [Worker(d, "w1"), Worker(d, "w2")]
    try:
        for w in workers:
            w.start()
        with d:
            d.start()
            d.wait_for(lambda: live_workers(d) == {"w1", "w2"}, 60, "both workers to register")
            card = make_card(d, media, shorts=4)
            long = card / "LONG.mp4"
            token = d.wait_for(lambda: (t := pass_token(d, long)) and claim_holder(d, t) and t, 90, "the long pass")
            d.kill9()
            result = d.state / "dist" / "results" / f"{token}.json"
            d.wait_for(result.exists, 120, "the worker to finish the long pass while no coordinator runs")
            d.start()
            d.wait_metric("kinod_cards_done_total", 1, timeout=180, outcome="done")
            d.stop()
        assert_exactly_once(d, 5)
        ran = executions(*workers)
        assert ran and all(n == 1 for n in ran.values()), ran
        long_key = token.rsplit(".", 1)[0]
        assert len([e for e in d.events("started") if e["key"] == long_key]) == 1  # adopted, not run again
        assert not [e for e in d.events("requeued") if e["key"] == long_key]
        assert "adopted tasks in flight" in d.log_text()
    finally:
        for w in workers:
            w.stop()


def test_path_map_and_a_worker_with_another_speech_model_is_refused(
    tmp_path: Path, media: dict[str, Path], redis: RedisServer
) -> None:
    """A worker seeing the storage at another mount point maps paths; one with another model is refused."""
    d = Daemon(tmp_path, grace=2.0)  # the held task counts as running: do not wait 30 s for it at stop
    d.config.write_text(d.config.read_text().replace('enabled = ["shots"]', 'enabled = ["shots", "speech"]'))
    dist_config(d, redis)
    nas = tmp_path.parent / f"{tmp_path.name}-nas"  # the same storage, mounted elsewhere on the worker
    nas.symlink_to(tmp_path, target_is_directory=True)
    mapped = Worker(
        d,
        "mapped",
        replace={str(tmp_path): str(nas)},
        extra=f'[[paths.map]]\ncoordinator = "{tmp_path}"\nworker = "{nas}"\n',
    )
    other_model = Worker(d, "tinymodel", extra='[analyzers.speech]\nmodel = "tiny.en"\n')
    try:
        mapped.start("--queues", "pass")
        other_model.start("--queues", "cpu,gpu")
        with d:
            d.start()
            d.wait_for(lambda: live_workers(d) == {"mapped", "tinymodel"}, 60, "both workers to register")
            make_clip(d.root / "A001" / "TALK.mp4", 1, audio=True)
            d.wait_metric("kinod_dist_jobs_held", 1, timeout=90, queue="cpu")
            assert d.metric("kinod_dist_workers", queue="cpu", state="refused") == 1
            status = d.wait_for(
                lambda: (o := kinod_command(d.config, "status")[1]) and "held (1 task" in o and o, 30, ""
            )
            assert "REFUSED" in status and "model hash" in status and "speech" in status, status
            shots = d.query("SELECT state FROM jobs WHERE analyzer='shots'")
            assert shots == [{"state": "done"}]
            d.stop()
        assert "model differs" not in other_model.log_text()  # never sent to it: held by the coordinator
        started = [json.loads(x) for x in mapped.log_text().splitlines() if '"task started"' in x]
        assert started and all(s["path"].startswith(str(nas)) for s in started)
        assert str(nas) not in json.dumps(
            d.query("SELECT record, probe, decode FROM jobs JOIN clips USING (fingerprint)")
        )
    finally:
        mapped.stop()
        other_model.stop()


def test_rabbitmq_broker(tmp_path: Path, media: dict[str, Path]) -> None:
    """The same flow through RabbitMQ (``amqp://``), Dramatiq's recommended production broker."""
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
    except OSError:
        pytest.skip("no RabbitMQ on 127.0.0.1:5672 (the Redis tests cover the same flow)")
    pytest.importorskip("pika")
    from kinod.jobs.broker import make_broker

    url = "amqp://guest:guest@127.0.0.1:5672/%2F"
    make_broker(url, "kinod", 3.0).flush_all()  # leftovers of an earlier run on this shared server
    d = Daemon(tmp_path)
    text = d.config.read_text().replace("[jobs]\n", '[jobs]\nexecutor = "dramatiq"\n', 1)
    d.config.write_text(text + f'[broker]\nurl = "{url}"\nheartbeat_timeout_seconds = 3\n')
    w = Worker(d, "rabbit")
    try:
        w.start()
        with d:
            d.start()
            d.wait_for(lambda: live_workers(d) == {"rabbit"}, 60, "the worker to register")
            make_card(d, media, "R001", shorts=3, long=False)
            d.wait_metric("kinod_cards_done_total", 1, timeout=120, outcome="done")
            d.stop()
        assert_exactly_once(d, 3)
        assert all(n == 1 for n in executions(w).values())
    finally:
        w.stop()


def test_worker_processes_register_each_under_its_own_name(tmp_path: Path, redis: RedisServer) -> None:
    d = Daemon(tmp_path)
    dist_config(d, redis)
    w = Worker(d, "node")
    try:
        w.start("--processes", "2", "--queues", "pass")
        with d:
            d.start()
            d.wait_for(lambda: live_workers(d) == {"node-1", "node-2"}, 60, "two worker processes to register")
            assert d.metric("kinod_cpu_slots") == 64  # broker.max_in_flight, not jobs.cpu_workers
            assert d.proc is not None
            d.proc.send_signal(signal.SIGHUP)
            d.wait_for(lambda: "config reloaded" in d.log_text(), 30, "the reload")
            assert d.metric("kinod_cpu_slots") == 64  # still, after a reload
            d.stop()
    finally:
        w.stop()
    assert not live_workers(d)  # a stopped worker removes its record


def test_worker_bad_arguments_are_clear_errors(tmp_path: Path, redis: RedisServer) -> None:
    import subprocess
    import sys

    d = Daemon(tmp_path)
    dist_config(d, redis)
    w = Worker(d, "bad", extra="")
    r = subprocess.run(
        [sys.executable, "-m", "kinod.cli.main", "--config", str(w.config), "worker", "--queues", "pass,video"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "unknown queue(s) video" in r.stderr
    (d.state / "kinod.sqlite").touch()
    r = subprocess.run(
        [sys.executable, "-m", "kinod.cli.main", "--config", str(w.config), "worker", "--metrics-listen", "nohost"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "metrics.listen" in r.stderr and "Traceback" not in r.stderr, r.stderr
