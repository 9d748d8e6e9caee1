"""The watcher: ignore rules, file system types, card detection, copy-complete, events (in process)."""

from __future__ import annotations

import os
import queue
import time
from pathlib import Path

import pytest

from kinod.config import WatchConfig, WatchRoot
from kinod.watch.cards import CardRef, card_of, clips_of, list_cards, marker_wait, scan_card
from kinod.watch.events import CardChanged, CardReady, CardSeen, WatchEvent
from kinod.watch.ignore import RootFilter, is_media_name, is_system_name, is_temp_name
from kinod.watch.mounts import choose_mode, mount_of, parse_mountinfo
from kinod.watch.settle import SettleTracker
from kinod.watch.watcher import Watcher

MOUNTINFO = r"""22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
40 27 0:50 / /mnt/nas rw,relatime - nfs4 nas:/export rw,vers=4.2
41 27 0:51 / /mnt/smb\040share rw - cifs //srv/share rw
42 27 0:52 / /mnt/cloud rw - fuse.rclone gdrive: rw
43 40 0:53 / /mnt/nas/local rw - ext4 /dev/sdb1 rw
"""


@pytest.mark.parametrize(
    ("name", "system", "temp"),
    [
        (".DS_Store", True, False),
        ("._A001C001.mov", True, False),
        ("Thumbs.db", True, False),
        (".Spotlight-V100", True, False),
        (".Trashes", True, False),
        ("A001C001.mov.part", False, True),
        ("upload.TMP", False, True),
        (".~lock.notes.odt#", False, True),
        (".A001C001.mov.Xa9bQ2", False, True),  # rsync
        ("A001C001.mov", False, False),
        (".kinod-ready", False, False),
    ],
)
def test_ignore_rules(name: str, system: bool, temp: bool) -> None:
    assert is_system_name(name) is system
    assert is_temp_name(name) is temp


def test_root_filter_globs_match_relative_paths() -> None:
    f = RootFilter.of(["*.mov", "*.wav"], ["*/Proxies/*", "test_*"])
    assert f.accepts("A001/CLIP/A001C001.mov")
    assert f.accepts("sound.wav")
    assert not f.accepts("A001/Proxies/A001C001.mov")
    assert not f.accepts("A001/test_clip.mov")
    assert not f.accepts("A001/notes.txt")
    assert is_media_name(Path("x.MXF")) and not is_media_name(Path("._x.mov")) and not is_media_name(Path("x.txt"))


def test_network_and_fuse_mounts_are_polled() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert mounts[3].mount_point == "/mnt/smb share"  # octal escapes undone
    assert choose_mode(Path("/mnt/nas/footage"), "auto", mounts)[0] == "poll"
    assert choose_mode(Path("/mnt/smb share/x"), "auto", mounts)[0] == "poll"
    assert choose_mode(Path("/mnt/cloud/x"), "auto", mounts)[0] == "poll"
    assert choose_mode(Path("/mnt/nas/local/x"), "auto", mounts)[0] == "inotify"  # a local disk mounted below
    assert choose_mode(Path("/srv/footage"), "auto", mounts)[0] == "inotify"
    assert choose_mode(Path("/mnt/nas/footage"), "inotify", mounts)[0] == "inotify"  # forced
    m = mount_of(Path("/mnt/nas/local/x"), mounts)
    assert m is not None and m.fs_type == "ext4"


def test_real_mountinfo_is_read(tmp_path: Path) -> None:
    mode, why = choose_mode(tmp_path, "auto")
    assert mode in ("inotify", "poll") and why


def test_settle_needs_polls_and_time() -> None:
    t = SettleTracker(settle_seconds=10, stable_polls=3)
    assert not t.observe("c", "a", 0).settled
    assert not t.observe("c", "a", 5).settled  # 2 polls
    assert not t.observe("c", "a", 9).settled  # 3 polls but only 9 s
    assert t.observe("c", "a", 10).settled
    st = t.observe("c", "b", 11)  # a change starts again
    assert st.changed and not st.settled and st.polls == 1
    assert not t.observe("c", "b", 21).settled  # 2 polls span 10 s: not enough polls
    assert t.observe("c", "b", 22).settled


