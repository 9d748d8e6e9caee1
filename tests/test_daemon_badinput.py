"""Bad input under the real daemon: clear errors, the daemon keeps running, metrics show it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from daemon_harness import Daemon, kinod_command, make_clip, without_root_override


def test_bad_input_is_reported_and_the_daemon_goes_on(tmp_path: Path) -> None:
    base = tmp_path
    prefix = without_root_override()
    if prefix is None:
        pytest.skip("running as root without setpriv: root would read the unreadable file")
    slow = "[media]\ndecode_threads = 1\nanalysis_width = 960\n"
    d = Daemon(base, roots=("footage", "share"), extra=slow, prefix=prefix)
    src = base / "src"
    good = make_clip(src / "good.mp4", 2)
    # long enough that its pass is still decoding 1 s after it started, even on a fast, idle machine
    long = make_clip(src / "long.mp4", 60, size="1280x720")
    with d:
        d.start()
        # a card with a good clip, an unreadable one, a symlink loop and a file that is not media
        card = base / "staging" / "BAD001"
        card.mkdir(parents=True)
        shutil.copy(good, card / "good.mp4")
        shutil.copy(good, card / "locked.mp4")
        (card / "locked.mp4").write_bytes((card / "locked.mp4").read_bytes() + b"locked")  # its own content
        (card / "locked.mp4").chmod(0)
        os.symlink("loop.mov", card / "loop.mov")
        (card / "notes.mov").write_text("this is not a movie\n")
        card.rename(d.root / "BAD001")
        d.wait_metric("kinod_cards_done_total", 1, outcome="failed")
        assert d.metric("kinod_errors_total", kind="unreadable") >= 1
        assert d.metric("kinod_errors_total", kind="symlink_loop") >= 1
        assert d.metric("kinod_jobs", analyzer="pass", state="failed") >= 1  # notes.mov
        good_side = d.sidecar("BAD001/good.mp4")
        assert good_side["errors"] == [] and good_side["analyses"]["shots"]
        locked = d.sidecar("BAD001/locked.mp4")
        assert "locked.mp4" in locked["errors"][0]["message"]
        assert "permission denied" in locked["errors"][0]["message"].lower()
        notes = d.sidecar("BAD001/notes.mov")
        assert notes["errors"] and "notes.mov" in notes["errors"][0]["message"]
        assert "symbolic link loop" in d.log_text()
        # `kinod retry` while the daemon runs: the failed clip is tried again (and fails again, clearly)
        rc, out = kinod_command(d.config, "retry", str(d.root / "BAD001"))
        assert rc == 0 and "queued 2 task(s) of 1 clip(s)" in out and "running daemon" in out
        notes_pass = "pass:" + d.query("SELECT fingerprint FROM clips WHERE path LIKE '%notes.mov'")[0]["fingerprint"]
        d.wait_for(
            lambda: len(d.query("SELECT 1 FROM job_events WHERE key=? AND event='failed'", (notes_pass,))) >= 2,
            30,
            "the retried pass to fail again",
        )
        d.wait_metric("kinod_cards_done_total", 2, outcome="failed")

        # a file deleted while its job runs
        (d.root / "DEL001").mkdir()
        shutil.copy(long, d.root / "DEL001" / "gone.mp4")
        gone = d.root / "DEL001" / "gone.mp4"
        # The pass records how far it has decoded: delete the file once frames have come
        # out (the decode is under way) and long before the 500-frame clip is through.
        d.wait_for(
            lambda: d.query(
                "SELECT 1 FROM passes WHERE path=? AND state='running' AND frames_done > 0", (str(gone),)
            ),
            60,
            "the pass of gone.mp4 to be decoding",
        )
        gone.unlink()
        d.wait_metric("kinod_errors_total", 1, kind="vanished")

        def ended() -> list[dict[str, object]]:
            return d.query(
                "SELECT state, last_error FROM passes WHERE path=? AND state IN ('cancelled','failed')", (str(gone),)
            )

        row = d.wait_for(ended, 30, "the pass of the deleted file to end")[0]
        assert "gone.mp4" in str(row["last_error"]) and "delete" in str(row["last_error"])
        clip = d.query("SELECT state, last_error FROM clips WHERE path=?", (str(gone),))[0]
        assert clip["state"] in ("cancelled", "missing")
        assert not (d.out / "DEL001" / "gone.mp4.kino.json").exists()

        # a watch root that vanishes (an unmounted share), then comes back
        share = d.roots[1]
        assert d.metric("kinod_watch_root_up", root=str(share)) == 1
        share.rename(base / "share-unmounted")
        d.wait_metric("kinod_errors_total", 1, kind="root_unreachable")
        assert d.metric("kinod_watch_root_up", root=str(share)) == 0
        assert d.healthy()
        (base / "share-unmounted").rename(share)
        d.wait_metric("kinod_watch_root_up", 1, root=str(share))
        (share / "S001").mkdir()
        shutil.copy(good, share / "S001" / "after.mp4")
        d.wait_for(lambda: (d.out / "S001" / "after.mp4.kino.json").exists(), 60, "the share to be watched again")
        assert d.healthy()
        assert d.stop() == 0
    log = d.log_text()
    assert "Traceback" not in log
    lines = [json.loads(x) for x in log.splitlines() if x.startswith("{")]
    down = [x for x in lines if x.get("event") == "watch root down"]
    assert down and "not reachable" in down[0]["error"] and down[0]["root"].endswith("share")
