"""Bad input: a clear error naming the file, never a crash, nothing written beside originals."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from media import cuts_clip

KINOD = [sys.executable, "-m", "kinod.cli.main"]


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def good_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cuts_clip(tmp_path_factory.mktemp("src") / "good.mp4", [("testsrc2", 30), ("color=c=red", 30)])


HOSTILE_NAMES = [
    "with spaces.mp4",
    'quote"s and \'single\'.mp4',
    "amp & <angle>.mp4",
    "ünïcødé 日本語 🎬.mp4",
    "-leading-dash.mp4",
    "semi;colon|pipe$(x).mp4",
]


def test_bad_files_fail_clearly_and_the_rest_goes_on(workspace: dict[str, Path], good_clip: Path) -> None:
    root = workspace["root"]
    (root / "zero.mov").write_bytes(b"")
    (root / "notes.mov").write_text("this is not a movie\n")
    data = good_clip.read_bytes()
    # Truncated mid-mdat: moov is at the end with libx264's default muxing, so cut there.
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])
    for name in HOSTILE_NAMES:
        shutil.copy(good_clip, root / name)
    before = tree_digest(root)
    r = subprocess.run(
        [*KINOD, "--config", str(workspace["config"]), "scan", str(root)], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 1, r.stderr  # some clips failed
    assert "Traceback" not in r.stderr
    assert tree_digest(root) == before  # originals untouched, nothing written beside them
    fails = {line.split(": ", 1)[1].split(": ")[0] for line in r.stderr.splitlines() if line.startswith("FAILED: ")}
    assert fails == {str(root / "zero.mov"), str(root / "notes.mov"), str(root / "truncated.mp4")}
    assert "file is empty (0 bytes)" in r.stderr
    assert "not a media file" in r.stderr or "could not" in r.stderr
    for name in ("zero.mov", "notes.mov", "truncated.mp4"):
        side = json.loads((workspace["out"] / f"{name}.kino.json").read_text())
        assert side["errors"] and name in side["errors"][0]["message"]
    for name in HOSTILE_NAMES:
        side = json.loads((workspace["out"] / f"{name}.kino.json").read_text())
        assert side["errors"] == [], name
        assert side["analyses"]["shots"]["summary"]["cuts"] == [30]
        assert (workspace["out"] / f"{name}.otio").is_file()


def test_unreadable_file(workspace: dict[str, Path], good_clip: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file: permissions cannot be tested as root")
    p = workspace["root"] / "locked.mp4"
    shutil.copy(good_clip, p)
    p.chmod(0)
    r = subprocess.run(
        [*KINOD, "--config", str(workspace["config"]), "scan", str(p)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 1 and "permission denied" in r.stderr.lower()


def test_missing_path_is_an_error(workspace: dict[str, Path]) -> None:
    r = subprocess.run(
        [*KINOD, "--config", str(workspace["config"]), "scan", str(workspace["root"] / "nope.mov")],
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 1 and "no such file or folder" in r.stderr


def test_output_inside_watch_root_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[[watch.roots]]\npath = "{tmp_path}"\n[output]\nroot = "{tmp_path / "out"}"\n')
    r = subprocess.run([*KINOD, "--config", str(cfg), "run", "--once"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "overlap" in r.stderr