def test_cards_scan_and_markers(tmp_path: Path) -> None:
    root = tmp_path / "root"
    card = root / "A001"
    (card / "CLIP").mkdir(parents=True)
    (card / "CLIP" / "A001C001.mov").write_bytes(b"x" * 10)
    (card / "CLIP" / "A001C002.mov.part").write_bytes(b"x")
    (card / ".DS_Store").write_bytes(b"x")
    (card / "notes.txt").write_text("hi")
    os.symlink("loop.mov", card / "loop.mov")  # a link to itself
    (card / "sub").symlink_to("..")  # a folder link back up: never followed
    (root / "loose.wav").write_bytes(b"w")
    assert [c.key for c in list_cards(root)] == [str(card), str(root / ".")]
    ref = card_of(root, card / "CLIP" / "A001C001.mov")
    assert ref == CardRef(root, card)
    assert card_of(root, root / "loose.wav") == CardRef(root, root, loose=True)
    assert card_of(root, root / ".DS_Store") is None
    scan = scan_card(ref, RootFilter())
    assert set(scan.files) == {"CLIP/A001C001.mov", "notes.txt"}
    assert scan.temp == ["CLIP/A001C002.mov.part"]
    assert [(p.kind, p.path.name) for p in scan.problems] == [("symlink_loop", "loop.mov")]
    assert "loop" in scan.problems[0].message
    assert clips_of(ref, scan) == [card / "CLIP" / "A001C001.mov"]
    loose = scan_card(CardRef(root, root, loose=True), RootFilter())
    assert set(loose.files) == {"loose.wav"}
    assert marker_wait(ref, "") is None
    assert "ready marker" in (marker_wait(ref, ".kinod-ready") or "")
    (card / ".kinod-ready").touch()
    assert marker_wait(ref, ".kinod-ready") is None
    (card / "ascmhl").mkdir()
    assert "ASC MHL" in (marker_wait(ref, "") or "")
    (card / "ascmhl" / "ascmhl_chain.xml").write_text("<chain/>")
    assert marker_wait(ref, "ascmhl/ascmhl_chain.xml") is None


def _watcher(root: Path, mode: str, **kw: object) -> tuple[Watcher, queue.Queue[WatchEvent]]:
    cfg = WatchConfig(
        roots=(WatchRoot(path=root),),
        mode=mode,  # type: ignore[arg-type]
        poll_interval_seconds=0.1,
        settle_seconds=kw.pop("settle", 0.5),  # type: ignore[arg-type]
        stable_polls=2,
        **kw,  # type: ignore[arg-type]
    )
    events: queue.Queue[WatchEvent] = queue.Queue()
    return Watcher(cfg, events.put), events


def _next(events: queue.Queue[WatchEvent], kind: type, timeout: float = 10) -> WatchEvent:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ev = events.get(timeout=0.1)
        except queue.Empty:
            continue
        if isinstance(ev, kind):
            return ev
    raise AssertionError(f"no {kind.__name__} within {timeout} s")


