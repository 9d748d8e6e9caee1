"""Progress a person can follow: ``kinod run --once`` says which card and clip it is on, and when it will be done."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from daemon_harness import Daemon, kinod_command, make_clip


def test_run_once_logs_each_card_and_clip_as_it_starts_with_position_and_eta(tmp_path: Path) -> None:
    d = Daemon(tmp_path)
    card = d.root / "A001"
    card.mkdir()
    for i, src in enumerate(("testsrc", "testsrc2", "smptebars")):
        make_clip(card / f"C{i:03d}.mp4", 1, src=src)
    r = subprocess.run(
        [sys.executable, "-m", "kinod.cli.main", "--config", str(d.config), "run", "--once"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    events = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    # Something is said before any work is done: the card, then its clips as they start.
    assert names.index("card ready") < names.index("card queued") < names.index("card started")
    started = [e for e in events if e["event"] == "clip started"]
    assert sorted(e["position"] for e in started) == ["1/3", "2/3", "3/3"]
    assert all(e["card"] == str(card) and "eta_s" in e for e in started)
    # Two slots: the third clip starts once a task is done, so its ETA comes from that rate.
    assert started[0]["eta_s"] is None and isinstance(started[-1]["eta_s"], int | float), started
    code, out = kinod_command(d.config, "status", "--json")
    assert code == 0
    (row,) = json.loads(out)["cards"]
    assert row["state"] == "done" and "eta_s" in row
    code, out = kinod_command(d.config, "status")
    assert "ETA" in out.splitlines()[3]


def test_card_eta_follows_the_rate_of_its_finished_clips(tmp_path: Path) -> None:
    from kinod.jobs.store import JobStore

    store = JobStore(tmp_path / "kinod.sqlite")
    try:
        assert store.cards.eta("/nowhere").eta_s is None  # nothing known: no guess
    finally:
        store.close()
