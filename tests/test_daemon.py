"""End to end with the real ``kinod run`` process: watch, settle, schedule, crash, restart."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from daemon_harness import Daemon, kinod_command, make_clip, slow_copy

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two small clips with different content, and one long one (a pass of several seconds)."""
    d = tmp_path_factory.mktemp("media")
    return {
        "a": make_clip(d / "a.mp4", 2, src="testsrc2"),
        "b": make_clip(d / "b.mov", 2, src="testsrc", audio=True),
        "long": make_clip(d / "long.mp4", 20, size="1280x720", src="testsrc2"),
    }


#: Slow passes: one decoder thread, wide analysis frames (kill -9 and SIGTERM need a job in flight).
SLOW = "[media]\ndecode_threads = 1\nanalysis_width = 960\n"


def dashboard_metrics() -> set[str]:
    """Every kinod_* metric name the Grafana dashboard and the alert rules query."""
    names: set[str] = set()
    dash = json.loads((REPO / "exporters" / "grafana" / "kinod-dashboard.json").read_text())

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("expr", "query") and isinstance(v, str):
                    names.update(re.findall(r"\bkinod_[a-z_]+", v))
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(dash)
    names.update(re.findall(r"\bkinod_[a-z_]+", (REPO / "exporters" / "prometheus" / "kinod-rules.yml").read_text()))
    return names


