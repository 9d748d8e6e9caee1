"""A clip of several files stays one clip on every path that plans it again.

A GoPro recording in two chapters and a P2 clip with one audio essence per channel are
each one clip: one fingerprint over every file, one pass, one sidecar whose frames run
over the whole recording. The card parser finds their files once; the clip value it
makes is stored with the clip's row, and the paths that plan a known clip again read
it from there: a config change (a new analyzer, daemon restarted), resuming after a
full disk, ``kinod retry`` and a daemon killed in the middle of its work. Each must
end with the clip done, every analyzer in its one sidecar, over all its files.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cardkit import p2_card
from daemon_harness import Daemon, ffmpeg, kinod_command

GOPRO_FRAMES = 50  # two chapters of 25 frames
P2_FRAMES = 15  # 0.5 s at 30000/1001
GOPRO = "GOPRO01/DCIM/100GOPRO/GX010042.MP4"
P2 = "P2CARD/CONTENTS/VIDEO/0001AB.MXF"
#: Cheap analyzers: two on the picture, one on the sound (so the P2 audio essences are decoded).
FIRST = {"shots", "silence"}
ALL = {"shots", "silence", "black"}


@pytest.fixture(scope="module")
def cards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both cards, made once: GX010042 + GX020042 (1 s each, a cut between), and a P2 clip with two essences."""
    base = tmp_path_factory.mktemp("cards")
    folder = base / "GOPRO01" / "DCIM" / "100GOPRO"
    folder.mkdir(parents=True)
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"]
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=1", *x264, str(folder / "GX010042.MP4"))
    ffmpeg("-f", "lavfi", "-i", "smptebars=s=160x120:r=25:d=1", *x264, str(folder / "GX020042.MP4"))
    p2_card(base / "P2CARD", name="0001AB", channels=2, seconds=0.5)
    return base


def _enable(d: Daemon, *names: str) -> None:
    """Set ``analyzers.enabled`` in the daemon's config (read at its next start)."""
    enabled = "enabled = [" + ", ".join(f'"{n}"' for n in names) + "]"
    d.config.write_text(re.sub(r"enabled = \[[^\]]*\]", enabled, d.config.read_text()))


def _bring(d: Daemon, cards: Path) -> None:
    """Both cards appear in the watch root at once, complete (copied aside, then renamed in)."""
    for name in ("GOPRO01", "P2CARD"):
        stage = d.base / "stage" / name
        shutil.copytree(cards / name, stage)
        stage.rename(d.root / name)


def _done(d: Daemon, analyzers: set[str]) -> dict[str, dict[str, Any]] | None:
    """Both sidecars once both clips are done with every analyzer in them (None: not yet)."""
    d.check_alive()
    cancelled = d.query(
        "SELECT path, state, last_error FROM clips WHERE state='cancelled'"
        " UNION ALL SELECT path, state, last_error FROM passes WHERE state='cancelled'"
    )
    assert not cancelled, f"work on a clip was cancelled: {cancelled}"  # the clip read as its first file alone
    states = d.query("SELECT path, state, parts FROM clips")
    assert len(states) <= 2, f"a clip was planned as a part of itself: {states}"  # a new fingerprint: chapter 1 alone
    if len(states) != 2 or any(r["state"] != "done" for r in states):
        return None
    if d.query("SELECT 1 FROM jobs WHERE state IN ('queued','running')"):
        return None
    sides = {}
    for rel in (GOPRO, P2):
        if not (d.out / (rel + ".kino.json")).is_file():
            return None
        sides[rel] = d.sidecar(rel)
        if set(sides[rel]["analyses"]) != analyzers:
            return None
    return sides


def _wait_done(d: Daemon, analyzers: set[str], timeout: float = 180) -> dict[str, dict[str, Any]]:
    return d.wait_for(lambda: _done(d, analyzers), timeout, f"both clips done with {sorted(analyzers)}", every=0.3)


