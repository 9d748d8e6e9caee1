"""exporters/check_monitoring.py (named in the README) passes on the shipped dashboard and rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_dashboard_and_rules_pass_the_monitoring_check() -> None:
    r = subprocess.run(
        [sys.executable, str(REPO / "exporters" / "check_monitoring.py")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 problem(s)" in r.stdout