def test_slow_copy_of_a_card_then_metrics_until_done(tmp_path: Path, clips: dict[str, Path]) -> None:
    with Daemon(tmp_path, settle=1.5, polls=3) as d:
        d.start()
        card = d.root / "A001"
        card.mkdir()
        slow_copy(clips["a"], card / "C001.mp4", chunks=4, pause=0.4)
        last_byte = slow_copy(clips["b"], card / "C002.mov", chunks=4, pause=0.4)
        d.wait_metric("kinod_cards_done_total", 1, timeout=60, outcome="done")
        # No job started before the last byte was written.
        started = d.events("started")
        assert started, d.log_text()
        assert min(e["at"] for e in started) > last_byte
        for name in ("C001.mp4", "C002.mov"):
            side = d.sidecar(f"A001/{name}")
            assert side["source"]["card"] == "A001"
            assert side["errors"] == []
            assert side["analyses"]["shots"]["items"]
        assert (d.out / "A001" / "C001.mp4.otio").is_file()
        m = d.scrape()
        assert m[("kinod_jobs", frozenset({("analyzer", "shots"), ("state", "done")}))] == 2
        assert m[("kinod_clips", frozenset({("state", "done")}))] == 2
        assert m[("kinod_media_seconds_processed_total", frozenset())] >= 3.9
        assert m[("kinod_realtime_factor", frozenset({("analyzer", "pass")}))] > 0
        assert m[("kinod_last_successful_scan_timestamp_seconds", frozenset())] > 0
        assert m[("kinod_card_jobs", frozenset({("card", "A001"), ("state", "done")}))] == 2
        exported = {n for n, _ in m} | {re.sub(r"_(bucket|sum|count|total|info)$", "", n) for n, _ in m}
        # kinod_dist_*/kinod_worker_*: only a dramatiq coordinator and its workers export them (test_dist.py)
        dist_only = ("kinod_dist_", "kinod_worker_")
        missing = {n for n in dashboard_metrics() if n not in exported and not n.startswith(dist_only)}
        missing -= {"kinod_card_eta_seconds"}  # a series per card in progress only (test_metrics.py)
        assert not missing, f"dashboard/rules query metrics that are not exported: {missing}"
        # A second daemon on the same state refuses to start, naming the holder.
        r = subprocess.run(
            [sys.executable, "-m", "kinod.cli.main", "--config", str(d.config), "run"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 3 and "already running" in r.stderr and str(d.proc.pid) in r.stderr
        assert d.stop() == 0
    assert "kinod stopped" in d.log_text()
    assert "Traceback" not in d.log_text()


def _wait_started(d: Daemon, path: Path, timeout: float = 60) -> None:
    def started() -> bool:
        d.check_alive()
        return bool(d.query("SELECT 1 FROM passes WHERE path=? AND state='running'", (str(path),)))

    d.wait_for(started, timeout, f"the pass of {path} to start")


def test_kill_9_mid_job_and_restart_runs_every_job_exactly_once(tmp_path: Path, clips: dict[str, Path]) -> None:
    d = Daemon(tmp_path, extra=SLOW)
    with d:
        d.start()
        card = tmp_path / "staging" / "B001"
        card.mkdir(parents=True)
        shutil.copy(clips["long"], card / "LONG.mp4")
        shutil.copy(clips["a"], card / "SHORT.mp4")
        card.rename(d.root / "B001")  # the card appears at once, like a rename from a staging folder
        long = d.root / "B001" / "LONG.mp4"
        _wait_started(d, long)
        d.kill9()
        assert not d.events("done") or all("LONG" not in (e["detail"] or "") for e in d.events("done"))
        held = d.query("SELECT count(*) AS n FROM passes WHERE state='running'")[0]["n"]
        assert held >= 1  # the dead daemon's lease is still in the file
        d.start()
        d.wait_metric("kinod_cards_done_total", 1, timeout=90, outcome="done")
        d.stop()
    done = Counter(e["key"] for e in d.events("done"))
    assert done and all(n == 1 for n in done.values()), done
    jobs = d.query("SELECT key, state, attempts, analyzer, path FROM jobs")
    assert {j["state"] for j in jobs} == {"done"} and len(jobs) == 2
    assert {j["key"] for j in jobs} <= set(done)
    long_fp = d.query("SELECT fingerprint FROM clips WHERE path LIKE '%LONG.mp4'")[0]["fingerprint"]
    assert len(d.query("SELECT 1 FROM job_events WHERE key=? AND event='started'", ("pass:" + long_fp,))) == 2
    requeued = d.events("requeued")
    assert any("stopped" in (e["detail"] or "") for e in requeued)
    for name in ("LONG.mp4", "SHORT.mp4"):
        assert d.sidecar(f"B001/{name}")["analyses"]["shots"]["items"]
    leftovers = [p for p in d.out.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".")]
    assert not leftovers
    sidecars = sorted(p.name for p in d.out.rglob("*.kino.json"))
    assert sidecars == ["LONG.mp4.kino.json", "SHORT.mp4.kino.json", "card.kino.json"]  # one each, + card report


def test_sigterm_requeues_after_grace_and_a_file_that_grows_is_redone(tmp_path: Path, clips: dict[str, Path]) -> None:
    # Long enough that the second pass is far from done when SIGTERM comes (grace 0.5 s).
    ts = make_clip(tmp_path / "src" / "grow.ts", 60, size="1280x720", src="testsrc2", extra=["-f", "mpegts"])
    data = ts.read_bytes()
    with Daemon(tmp_path, extra=SLOW, grace=0.5) as d:
        d.start()
        card = d.root / "C001"
        card.mkdir()
        target = card / "GROW.ts"
        target.write_bytes(data[: len(data) // 2])
        _wait_started(d, target)
        first = d.query("SELECT fingerprint FROM passes WHERE path=?", (str(target),))[0]["fingerprint"]
        with open(target, "ab") as fh:  # the copy was not finished after all
            fh.write(data[len(data) // 2 :])
        d.wait_for(lambda: d.events("cancelled"), 30, "the running pass to be cancelled")
        assert d.query("SELECT state FROM passes WHERE fingerprint=?", (first,))[0]["state"] == "cancelled"
        assert d.metric("kinod_errors_total", kind="changed_while_processing") >= 1
        # the grown file settles again and is processed as new content
        _wait_started(d, target)
        second = d.query("SELECT fingerprint FROM passes WHERE path=? AND state='running'", (str(target),))
        assert second and second[0]["fingerprint"] != first
        new_fp = second[0]["fingerprint"]
        t0 = time.monotonic()
        assert d.stop(signal.SIGTERM) == 0
        assert time.monotonic() - t0 < 20  # grace 0.5 s, then requeued: not the whole pass
    row = d.query("SELECT state, last_error, attempts FROM passes WHERE fingerprint=?", (new_fp,))[0]
    assert row["state"] == "queued" and "daemon stopped" in row["last_error"]
    assert row["attempts"] == 0  # a requeue at shutdown is not a failed attempt
    with d:
        d.start()
        d.wait_metric("kinod_cards_done_total", 1, timeout=90, outcome="done")
        d.stop()
    side = d.sidecar("C001/GROW.ts")
    assert side["probe"]["duration_s"] > 15
    assert side["source"]["fingerprint"] != first


def test_poll_mode_restart_rescan_reload_and_state_commands(tmp_path: Path, clips: dict[str, Path]) -> None:
    d = Daemon(tmp_path, mode="poll", settle=0.5)
    with d:
        d.start()
        shutil.copytree(clips["a"].parent, d.root / "P001", ignore=shutil.ignore_patterns("long*", "b*"))
        d.wait_metric("kinod_cards_done_total", 1, outcome="done")
        assert d.metric("kinod_watch_root_polling") == 1
        assert d.stop() == 0
    # while kinod is down: a new card, and a new clip in the card it already did
    shutil.copy(clips["b"], tmp_path / "b.mov")
    (d.root / "P002").mkdir()
    shutil.copy(clips["b"], d.root / "P002" / "B.mov")
    make_clip(d.root / "P001" / "extra.mp4", 1, src="mandelbrot")
    d.mode = "inotify"
    d.write_config()
    with d:
        d.start()
        d.wait_metric("kinod_cards_done_total", 2, outcome="done")
        assert d.metric("kinod_watch_root_polling") == 0
        assert d.sidecar("P002/B.mov")["analyses"]["shots"]
        assert d.sidecar("P001/extra.mp4")["analyses"]["shots"]
        done = Counter(e["analyzer"] for e in d.events("done"))
        assert done["shots"] == 3  # a.mp4 was not analysed again
        rc, out = kinod_command(d.config, "status")
        assert rc == 0 and "running, pid" in out and str(d.root / "P002") in out
        # SIGHUP with a changed analyzer config: only that analyzer runs again, on every clip
        d.write_config(d.extra + "[analyzers.shots]\nthreshold = 40.0\n")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_metric("kinod_jobs", 6, analyzer="shots", state="done")
        # the job is counted done before its clip's sidecar is written again: wait for that
        d.wait_for(
            lambda: d.sidecar("P001/a.mp4")["analyses"]["shots"]["config"]["threshold"] == 40.0,
            30,
            "a.mp4's sidecar to be written with the new threshold",
        )
        # a renamed clip is not analysed again: its sidecar follows it
        shots_runs = len([e for e in d.events("done") if e["analyzer"] == "shots"])
        (d.root / "P001" / "extra.mp4").rename(d.root / "P001" / "renamed.mp4")
        d.wait_for(lambda: (d.out / "P001" / "renamed.mp4.kino.json").exists(), 30, "the renamed clip's sidecar")
        assert len([e for e in d.events("done") if e["analyzer"] == "shots"]) == shots_runs
        assert d.sidecar("P001/renamed.mp4")["source"]["path"] == str(d.root / "P001" / "renamed.mp4")
        # a broken config is refused and the daemon goes on with the old one
        d.config.write_text(d.config.read_text() + "\n[watch\n")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_for(lambda: "reload refused" in d.log_text(), 10, "the reload to be refused")
        assert d.healthy()
        d.write_config()
        rc, out = kinod_command(d.config, "forget", str(d.root / "P002"))
        assert rc == 0 and "forgot 1 card(s)" in out
        rc, out = kinod_command(d.config, "status", "--json")
        assert str(d.root / "P002") not in out
        d.proc.send_signal(signal.SIGHUP)  # reload rescans: the forgotten card is new again
        d.wait_for(
            lambda: d.query("SELECT state FROM cards WHERE path=? AND state='done'", (str(d.root / "P002"),)),
            30,
            "the forgotten card to be done again",
        )
        assert d.stop() == 0
    assert "Traceback" not in d.log_text()


def test_a_renamed_clip_takes_its_outputs_along(tmp_path: Path, clips: dict[str, Path]) -> None:
    with Daemon(tmp_path) as d:
        d.start()
        card = d.root / "R001"
        card.mkdir()
        shutil.copy(clips["a"], card / "C001.mp4")
        d.wait_metric("kinod_cards_done_total", 1, timeout=60, outcome="done")
        old = [d.out / "R001" / f"C001.mp4{s}" for s in (".kino.json", ".otio")]
        assert all(p.is_file() for p in old)
        (card / "C001.mp4").rename(card / "C009.mp4")
        d.wait_for(lambda: (d.out / "R001" / "C009.mp4.kino.json").is_file(), 60, "the renamed clip's sidecar")
        d.wait_for(lambda: not any(p.exists() for p in old), 30, "the old name's outputs to go")
        assert d.sidecar("R001/C009.mp4")["source"]["path"].endswith("C009.mp4")
        assert d.stop() == 0