def _check_whole(d: Daemon, sides: dict[str, dict[str, Any]], analyzers: set[str]) -> None:
    """One sidecar per clip, each over every file of its clip, with every analyzer and no error."""
    written = sorted(str(p.relative_to(d.out)) for p in d.out.rglob("*.kino.json") if p.name != "card.kino.json")
    assert written == sorted([GOPRO + ".kino.json", P2 + ".kino.json"]), written
    for side in sides.values():
        # the P2 fixture's clip XML says 01:00:00;00 where its MXF says 00:00:00;00: noted, not an error of ours
        assert [e for e in side["errors"] if "differs from" not in e["message"]] == [], side["errors"]
        assert set(side["analyses"]) == analyzers
    gopro = sides[GOPRO]
    assert gopro["probe"]["frames"] == GOPRO_FRAMES
    assert gopro["decode"]["frames"] == GOPRO_FRAMES  # one pass over both chapters
    assert [(p["name"], p["start_frame"], p["frames"]) for p in gopro["decode"]["parts"]] == [
        ("GX010042.MP4", 0, 25),
        ("GX020042.MP4", 25, 25),
    ]
    assert 25 in [m["frame"] for m in gopro["markers"] if m["category"] == "shot"]  # the cut between the chapters
    p2 = sides[P2]
    assert p2["probe"]["frames"] == P2_FRAMES
    assert len(p2["probe"]["audio"]) == 2
    assert [Path(p).name for p in p2["decode"]["audio_inputs"]] == ["0001AB00.MXF", "0001AB01.MXF"]
    rc, out = kinod_command(d.config, "status")
    assert rc == 0, out
    assert {r["state"] for r in d.query("SELECT state FROM clips")} == {"done"}, out
    assert not d.query("SELECT 1 FROM passes WHERE state IN ('failed','cancelled')"), out


def test_a_new_analyzer_after_a_restart_runs_over_every_file(tmp_path: Path, cards: Path) -> None:
    d = Daemon(tmp_path / "d")
    _enable(d, *sorted(FIRST))
    with d:
        d.start()
        _bring(d, cards)
        _check_whole(d, _wait_done(d, FIRST), FIRST)
        assert d.stop() == 0
        _enable(d, *sorted(ALL))
        d.start()
        d.wait_for(lambda: "planned known clips again" in d.log_text(), 60, "the daemon to plan known clips again")
        _check_whole(d, _wait_done(d, ALL), ALL)
        assert d.stop() == 0


