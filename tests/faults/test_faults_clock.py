"""Issue 13: the wall clock jumps an hour forward, then an hour back, while the real daemon works.

The daemon's interpreter gets a ``sitecustomize`` that adds an offset to ``time.time``
(CLOCK_REALTIME, what an NTP step or a wrong RTC moves; ``time.monotonic`` stays, as it
does on a real jump), changed with SIGUSR2. Leases, heartbeats and job times use the
wall clock, so a jump must not make the daemon take back its own running work or
run a job twice.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections import Counter
from pathlib import Path

from daemon_harness import Daemon, make_clip

CLOCK = '''
import os, signal, time
_real = time.time
_offset = [0.0]
def _time():
    return _real() + _offset[0]
time.time = _time
def _jump(*_):
    with open(os.environ["KINOD_TEST_CLOCK"]) as fh:
        _offset[0] = float(fh.read())
signal.signal(signal.SIGUSR2, _jump)
'''


def test_clock_jumps_forward_and_back(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(CLOCK)
    offset = tmp_path / "offset"
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "KINOD_TEST_CLOCK": str(offset)}
    long = make_clip(tmp_path / "src" / "long.mp4", 12, size="640x360")
    short = make_clip(tmp_path / "src" / "short.mp4", 1, src="testsrc")
    d = Daemon(tmp_path / "d", env=env, extra="[media]\ndecode_threads = 1\nanalysis_width = 960\n")

    def jump(seconds: float) -> None:
        offset.write_text(str(seconds))
        d.proc.send_signal(signal.SIGUSR2)  # type: ignore[union-attr]

    with d:
        d.start()
        (d.base / "stage" / "J001").mkdir(parents=True)
        shutil.copy(long, d.base / "stage" / "J001" / "long.mp4")
        (d.base / "stage" / "J001").rename(d.root / "J001")
        d.wait_for(lambda: d.query("SELECT 1 FROM passes WHERE state='running'"), 60, "the pass to run")
        jump(3600.0)  # an hour forward while the pass runs: its lease must not look expired to us
        d.wait_metric("kinod_cards_done_total", 1, timeout=120)
        (d.base / "stage" / "J002").mkdir(parents=True)
        shutil.copy(short, d.base / "stage" / "J002" / "short.mp4")
        jump(0.0)  # and back: an hour in the past
        (d.base / "stage" / "J002").rename(d.root / "J002")
        d.wait_metric("kinod_cards_done_total", 2, timeout=120)
        assert d.metric("kinod_cards_done_total", outcome="done") == 2, d.log_text()[-3000:]
        assert d.healthy()
        assert d.stop() == 0
    done = Counter(e["key"] for e in d.events("done"))
    assert done and all(n == 1 for n in done.values()), done
    assert len(done) == 4  # two passes and two shots jobs
    assert not [e for e in d.log_events() if "took back" in str(e.get("event"))]
    assert "Traceback" not in d.log_text()
