"""The daemon and ``kinod scan`` find the same clips on a card mixing movies, image sequences and stills."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from daemon_harness import Daemon, make_clip
from seqkit import dpx_headers, frames

from kinod.cli.main import main


def _stage(base: Path) -> Path:
    card = base / "DAY1"
    make_clip(card / "C001.mp4", 1)
    for p in frames(card / "SCAN", "A001C003.%07d.dpx", 86400, args=["-pix_fmt", "gbrp10le"]):
        dpx_headers(p, tc="10:00:00:00", tv_rate=25.0)
    (card / "SCAN" / "A001C003.0086430.dpx").unlink()  # a gap
    frames(card / "VFX", "plate_v002.%04d.png", 1001)
    frames(card / "VFX", "plate_v003.%04d.png", 1001, [("testsrc2", 12)])
    frames(card / "STILLS", "poster.jpg", 1, [("testsrc2", 1)], args=["-update", "1"])
    frames(card / "STILLS", "board_%02d.jpg", 7, [("testsrc2", 1)])  # one numbered still: a still
    return card


def _clips(out: Path) -> dict[str, tuple]:
    """Each clip's sidecar (card-relative) with what it says about frames, rate and timecode."""
    found = {}
    for side in sorted(out.rglob("*.kino.json")):
        if side.name == "card.kino.json":
            continue
        d = json.loads(side.read_text())
        seq = d.get("sequence") or {}
        tl = d["timeline"]
        facts = (tl["rate"], tl["frames"], tl["start_tc"], tl["tc_source"], d["source"]["fingerprint"])
        found[str(side.relative_to(out))] = (*facts, seq.get("count"), [g["first"] for g in seq.get("gaps", [])])
    return found


def test_daemon_and_scan_agree_on_a_mixed_card(tmp_path: Path) -> None:
    (tmp_path / "stage").mkdir()
    staged = _stage(tmp_path / "stage")
    with Daemon(tmp_path / "d") as d:
        d.start()
        shutil.move(str(staged), d.root / "DAY1")
        d.wait_metric("kinod_cards_done_total", 1, timeout=120, outcome="done")
        d.wait_for(lambda: (d.out / "DAY1" / "card.kino.json").exists(), 30, "the card report")
        assert d.stop() == 0
    daemon = _clips(d.out / "DAY1")
    scan_base = tmp_path / "scan"
    scan_base.mkdir()
    cfg = scan_base / "kinod.toml"
    cfg.write_text('[output]\nroot = "out"\n[state]\ndir = "var"\n[analyzers]\nenabled = ["shots"]\n')
    assert main(["--config", str(cfg), "scan", str(d.root / "DAY1")]) == 0
    scanned = _clips(scan_base / "out" / "DAY1")
    assert scanned == daemon
    assert sorted(daemon) == [
        "C001.mp4.kino.json",
        "SCAN/A001C003.0086400.dpx.kino.json",
        "VFX/plate_v002.1001.png.kino.json",
        "VFX/plate_v003.1001.png.kino.json",
    ]
    assert daemon["SCAN/A001C003.0086400.dpx.kino.json"][:4] == ("25/1", 60, "10:00:00:00", "dpx-header")
    assert daemon["SCAN/A001C003.0086400.dpx.kino.json"][5:] == (59, [86430])
    report = json.loads((d.out / "DAY1" / "card.kino.json").read_text())
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert skipped["STILLS/poster.jpg"] == skipped["STILLS/board_07.jpg"] == "still image"