@pytest.fixture
def small_out(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs as the output root (needs root); skipped with the reason where it cannot be mounted."""
    mnt = tmp_path / "d" / "out"
    mnt.mkdir(parents=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip() or r.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(folder: Path) -> Path:
    filler = folder / "filler.bin"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(bytes(256 * 1024))
                fh.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC
    return filler


def test_resuming_after_a_full_disk_plans_every_file(small_out: Path, tmp_path: Path, cards: Path) -> None:
    d = Daemon(tmp_path / "d", extra="[storage]\nmin_free_mb = 0\nretry_max_seconds = 1\n")
    assert d.out == small_out
    _enable(d, *sorted(ALL))
    with d:
        d.start()
        filler = _fill(small_out)
        _bring(d, cards)
        d.wait_metric("kinod_storage_full", 1, timeout=120)  # a pass could not write its keyframes
        os.unlink(filler)
        sides = _wait_done(d, ALL)
        resumed = [e for e in d.log_events() if e.get("event") == "resumed after the disk was full"]
        assert resumed and sum(int(e["clips_planned_again"]) for e in resumed) >= 1, d.log_text()[-3000:]
        _check_whole(d, sides, ALL)
        assert d.stop() == 0


def test_kinod_retry_plans_every_file(tmp_path: Path, cards: Path) -> None:
    d = Daemon(tmp_path / "d")
    _enable(d, *sorted(ALL))
    # a file where each clip's keyframes folder belongs: shots fails, black does not
    blocks = [d.out / Path(rel).parent / "keyframes" for rel in (GOPRO, P2)]
    for b in blocks:
        b.parent.mkdir(parents=True, exist_ok=True)
        b.write_text("in the way")
    with d:
        d.start()
        _bring(d, cards)
        d.wait_for(
            lambda: len(d.query("SELECT 1 FROM clips WHERE state='failed'")) == 2, 180, "both clips to fail (shots)"
        )
        for b in blocks:
            b.unlink()
        rc, out = kinod_command(d.config, "retry")
        assert rc == 0 and "of 2 clip(s)" in out, out
        _check_whole(d, _wait_done(d, ALL), ALL)
        assert d.stop() == 0


def test_a_daemon_killed_at_work_finishes_every_file_after_its_restart(tmp_path: Path, cards: Path) -> None:
    d = Daemon(tmp_path / "d")
    _enable(d, *sorted(ALL))
    with d:
        d.start()
        _bring(d, cards)
        # killed once a pass has started (or, on a fast machine, once the work is done)
        d.wait_for(lambda: d.query("SELECT 1 FROM passes WHERE state IN ('running','done')"), 120, "a pass to start")
        d.kill9()
        d.start()
        _check_whole(d, _wait_done(d, ALL), ALL)
        assert d.stop() == 0


# The stored value itself ------------------------------------------------------------------------------


def test_the_clip_value_round_trips_through_the_clip_row(tmp_path: Path, cards: Path) -> None:
    from kinod.jobs.store import JobStore
    from kinod.media.cards import detect_card
    from kinod.media.cards.model import analysable_clips

    layout = detect_card(cards / "P2CARD")
    present = {f.path for c in layout.clips for f in c.files}
    (value,), _ = analysable_clips(layout, present)
    value = value.on_card("P2CARD", cards / "P2CARD")
    assert value.camera is not None and value.camera.start_tc == "01:00:00;00" and len(value.audio) == 2
    store = JobStore(tmp_path / "kinod.sqlite")
    try:
        store.clips.upsert("fp", str(value.first), 1, value.card, "queued", card_path=value.card_path, clip=value)
        known = store.clips.get("fp")
        assert known is not None and known.clip == value and known.path == value.first
        assert known.card == "P2CARD" and known.state == "queued" and known.plan is None
        # a writer that does not know the value (an older caller) does not erase it
        store.clips.upsert("fp", str(value.first), 1, None, "done")
        assert store.clips.get("fp").clip == value  # type: ignore[union-attr]
        assert [k.clip for k in store.clips.known()] == [value]
        at = store.clips.by_path(str(value.first))
        assert at is not None and at.clip == value and at.at is not None and at.at.path == value.first
        moved = known.with_paths(lambda p: p.replace(str(cards), "/mnt/worker"))
        assert moved.path == Path("/mnt/worker/P2CARD/CONTENTS/VIDEO/0001AB.MXF")
        assert moved.clip.camera is not None and moved.clip.camera.sidecar.startswith("/mnt/worker/")  # type: ignore[union-attr]
        assert all(str(p).startswith("/mnt/worker/") for p in moved.clip.files)
    finally:
        store.close()


def test_rows_of_an_older_state_file_read_as_the_file_alone(tmp_path: Path) -> None:
    """Rows written before the value was stored: parts NULL, parts without the card, parts of another path."""
    import json

    from kinod.jobs.store import JobStore
    from kinod.media.cards.model import ClipFiles

    store = JobStore(tmp_path / "kinod.sqlite")
    try:
        store.clips.upsert("a", "/f/A001/a.mov", 1, "A001", "done", card_path="/f/A001")
        old = {"parts": ["/f/G/GX010042.MP4", "/f/G/GX020042.MP4"], "audio": []}
        store.clips.upsert("b", "/f/G/GX010042.MP4", 2, "G", "done", card_path="/f/G")
        store.clips.upsert("c", "/f/G/GX010043.MP4", 2, "G", "done", card_path="/f/G")
        with store.tx() as db:
            db.execute("UPDATE clips SET parts=? WHERE fingerprint IN ('b', 'c')", (json.dumps(old),))
        a, b, c = (store.clips.get(fp) for fp in "abc")
        assert a is not None and a.clip == ClipFiles.alone(Path("/f/A001/a.mov")).on_card("A001", "/f/A001")
        assert b is not None and b.clip.parts == (Path("/f/G/GX010042.MP4"), Path("/f/G/GX020042.MP4"))
        assert b.card == "G" and b.card_path == "/f/G"
        assert c is not None and c.clip.single and c.path == Path("/f/G/GX010043.MP4")
    finally:
        store.close()
