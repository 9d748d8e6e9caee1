"""Issue 13, item 2: a file name that is not UTF-8 is stored losslessly and never stops its siblings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from daemon_harness import Daemon, make_clip

BAD = os.fsdecode(b"B\xe9zier_\xff.mp4")  # Latin-1 é and a stray 0xff: not UTF-8


def test_non_utf8_name_is_processed_and_its_siblings_too(tmp_path: Path) -> None:
    src = tmp_path / "src"
    clips = [make_clip(src / f"{i}.mp4", 1, src=s) for i, s in enumerate(("testsrc", "testsrc2", "smptebars"))]
    with Daemon(tmp_path / "d") as d:
        d.start()
        stage = d.base / "stage" / "U001"
        stage.mkdir(parents=True)
        shutil.copy(clips[0], stage / "A001.mp4")
        shutil.copy(clips[1], stage / BAD)
        shutil.copy(clips[2], stage / "Z001.mp4")  # sorted after the bad name
        stage.rename(d.root / "U001")
        d.wait_metric("kinod_cards_done_total", 1, timeout=120)
        assert d.metric("kinod_cards_done_total", outcome="done") == 1, d.log_text()[-3000:]
        out = d.out / "U001"
        for name in ("A001.mp4", "Z001.mp4", BAD):
            side = out / (name + ".kino.json")
            assert side.is_file(), sorted(os.listdir(os.fsencode(out)))
            data = json.loads(side.read_bytes().decode("utf-8"))  # valid UTF-8 JSON, name escaped
            assert data["source"]["name"] == name and data["errors"] == []
            assert os.fsencode(data["source"]["path"]) == os.fsencode(d.root / "U001" / name)
        rows = d.query("SELECT path, state FROM clips")
        assert {os.fsencode(r["path"]) for r in rows} == {os.fsencode(d.root / "U001" / n)
                                                          for n in ("A001.mp4", "Z001.mp4", BAD)}
        assert {r["state"] for r in rows} == {"done"}
        # status prints it escaped, without a traceback
        r = subprocess.run([sys.executable, "-m", "kinod.cli.main", "--config", str(d.config), "status"],
                           capture_output=True, timeout=60, cwd=d.base)
        assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr
        r.stdout.decode("utf-8")
        assert d.stop() == 0
    assert "Traceback" not in d.log_text()
    assert "intake failed" not in d.log_text()
