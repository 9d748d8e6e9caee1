"""Issue 13, item 6: kinod's orphaned temp files are removed at start and when a clip is written again."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from daemon_harness import Daemon, make_clip

from kinod.run.tempfiles import is_kinod_temp


def test_temp_name_shapes() -> None:
    assert is_kinod_temp(".B002.mp4.fcp7.xml.k3j9x_2a.tmp")
    assert is_kinod_temp(".A001.mov.kinod-partial.mov")
    assert not is_kinod_temp("notes.tmp") and not is_kinod_temp(".x.tmp") and not is_kinod_temp("B002.mp4.otio")


def test_orphans_removed_at_start_and_on_rewrite(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "src" / "a.mp4", 1)
    d = Daemon(tmp_path / "d")
    # what a kill -9 during a card left behind, an hour ago
    old = [d.out / "B001" / ".B002.mp4.fcp7.xml.k3j9x_2a.tmp", d.out / ".card.otio.abcdefgh.tmp",
           d.out / "B001" / ".B003.mp4.kinod-partial.mov"]
    keep = [d.out / "B001" / "notes.tmp", d.out / "B001" / "B002.mp4.kino.json.orig"]
    for p in old + keep:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
        os.utime(p, (time.time() - 3600, time.time() - 3600))
    with d:
        d.start()
        ev = d.wait_for(lambda: next((e for e in d.log_events()
                                      if e.get("event") == "orphaned temp files removed"), None), 30, "the sweep")
        assert ev["files"] == 3
        assert not any(p.exists() for p in old) and all(p.exists() for p in keep)

        (d.base / "stage" / "C001").mkdir(parents=True)
        shutil.copy(clip, d.base / "stage" / "C001" / "a.mp4")
        (d.base / "stage" / "C001").rename(d.root / "C001")
        d.wait_metric("kinod_cards_done_total", 1)
        # a writer of this clip died after the start: its temp file is new
        orphan = d.out / "C001" / ".a.mp4.kino.json.zz99zz99.tmp"
        orphan.write_text("{")
        # the same clip found on a second card: its outputs are written again
        (d.base / "stage" / "C002").mkdir(parents=True)
        shutil.copy(clip, d.base / "stage" / "C002" / "a.mp4")
        (d.base / "stage" / "C002").rename(d.root / "C002")
        d.wait_metric("kinod_cards_done_total", 2)
        assert not orphan.exists()
        assert d.stop() == 0
    assert not [p for p in d.out.rglob("*.tmp") if p.name != "notes.tmp"]
