"""Metrics: every series the dashboard and alerts query exists, the HTTP endpoints, the exporter files."""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kinod.jobs.store import JobSpec, JobStore, job_key
from kinod.jobs.tasks import Need, Task, TaskOutcome
from kinod.service.metrics import Metrics, MetricsServer, parse_listen

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "exporters" / "grafana" / "kinod-dashboard.json"
RULES = REPO / "exporters" / "prometheus" / "kinod-rules.yml"


def queried_metrics() -> dict[str, set[str]]:
    """kinod_* names in every query of the dashboard and of the alert rules, by file."""
    dash: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("expr", "query", "definition") and isinstance(v, str):
                    dash.update(re.findall(r"\bkinod_[a-z_]+", v))
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(DASHBOARD.read_text()))
    rules = set(re.findall(r"\bkinod_[a-z_]+", RULES.read_text()))
    return {"dashboard": dash, "rules": rules}


def _exported(text: str) -> set[str]:
    names = set()
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            names.add(s.name)
    return names


@pytest.fixture
def metrics(tmp_path: Path) -> Metrics:
    store = JobStore(tmp_path / "kinod.sqlite")
    fp = "fp"
    store.clips.upsert(fp, "/f/A001/a.mov", 1, "A001", "queued", card_path="/f/A001")
    store.cards.upsert("/f/A001", root="/f", path="/f/A001", name="A001", loose=False, state="queued")
    store.queue.enqueue([JobSpec(job_key(fp, "shots", "1", "c", None), fp, "shots", "1", "c", None, "/f/A001/a.mov")])
    m = Metrics(store, ["shots"], roots=["/f"])
    task = Task("pass:fp", "pass", fp, "/f/A001/a.mov", "pass", Need())
    m.task_started(task)
    outcome = TaskOutcome("pass:fp", "done", elapsed_s=0.5, media_seconds=2.0, records={"shots": {}})
    outcome.cpu_s, outcome.hook_cpu = 1.5, {"shots": 0.25}
    m.task_finished(task, outcome, "done")
    m.card_eta("/f/A001", 30.0)  # the progress observer sets it while a card is in progress
    return m


def test_every_metric_the_dashboard_and_rules_query_is_exported(metrics: Metrics) -> None:
    exported = _exported(metrics.scrape().decode())
    for where, names in queried_metrics().items():
        assert names, f"no kinod metrics found in the {where}"
        # kinod_dist_*/kinod_worker_*: a dramatiq coordinator and its workers (tests/test_dist_units.py)
        missing = sorted(n for n in names if n not in exported and not n.startswith(("kinod_dist_", "kinod_worker_")))
        assert not missing, f"the {where} queries metrics kinod does not export: {missing}"


def test_values_from_events_and_from_the_state_file(metrics: Metrics) -> None:
    text = metrics.scrape().decode()
    assert 'kinod_jobs{analyzer="shots",state="queued"} 1.0' in text
    assert 'kinod_jobs_finished_total{analyzer="shots",outcome="done"} 1.0' in text  # ran inside the pass
    assert 'kinod_realtime_factor{analyzer="pass"} 4.0' in text
    assert "kinod_media_seconds_processed_total 2.0" in text
    assert 'kinod_card_jobs{card="A001",state="queued"} 1.0' in text
    assert 'kinod_errors_total{kind="unreadable"} 0.0' in text  # present before the first error
    assert re.search(r"kinod_oldest_queued_job_age_seconds \d", text)
    assert 'kinod_build_info{python="' in text
    # in-pass analyzers by their hooks, the pass by the rest of its CPU
    assert 'kinod_analyzer_cpu_seconds_total{analyzer="shots"} 0.25' in text
    assert 'kinod_analyzer_cpu_seconds_total{analyzer="pass"} 1.25' in text
    assert 'kinod_card_eta_seconds{card="/f/A001"} 30.0' in text


def test_card_eta_series_goes_when_the_card_is_done(metrics: Metrics) -> None:
    metrics.card_eta("/f/A001", None)
    assert "kinod_card_eta_seconds{" not in metrics.scrape().decode()


def test_http_endpoints(metrics: Metrics) -> None:
    healthy = {"ok": True}
    server = MetricsServer("127.0.0.1:0", metrics, lambda: (healthy["ok"], {"status": "x"}))
    server.start()
    base = f"http://{server.address}"
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
            assert b"kinod_jobs" in r.read()
        with urllib.request.urlopen(base + "/healthz", timeout=5) as r:
            assert r.status == 200 and json.loads(r.read()) == {"status": "x"}
        healthy["ok"] = False
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + "/healthz", timeout=5)
        assert e.value.code == 503
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + "/nope", timeout=5)
        assert e.value.code == 404
        # a port that is taken: a clear error naming the setting
        with pytest.raises(OSError, match=r"metrics.listen = .*cannot listen"):
            MetricsServer(server.address, metrics, lambda: (True, {}))
    finally:
        server.stop()


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:9464") == ("::1", 9464)
    assert parse_listen(":9464") == ("0.0.0.0", 9464)
    for bad in ("9464", "host:port", "h:70000"):
        with pytest.raises(ValueError, match=r"metrics\.listen"):
            parse_listen(bad)
    with socket.socket() as s:  # sanity: the default is a loopback address
        s.bind(parse_listen("127.0.0.1:0"))


def test_dashboard_is_import_ready() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["__inputs"][0]["name"] == "DS_PROMETHEUS" and dash["__inputs"][0]["pluginId"] == "prometheus"
    assert dash["uid"] and dash["title"] and dash["id"] is None
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    titles = {p["title"] for p in dash["panels"]}
    for wanted in (
        "Job progress by card",
        "Jobs finished per minute",
        "Realtime factor by analyzer",
        "Queue age and length",
        "Input and storage problems (per 15 min)",
    ):
        assert wanted in titles
    for p in dash["panels"]:
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${DS_PROMETHEUS}" and p["targets"]


def test_alert_rules_are_well_formed() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed; the rules are checked by name only")
    doc = yaml.safe_load(RULES.read_text())
    rules = {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
    assert {"KinodDown", "KinodNoProgress", "KinodJobFailureRate"} <= set(rules)
    for r in rules.values():
        assert r["expr"] and r["for"] and r["labels"]["severity"] and r["annotations"]["summary"]
    assert "30m" in rules["KinodNoProgress"]["expr"]
