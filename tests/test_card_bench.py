"""benchmarks/card.py keeps honest books: its per-analyzer rows add up to what the OS measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures" / "media"
SIGNAL = "shots,black,freeze,silence,loudness,dynamism,picture,technical"


@pytest.mark.skipif(not (FIXTURES / "short_hamilton_clip.mp4").is_file(), reason="fixture media not found")
def test_small_card_rows_add_up_to_the_measured_total(tmp_path: Path) -> None:
    out = tmp_path / "card.json"
    cmd = [sys.executable, str(REPO / "benchmarks" / "card.py"), "--minutes", "0.2", "--configs", "defaults"]
    r = subprocess.run(
        [*cmd, "--analyzers", SIGNAL, "--json", str(out)], capture_output=True, text=True, timeout=900, cwd=REPO
    )
    assert r.returncode == 0, r.stderr[-2000:]
    figures = json.loads(out.read_text())
    run = figures["defaults"]
    rows = run["cpu_by"]
    # Every part is measured where it ran: each task in its worker process, kinod's own
    # work in the coordinator, the worker processes' start-up and the forkserver.
    assert {"decode pass", "kinod", "shots", "picture", "loudness"} <= set(rows), rows
    assert all(v >= 0 for v in rows.values()), rows
    total = sum(rows.values())
    assert abs(total / run["os_cpu_s"] - 1) <= 0.10, (total, run["os_cpu_s"], rows)
    # In-pass analyzers are a share of the pass, not counted twice: the tasks hold them all.
    assert total - rows["kinod"] == pytest.approx(run["tasks_cpu_s"], abs=0.01)
    assert run["sidecars"] >= 11 and 0 < run["first_sidecar_s"] <= run["last_sidecar_s"] <= run["wall_s"]
    assert "real-time factor" in r.stdout and "rows / OS" in r.stdout
