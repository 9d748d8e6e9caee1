"""The card's edges in the real daemon: MHL verified before analysis, report and card timelines after."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import opentimelineio as otio
import pytest
from cardkit import write_ascmhl, xxh64
from daemon_harness import Daemon, make_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    return {"a": make_clip(d / "a.mp4", 2, src="testsrc2"), "b": make_clip(d / "b.mov", 2, src="testsrc")}


def _stage(tmp: Path, clips: dict[str, Path], name: str, wrong_hash: bool) -> Path:
    card = tmp / name
    card.mkdir()
    shutil.copy(clips["a"], card / "C001.mp4")
    shutil.copy(clips["b"], card / "C002.mov")
    hashes = {rel: {"xxh64": xxh64(card / rel)} for rel in ("C001.mp4", "C002.mov")}
    if wrong_hash:
        hashes["C002.mov"] = {"xxh64": "0123456789abcdef"}
    write_ascmhl(card, hashes)
    return card


def test_verified_card_gets_report_and_card_timelines(tmp_path: Path, clips: dict[str, Path]) -> None:
    (tmp_path / "stage").mkdir()
    staged = _stage(tmp_path / "stage", clips, "A001", wrong_hash=False)
    with Daemon(tmp_path) as d:
        d.start()
        shutil.move(str(staged), d.root / "A001")
        d.wait_metric("kinod_cards_done_total", 1, timeout=90, outcome="done")
        # the report and card timelines are written just after the card is counted
        d.wait_for(lambda: (d.out / "A001" / "card.otio").exists(), 30, "the card timeline")
        report = json.loads((d.out / "A001" / "card.kino.json").read_text())
        assert (d.out / "A001" / "card.html").read_text().lstrip().lower().startswith("<!doctype html")
        text = json.dumps(report)
        assert "C001.mp4" in text and "C002.mov" in text
        assert not list((d.root / "A001").glob("card.*"))  # never written into the card
        tl = otio.adapters.read_from_file(str(d.out / "A001" / "card.otio"))
        assert [c.name for c in tl.find_clips()] == ["C001.mp4", "C002.mov"]
        assert d.stop() == 0


def test_card_with_wrong_mhl_hash_is_not_analysed(tmp_path: Path, clips: dict[str, Path]) -> None:
    (tmp_path / "stage").mkdir()
    staged = _stage(tmp_path / "stage", clips, "B001", wrong_hash=True)
    with Daemon(tmp_path) as d:
        d.start()
        shutil.move(str(staged), d.root / "B001")
        d.wait_metric("kinod_cards_done_total", 1, timeout=90, outcome="failed")
        assert not list(d.out.rglob("*.kino.json")) or all(
            p.name == "card.kino.json" for p in d.out.rglob("*.kino.json")
        )
        assert "C002.mov" in d.log_text()
        # the report is written just after the card is counted
        d.wait_for(lambda: (d.out / "B001" / "card.kino.json").exists(), 30, "the card report")
        report = json.loads((d.out / "B001" / "card.kino.json").read_text())
        assert "C002.mov" in json.dumps(report)
        assert d.stop() == 0
