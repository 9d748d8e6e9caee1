"""A ``kinod worker`` that cannot see the coordinator's state dir runs pass and model tasks.

The coordinator keeps its SQLite state file on a local disk (``state.dir``); what it
shares with workers (the analysis caches and the run's files) lives in
``state.shared_dir`` on the storage. The worker mounts that storage at another path
(``[[paths.map]]``) and has a state dir of its own. Where the kernel allows it, the
worker runs in a mount namespace with an empty tmpfs over the coordinator's state dir,
so the state file is not merely unnamed in its config but absent from its view.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import Daemon, make_clip
from dist_harness import RedisServer, Worker, dist_config


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    r = RedisServer(tmp_path).start()
    yield r
    r.stop()


def hiding(folder: Path) -> list[str]:
    """A command prefix that runs a program with ``folder`` covered by an empty tmpfs (or [] if not allowed)."""
    exe = shutil.which("unshare")
    if exe is None:
        return []
    probe = subprocess.run(
        [exe, "-m", "sh", "-c", f'mount -t tmpfs none "{folder}" && test ! -e "{folder}/kinod.sqlite"'],
        capture_output=True,
    )
    if probe.returncode != 0:
        return []
    return [exe, "-m", "sh", "-c", f'mount -t tmpfs none "{folder}" && exec "$@"', "sh"]


def workers_in(shared: Path) -> set[str]:
    folder = shared / "dist" / "workers"
    return {json.loads(f.read_text())["id"] for f in folder.glob("*.json")} if folder.is_dir() else set()


def test_a_worker_without_the_state_dir_runs_pass_and_model_tasks(tmp_path: Path, redis: RedisServer) -> None:
    d = Daemon(tmp_path, grace=2.0)
    shared = tmp_path / "shared"  # on the storage, beside the footage and the outputs
    text = d.config.read_text()
    text = text.replace('enabled = ["shots"]', 'enabled = ["shots", "speech", "categories"]')
    text = text.replace(f'[state]\ndir = "{d.state}"\n', f'[state]\ndir = "{d.state}"\nshared_dir = "{shared}"\n')
    d.config.write_text(text)
    dist_config(d, redis)
    nas = tmp_path.parent / f"{tmp_path.name}-nas"  # the same storage, mounted elsewhere on the worker
    nas.symlink_to(tmp_path, target_is_directory=True)
    own = tmp_path.parent / f"{tmp_path.name}-worker-var"  # the worker's own state dir (models)
    worker_text = d.config.read_text().replace(f'dir = "{d.state}"', f'dir = "{own}"').replace(str(tmp_path), str(nas))
    assert str(d.state) not in worker_text and str(tmp_path) + "/" not in worker_text
    prefix = hiding(d.state)
    worker = Worker(d, "isolated", prefix=prefix)
    worker.config.write_text(
        worker_text + f'[worker]\nname = "isolated"\nmetrics_listen = "127.0.0.1:{worker.port}"\n'
        f'[[paths.map]]\ncoordinator = "{tmp_path}"\nworker = "{nas}"\n'
    )
    try:
        worker.start("--queues", "pass,cpu,gpu")
        with d:
            d.start()
            d.wait_for(lambda: workers_in(shared) == {"isolated"}, 60, "the worker to register")
            clip = make_clip(d.root / "A001" / "TALK.mp4", 1, audio=True)

            def settled() -> bool:
                jobs = d.query("SELECT state FROM jobs")
                return len(jobs) == 3 and all(j["state"] in ("done", "failed") for j in jobs) and bool(
                    d.query("SELECT 1 FROM clips WHERE state IN ('done', 'failed') AND sidecar IS NOT NULL")
                )

            d.wait_for(settled, 240, "the clip's jobs to finish on the worker")
            jobs = {j["analyzer"]: j for j in d.query("SELECT analyzer, state, last_error FROM jobs")}
            want = dict.fromkeys(("shots", "speech", "categories"), "done")
            assert {a: j["state"] for a, j in jobs.items()} == want, jobs
            side = d.sidecar("A001/TALK.mp4")
            assert set(side["analyses"]) == {"shots", "speech", "categories"}
            d.stop()
        started = [json.loads(x) for x in worker.log_text().splitlines() if '"task started"' in x]
        assert {s["analyzer"] for s in started} == {"pass", "speech", "categories"}, started
        assert all(s["path"] == str(nas / clip.relative_to(tmp_path)) for s in started)
        assert not (own / "kinod.sqlite").exists() and not (own / "dist").exists()
        stored = d.query("SELECT record, probe, decode FROM jobs JOIN clips USING (fingerprint)")
        assert str(nas) not in json.dumps(stored)  # the worker's paths were mapped back
        assert not (d.state / "cache").exists() and not (d.state / "dist").exists()  # both on the shared storage
        assert "state file" not in worker.log_text()
    finally:
        worker.stop()
