"""Issue 13, item 7: the small defects, each under the real daemon."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from daemon_harness import Daemon, make_clip

#: Imported by the daemon's interpreter at start (PYTHONPATH): a "library" that logs
#: through stdlib logging when the test sends SIGUSR1, like faster-whisper does.
LIBRARY = '''
import logging, signal
def _say(*_):
    logging.getLogger("faster_whisper").warning("Processing audio with duration %s", "00:03.000")
signal.signal(signal.SIGUSR1, _say)
'''


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("media") / "a.mp4", 1, extra=("-movflags", "+faststart"))


def test_library_logging_roots_metrics_and_a_zero_byte_clip(tmp_path: Path, clip: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(LIBRARY)
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    with Daemon(tmp_path / "d", roots=("footage", "share"), env=env) as d:
        d.start()
        # stdlib logging from a library is a JSON line with level and logger name
        d.proc.send_signal(signal.SIGUSR1)  # type: ignore[union-attr]
        line = d.wait_for(
            lambda: next((e for e in d.log_events() if "Processing audio" in str(e.get("event"))), None),
            30, "the library's log line as JSON",
        )
        assert line["level"] == "warning" and line["logger"] == "faster_whisper"
        assert "00:03.000" in line["event"]
        assert not [x for x in d.log_text().splitlines() if "Processing audio" in x and not x.startswith("{")]

        # a card with a good clip and a zero-byte one: the empty one gets an error sidecar
        stage = d.base / "stage" / "Z001"
        stage.mkdir(parents=True)
        shutil.copy(clip, stage / "good.mp4")
        (stage / "empty.mp4").write_bytes(b"")
        stage.rename(d.root / "Z001")
        d.wait_metric("kinod_cards_done_total", 1)
        side = d.sidecar("Z001/empty.mp4")
        assert side["errors"] and "empty" in side["errors"][0]["message"], side["errors"]
        assert d.sidecar("Z001/good.mp4")["errors"] == []

        # in-pass analyzers count as started as well as finished
        started = d.metric("kinod_jobs_started_total", analyzer="shots")
        finished = d.metric("kinod_jobs_finished_total", analyzer="shots")
        assert started >= 1 and started == finished

        # a watch root removed by a reload is no longer exported
        share = str(d.roots[1])
        assert ("kinod_watch_root_up", frozenset({("root", share)})) in d.scrape()
        d.roots = d.roots[:1]
        d.write_config()
        d.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
        d.wait_for(lambda: any(e.get("event") == "config reloaded" for e in d.log_events()), 30, "reload")
        m = d.scrape()
        assert ("kinod_watch_root_up", frozenset({("root", share)})) not in m
        assert m[("kinod_watch_root_up", frozenset({("root", str(d.root))}))] == 1
        assert d.stop() == 0
    assert "Traceback" not in d.log_text()


def test_status_into_a_closed_pipe_exits_quietly(tmp_path: Path, clip: Path) -> None:
    with Daemon(tmp_path) as d:
        d.start()
        for i in range(3):
            shutil.copy(clip, d.base / f"c{i}.mp4")
            (d.root / f"C{i:03d}").mkdir()
            (d.base / f"c{i}.mp4").rename(d.root / f"C{i:03d}" / "x.mp4")
        d.wait_metric("kinod_cards_done_total", 1)
        # the reader is gone before kinod writes a byte: every write is EPIPE
        p = subprocess.Popen(
            [sys.executable, "-m", "kinod.cli.main", "--config", str(d.config), "status"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=d.base,
        )
        assert p.stdout is not None and p.stderr is not None
        p.stdout.close()
        err = p.stderr.read().decode()
        rc = p.wait(timeout=60)
        assert "Traceback" not in err and "BrokenPipeError" not in err, err
        assert rc == 141
        d.stop()


def test_growing_clip_card_counted_once_and_sparse_file_warned(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "src" / "long.ts", 20, size="1280x720")
    small = make_clip(tmp_path / "src" / "small.mp4", 1, extra=("-movflags", "+faststart"))
    # No card hashes: reading the 20 GiB of holes below takes seconds alone and minutes on a
    # loaded machine, and the card's hashes are not what this test is about.
    extra = "[media]\ndecode_threads = 1\nanalysis_width = 960\n[cards]\nrecord_hashes = []\n"
    with Daemon(tmp_path / "d", extra=extra) as d:
        d.start()
        card = d.root / "G001"
        card.mkdir()
        grow = card / "grow.ts"
        shutil.copy(src, grow)
        d.wait_for(lambda: d.query("SELECT 1 FROM passes WHERE state='running'"), 60, "the pass to start")
        with open(grow, "ab") as fh:  # the copy was not over after all
            fh.write(src.read_bytes()[: 188 * 2000])
        d.wait_for(lambda: d.query("SELECT 1 FROM clips WHERE path=? AND state='done'", (str(grow),)), 120,
                   "the grown clip to be done")
        # a second card, done after the first: then the first card's count is final
        sparse_card = d.base / "stage" / "S001"
        sparse_card.mkdir(parents=True)
        shutil.copy(small, sparse_card / "big.mp4")
        with open(sparse_card / "big.mp4", "r+b") as fh:
            fh.truncate(20 * 2**30)  # a valid header, then 20 GiB of holes
        sparse_card.rename(d.root / "S001")
        d.wait_metric("kinod_cards_done_total", 2)
        d.wait_for(lambda: (d.out / "S001" / "big.mp4.kino.json").exists(), 30, "sparse sidecar")
        assert d.metric("kinod_cards_done_total") == 2
        finished = [e for e in d.log_events() if e.get("event") == "card finished" and "G001" in e["card"]]
        assert len(finished) == 1, finished
        side = d.sidecar("S001/big.mp4")
        msgs = [e["message"] for e in side["errors"] if e["stage"] == "integrity"]
        assert msgs and "holes" in msgs[0] and "20.0 GiB" in msgs[0], side["errors"]
        d.stop()