@pytest.mark.parametrize("mode", ["inotify", "poll"])
def test_watcher_sees_a_card_only_when_complete(tmp_path: Path, mode: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    w, events = _watcher(root, mode, ready_marker=".done")
    w.start()
    try:
        assert w.modes()[root][0] == mode
        card = root / "A001"
        card.mkdir()
        (card / "C001.mov").write_bytes(b"a" * 100)
        (card / "C002.mov.part").write_bytes(b"b" * 10)
        seen = _next(events, CardSeen)
        assert isinstance(seen, CardSeen) and seen.card.path == card and seen.first_time
        time.sleep(1.2)  # well past settle: the temp name and the missing marker hold it back
        assert not any(isinstance(e, CardReady) for e in list(events.queue))
        (card / "C002.mov.part").rename(card / "C002.mov")
        time.sleep(1.0)
        assert not any(isinstance(e, CardReady) for e in list(events.queue))
        t_marker = time.monotonic()
        (card / ".done").touch()
        ready = _next(events, CardReady)
        assert isinstance(ready, CardReady)
        assert time.monotonic() - t_marker < 5
        assert [p.name for p in ready.clips] == ["C001.mov", "C002.mov"]
        # a handled card whose file grows: work on it must stop, then it is handed on again
        with open(card / "C001.mov", "ab") as fh:
            fh.write(b"more")
        changed = _next(events, CardChanged)
        assert isinstance(changed, CardChanged) and changed.changed == (card / "C001.mov",)
        again = _next(events, CardReady)
        assert isinstance(again, CardReady) and again.files["C001.mov"][0] == 104
    finally:
        w.stop()


def test_rescan_at_start_finds_what_arrived_while_stopped(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "OLD").mkdir(parents=True)
    (root / "OLD" / "a.mov").write_bytes(b"a")
    w, events = _watcher(root, "inotify", settle=0.2)
    w.start()
    first = _next(events, CardReady)
    handled = w.handled()
    w.stop()
    assert isinstance(first, CardReady) and first.card.path == root / "OLD"
    # while "down": a new card, a new file in the old card, nothing else
    (root / "NEW").mkdir()
    (root / "NEW" / "b.mov").write_bytes(b"b")
    (root / "OLD" / "c.mov").write_bytes(b"c")
    w2, events2 = _watcher(root, "inotify", settle=0.2)
    w2.seed(handled)
    w2.start()
    try:
        got = {}
        for _ in range(2):
            ev = _next(events2, CardReady)
            assert isinstance(ev, CardReady)
            got[ev.card.path.name] = sorted(p.name for p in ev.clips)
        assert got == {"NEW": ["b.mov"], "OLD": ["a.mov", "c.mov"]}
    finally:
        w2.stop()


def test_unchanged_cards_are_not_handed_on_again(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "A").mkdir(parents=True)
    (root / "A" / "a.mov").write_bytes(b"a")
    st = (root / "A" / "a.mov").stat()
    w, events = _watcher(root, "poll", settle=0.1)
    w.seed({str(root / "A"): {"a.mov": (st.st_size, st.st_mtime_ns)}})
    w.start()
    try:
        time.sleep(1.0)
        assert not [e for e in list(events.queue) if isinstance(e, CardReady)]
    finally:
        w.stop()


def test_vanished_root_is_reported_and_comes_back(tmp_path: Path) -> None:
    from kinod.watch.events import RootState, WatchProblem

    root = tmp_path / "share"
    (root / "A").mkdir(parents=True)
    (root / "A" / "a.mov").write_bytes(b"a")
    w, events = _watcher(root, "inotify", settle=0.1)
    w.start()
    try:
        _next(events, CardReady)
        root.rename(tmp_path / "unmounted")
        problem = _next(events, WatchProblem)
        assert isinstance(problem, WatchProblem) and problem.kind == "root_unreachable"
        assert "not reachable" in problem.message and str(root) in problem.message
        down = _next(events, RootState)
        assert isinstance(down, RootState) and not down.up
        assert not [e for e in list(events.queue) if isinstance(e, CardChanged)]  # not read as "all deleted"
        (tmp_path / "unmounted").rename(root)
        up = _next(events, RootState)
        assert isinstance(up, RootState) and up.up
        (root / "B").mkdir()
        (root / "B" / "b.mov").write_bytes(b"b")
        ready = _next(events, CardReady)
        assert isinstance(ready, CardReady) and ready.card.path == root / "B"
    finally:
        w.stop()
