"""Check the shipped Grafana dashboard and Prometheus rules against what kinod exports.

Run: .venv/bin/python exporters/check_monitoring.py

Without Prometheus: every query's ``kinod_*`` names must be exported by a coordinator
(``Metrics``) or a worker (``WorkerMetrics``); panels have unique ids, a position and a
query in every target; every ``$variable`` a query uses is defined; every alert has a
severity, a summary and a description. With ``promtool`` on the PATH (Debian/Ubuntu:
``apt install prometheus``) it also runs ``promtool check rules`` and ``promtool test
rules`` on a worker that disappears, so the real rule engine says KinodWorkerDown fires
and names the worker, its host and its queues. Exit status 1 on any problem.
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
DASHBOARD = HERE / "grafana" / "kinod-dashboard.json"
RULES = HERE / "prometheus" / "kinod-rules.yml"

WORKER_DOWN_TEST = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'kinod_worker_info{{worker="gpu-1", host="render2", queues="gpu", instance="render2:9465"}}'
        values: '1x10 _x30'
      - series: 'kinod_worker_info{{worker="cpu-1", host="render2", queues="pass,cpu", instance="render2:9466"}}'
        values: '1x40'
    alert_rule_test:
      - eval_time: 25m
        alertname: KinodWorkerDown
        exp_alerts:
          - exp_labels: {{severity: warning, worker: gpu-1, host: render2, queues: gpu}}
            exp_annotations:
              summary: "kinod worker gpu-1 on render2 is down (queues gpu)"
              description: "Check `systemctl status 'kinod-worker@*'` on render2; `kinod status` lists held jobs."
"""


def exported_names() -> set[str]:
    """Every sample name a coordinator and a worker export, with and without _total/_bucket."""
    import socket

    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from kinod.config import Config
    from kinod.jobs.dramatiq_executor import DistCollector, DramatiqExecutor
    from kinod.jobs.store import JobSpec, JobStore, job_key
    from kinod.service.metrics import Metrics
    from kinod.service.worker import WorkerMetrics

    with tempfile.TemporaryDirectory() as tmp, socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # a port nothing listens on: the broker is "down", its gauges still exported
        base = Config()
        cfg = base.model_copy(
            update={
                "state": base.state.model_copy(update={"dir": Path(tmp)}),
                "broker": base.broker.model_copy(update={"url": f"redis://127.0.0.1:{s.getsockname()[1]}/0"}),
            }
        )
        store = JobStore(Path(tmp) / "kinod.sqlite")
        store.clips.upsert("fp", "/r/A001/a.mov", 1, "A001", "queued", card_path="/r/A001")
        store.cards.upsert("/r/A001", root="/r", path="/r/A001", name="A001", loose=False, state="queued")
        store.queue.enqueue(
            [JobSpec(job_key("fp", "shots", "1", "c", None), "fp", "shots", "1", "c", None, "/r/A001/a.mov")]
        )
        m = Metrics(store, ["shots"], roots=["/r"])
        m.card_eta("/r/A001", 1.0)
        dist = CollectorRegistry()
        dist.register(DistCollector(DramatiqExecutor(cfg, {"shots": None})))  # type: ignore[arg-type]
        w = WorkerMetrics("w")
        w.describe("h", ["pass"], 1)
        w.info.labels("w", "k", "shots").set(1)
        text = m.scrape().decode() + w.scrape().decode() + generate_latest(dist).decode()
        store.close()
    names = {s.name for fam in text_string_to_metric_families(text) for s in fam.samples}
    # The broker's gauges (queue depth) need a broker that answers: the ones the collector declares.
    names |= set(re.findall(r'GaugeMetricFamily\(\s*"(kinod_dist_[a-z_]+)"', inspect.getsource(DistCollector)))
    return names | {n.removesuffix("_total") for n in names} | {n.removesuffix("_bucket") for n in names}


def dashboard_problems(exported: set[str]) -> list[str]:
    d = json.loads(DASHBOARD.read_text())
    problems = []
    ids = [p.get("id") for p in d["panels"]]
    if len(ids) != len(set(ids)):
        problems.append(f"panel ids repeat: {sorted(i for i in ids if ids.count(i) > 1)}")
    defined = {v["name"] for v in d.get("templating", {}).get("list", [])} | {"__all", "__interval", "__rate_interval"}
    for p in d["panels"]:
        if "gridPos" not in p:
            problems.append(f"panel {p.get('title')!r} has no gridPos")
        for t in p.get("targets", []):
            expr = t.get("expr", "")
            if not expr:
                problems.append(f"panel {p.get('title')!r}: a target without a query")
            problems += [f"panel {p.get('title')!r}: ${v} is not defined" for v in re.findall(r"\$(\w+)", expr)
                         if v not in defined]  # fmt: skip
            problems += [f"panel {p.get('title')!r}: {n} is not exported" for n in re.findall(r"\bkinod_[a-z_]+", expr)
                         if n not in exported]  # fmt: skip
    return problems


def rules_problems(exported: set[str]) -> list[str]:
    problems = []
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for r in group["rules"]:
            name = r.get("alert", "?")
            if not r.get("labels", {}).get("severity"):
                problems.append(f"{name}: no severity")
            if not {"summary", "description"} <= set(r.get("annotations", {})):
                problems.append(f"{name}: needs a summary and a description")
            problems += [f"{name}: {n} is not exported" for n in re.findall(r"\bkinod_[a-z_]+", r["expr"])
                         if n not in exported]  # fmt: skip
    return problems


def promtool_problems() -> list[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        print("promtool not found: the rule engine checks are skipped (apt install prometheus)")
        return []
    problems = []
    r = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    if r.returncode:
        problems.append(f"promtool check rules: {r.stdout}{r.stderr}")
    with tempfile.TemporaryDirectory() as tmp:
        test = Path(tmp) / "worker_down_test.yml"
        test.write_text(WORKER_DOWN_TEST.format(rules=json.dumps(str(RULES))))
        r = subprocess.run([promtool, "test", "rules", str(test)], capture_output=True, text=True)
        if r.returncode:
            problems.append(f"promtool test rules (KinodWorkerDown): {r.stdout}{r.stderr}")
    print(f"promtool: rules checked, KinodWorkerDown {'FAILED' if r.returncode else 'fires as written'}")
    return problems


def main() -> int:
    exported = exported_names()
    problems = dashboard_problems(exported) + rules_problems(exported) + promtool_problems()
    for p in problems:
        print("PROBLEM:", p)
    print(f"{DASHBOARD.name} and {RULES.name}: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
