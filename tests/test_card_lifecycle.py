"""One card lifecycle: ``kinod scan`` and the daemon agree on where cards begin and what a card says.

The tree is a day's offload: a folder holding three card folders (a Sony card, a GoPro
card and a sound recorder's folder with one Broadcast WAV without iXML). Both commands
must make three cards of it, label the WAV's bext start at ``cards.audio_tc_rate`` (the
sound folder has no video of its own), and write the same sidecars and card reports.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from cardkit import bwf, sony_xml, video
from media import FIXTURE_MEDIA

TEN_HOURS_48K = 1_728_000_000  # bext time reference: 10:00:00 time of day at 48 kHz
CARDS = ("A001_SONY", "GOPRO01", "SOUND")
#: Wall-clock facts, left out of the comparison.
_TIMES = {"generated", "generated_at", "elapsed_s", "wall_s", "cpu_s", "updated", "verified_at", "bytes_read"}


def _day(folder: Path) -> Path:
    """DAY1/{A001_SONY (XAVC S at 29.97 with its XML), GOPRO01 (DCIM), SOUND (one BWF, no iXML)}."""
    clip = folder / "A001_SONY" / "PRIVATE" / "M4ROOT" / "CLIP"
    video(clip / "C0001.MP4", rate="30000/1001", seconds=0.6)
    sony_xml(clip / "C0001M01.XML", ltc="40000001")
    gopro = folder / "GOPRO01" / "DCIM" / "100GOPRO"
    gopro.mkdir(parents=True)
    shutil.copyfile(FIXTURE_MEDIA / "delayed_start.mp4", gopro / "GX010042.MP4")
    bwf(folder / "SOUND" / "T001.WAV", channels=2, seconds=0.5, time_reference=TEN_HOURS_48K, ixml=None)
    return folder


def _timeless(node: object, out_dir: Path) -> object:
    """The JSON without wall-clock facts, and with the output root as a placeholder."""
    if isinstance(node, dict):
        return {k: _timeless(v, out_dir) for k, v in node.items() if k not in _TIMES}
    if isinstance(node, list):
        return [_timeless(v, out_dir) for v in node]
    if isinstance(node, str):
        return node.replace(str(out_dir), "<out>")
    return node


def test_a_folder_of_card_folders_is_several_cards(tmp_path: Path) -> None:
    from kinod.watch.cards import CardRef, cards_within, open_cards, scan_card
    from kinod.watch.ignore import RootFilter

    day = _day(tmp_path / "DAY1")
    assert cards_within(scan_card(CardRef(tmp_path, day), RootFilter()).files) == list(CARDS)
    opened = open_cards(CardRef(tmp_path, day), scan_card(CardRef(tmp_path, day), RootFilter()))
    assert [o.ref.path.name for o in opened] == list(CARDS)
    assert all(o.within == CardRef(tmp_path, day) and o.layout is not None for o in opened)
    assert [[c.first.name for c in o.clips] for o in opened] == [["C0001.MP4"], ["GX010042.MP4"], ["T001.WAV"]]
    # a card with a SOUND folder beside its clips, and a GoPro card, each stay one card
    assert cards_within(["A001C001.mp4", "SOUND/T001.WAV"]) == []
    assert cards_within(["DCIM/100GOPRO/GX010042.MP4", "SOUND/T001.WAV"]) == []
    assert cards_within(["A/DCIM/100GOPRO/GX010042.MP4", "B/T001.WAV", "ascmhl/ascmhl_chain.xml"]) == []
    assert cards_within(["A001.RDM/A001_C001.RDC/A001_C001_001.R3D", "A001.RDM/A001_C002.RDC/A001_C002_001.R3D"]) == []


def test_scan_and_run_once_make_the_same_three_cards(tmp_path: Path) -> None:
    """``kinod scan DAY1`` (outside every root) and the daemon, watching the folder that holds
    DAY1 or watching DAY1 itself, make the same three cards with the same sidecars."""
    day = _day(tmp_path / "footage" / "DAY1")
    runs = {  # name: (watch root or None, command, where DAY1's outputs are)
        "run": ("footage", ["run", "--once"], "out-run/DAY1"),
        "run-day": ("footage/DAY1", ["run", "--once"], "out-run-day"),
        "scan": (None, ["scan", str(day)], "out-scan/DAY1"),
    }
    trees = {}
    for how, (root, args, base) in runs.items():
        cfg = tmp_path / f"{how}.toml"
        roots = f'[[watch.roots]]\npath = "{root}"\n' if root else ""
        cfg.write_text(
            f'{roots}[output]\nroot = "out-{how}"\nformats = ["json"]\n'
            f'[state]\ndir = "var-{how}"\n[metrics]\nenabled = false\n'
            '[analyzers]\nenabled = ["shots", "silence"]\n'
        )
        r = subprocess.run(
            [sys.executable, "-m", "kinod.cli.main", "--config", str(cfg), *args],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr[-3000:]
        out = tmp_path / base
        trees[how] = {
            p.relative_to(out).as_posix(): _timeless(json.loads(p.read_text()), out) for p in out.rglob("*.json")
        }
    for how, tree in trees.items():
        assert sorted(n for n in tree if n.endswith("card.kino.json")) == [f"{c}/card.kino.json" for c in CARDS], how
        wav = tree["SOUND/T001.WAV.kino.json"]["probe"]
        assert wav["start_tc"] == "10:00:00:00", how  # at cards.audio_tc_rate, not the Sony card's 29.97
        assert (wav["bwf"]["tc_rate"], wav["bwf"]["tc_rate_source"]) == ("25/1", "cards.audio_tc_rate"), how
    assert sorted(trees["run"]) == sorted(trees["scan"]) == sorted(trees["run-day"])
    for rel in trees["scan"]:
        assert trees["run"][rel] == trees["scan"][rel], rel
        assert trees["run-day"][rel] == trees["scan"][rel], rel


def test_the_daemon_opens_a_settled_folder_of_cards_once(tmp_path: Path) -> None:
    """The watcher settles the folder as a whole; its cards are reported apart, and after a
    restart the folder is known as handled (nothing is handed on again)."""
    from daemon_harness import Daemon, make_clip

    staged = _day(tmp_path / "stage" / "DAY1")
    d = Daemon(tmp_path)
    with d:
        d.start()
        shutil.move(str(staged), d.root / "DAY1")
        d.wait_metric("kinod_cards_done_total", 3, timeout=120, outcome="done")
        d.wait_for(
            lambda: all((d.out / "DAY1" / c / "card.kino.json").exists() for c in CARDS), 30, "the three card reports"
        )
        rows = {r["path"]: r for r in d.query("SELECT path, state, files FROM cards")}
        folder = rows.pop(str(d.root / "DAY1"))
        assert folder["files"] is not None  # what the watcher compares the folder with
        assert sorted(rows) == [str(d.root / "DAY1" / c) for c in CARDS]
        assert all(r["state"] == "done" and r["files"] is None for r in rows.values())
        assert d.stop() == 0
    with d:
        d.start()
        d.wait_for(lambda: d.metric("kinod_last_successful_scan_timestamp_seconds") > 0, 30, "the first rescan")
        # a card dropped after the rescan settles after anything that rescan woke up
        make_clip(d.root / "B001" / "C001.mp4", 1)
        d.wait_metric("kinod_cards_done_total", 1, timeout=60, outcome="done")
        assert d.metric("kinod_cards_ready_total") == 1  # B001 only: DAY1 was not handed on again
        assert d.stop() == 0
    assert "Traceback" not in d.log_text()
