"""Issue 13, item 3: long names fit NAME_MAX; a clip whose outputs cannot be written ends failed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from daemon_harness import Daemon, make_clip

from kinod.media.fsutil import atomic_write_text, fit_name, temp_prefix


def test_fit_name_is_stable_short_and_keeps_the_extension(tmp_path: Path) -> None:
    long = "é" * 120 + ".mp4"  # 244 bytes
    short = fit_name(long, tmp_path)
    assert short == fit_name(long, tmp_path) and short != fit_name("ü" + long[1:], tmp_path)
    assert short.endswith(".mp4") and len(os.fsencode(short)) <= 255 - 16
    assert fit_name("A001C002.MXF", tmp_path) == "A001C002.MXF"
    assert len(os.fsencode(temp_prefix(tmp_path / ("x" * 255)))) + 8 + len(".tmp") <= 255
    atomic_write_text(tmp_path / ("y" * 255), "ok")  # the temp name fits too
    assert (tmp_path / ("y" * 255)).read_text() == "ok"


def test_long_names_get_outputs_and_unwritable_outputs_fail_the_clip(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "src" / "a.mp4", 1)
    other = make_clip(tmp_path / "src" / "b.mp4", 1, src="testsrc")
    with Daemon(tmp_path / "d") as d:
        d.start()
        names = ["L" * 246 + ".mp4", "é" * 125 + ".mp4", "n" * 251 + ".mp4"]  # 250, 254, 255 bytes
        stage = d.base / "stage" / "LONG01"
        stage.mkdir(parents=True)
        for i, n in enumerate(names):
            data = src.read_bytes() + bytes([i])  # distinct content, one clip each
            (stage / n).write_bytes(data)
        stage.rename(d.root / "LONG01")
        d.wait_metric("kinod_cards_done_total", 1, timeout=120)
        assert d.metric("kinod_cards_done_total", outcome="done") == 1, d.log_text()[-3000:]
        out = d.out / "LONG01"
        d.wait_for(lambda: (out / "card.otio").exists(), 30, "the card timeline")  # written after the count
        sidecars = sorted(out.glob("*.kino.json"))
        import json

        got = {json.loads(p.read_text())["source"]["name"] for p in sidecars if p.name != "card.kino.json"}
        assert got == set(names)
        for p in out.rglob("*"):
            assert len(os.fsencode(p.name)) <= 255
            assert not p.name.endswith(".tmp"), p
        assert len(list(out.glob("*.otio"))) == 4  # three clips and the card

        # the card's output folder is blocked by a file: the clip fails with the reason, the card ends
        (d.out / "BLOCK1").write_text("not a folder")
        (d.base / "stage" / "BLOCK1").mkdir()
        shutil.copy(other, d.base / "stage" / "BLOCK1" / "b.mp4")
        (d.base / "stage" / "BLOCK1").rename(d.root / "BLOCK1")
        d.wait_metric("kinod_cards_done_total", 1, outcome="failed", timeout=60)
        row = d.query("SELECT state, last_error FROM clips WHERE path LIKE '%BLOCK1/b.mp4'")[0]
        assert row["state"] == "failed" and "BLOCK1" in row["last_error"], row
        assert "cannot write" in row["last_error"]
        assert d.stop() == 0
