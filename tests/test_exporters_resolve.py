"""exporters/resolve/kinod_markers.py against a recorded fake of Resolve's scripting API.

The fake implements the documented behaviour of the calls the script makes
(Resolve 18 "README.txt" of the scripting API): ``GetProjectManager``,
``GetCurrentProject``, ``GetMediaPool``, ``GetRootFolder``, ``GetClipList``,
``GetSubFolderList``, ``MediaPoolItem.GetClipProperty("File Path" | "FPS")``,
``GetMarkers``, ``AddMarker(frameId, color, name, note, duration, customData)`` (False
for an unknown colour, a frame outside the clip or a frame that already holds a marker)
and ``GetMarkerByCustomData`` ({} when none). Every call is recorded.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from export_sidecars import HOSTILE, make_sidecar, marker

from kinod.export.timeline import CATEGORY_COLORS, MARKER_CATEGORIES, marker_note
from kinod.export.writers.base import RESOLVE_COLORS

SCRIPT = Path(__file__).resolve().parents[1] / "exporters" / "resolve" / "kinod_markers.py"
RESOLVE_PALETTE = {
    "Blue", "Cyan", "Green", "Yellow", "Red", "Pink", "Purple", "Fuchsia",
    "Rose", "Lavender", "Sky", "Mint", "Lemon", "Sand", "Cocoa", "Cream",
}  # fmt: skip


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kinod_markers_resolve", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def record(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def count(self, name: str) -> int:
        return sum(1 for n, _ in self.calls if n == name)


class FakeMediaPoolItem:
    def __init__(self, rec: Recorder, path: str, fps: str, frames: int) -> None:
        self.rec, self.path, self.fps, self.frames = rec, path, fps, frames
        self.markers: dict[int, dict[str, Any]] = {}

    def GetClipProperty(self, key: str | None = None) -> Any:
        self.rec.record("GetClipProperty", key)
        props = {"File Path": self.path, "FPS": self.fps, "Frames": str(self.frames)}
        return props if key is None else props.get(key, "")

    def GetMarkers(self) -> dict[int, dict[str, Any]]:
        self.rec.record("GetMarkers")
        return {f: dict(m) for f, m in self.markers.items()}

    def AddMarker(self, frame_id: int, color: str, name: str, note: str, duration: int, custom: str = "") -> bool:
        self.rec.record("AddMarker", frame_id, color, name, note, duration, custom)
        args_ok = isinstance(frame_id, int) and all(isinstance(v, str) for v in (color, name, note, custom))
        if not args_ok or not isinstance(duration, int) or duration < 1:
            return False
        if color not in RESOLVE_PALETTE or not 0 <= frame_id < self.frames or frame_id in self.markers:
            return False
        self.markers[frame_id] = {
            "color": color,
            "duration": duration,
            "note": note,
            "name": name,
            "customData": custom,
        }
        return True

    def GetMarkerByCustomData(self, custom: str) -> dict[int, dict[str, Any]]:
        self.rec.record("GetMarkerByCustomData", custom)
        return {f: dict(m) for f, m in self.markers.items() if m["customData"] == custom}


class FakeFolder:
    def __init__(self, rec: Recorder, clips: list[FakeMediaPoolItem], subs: list[FakeFolder] | None = None) -> None:
        self.rec, self.clips, self.subs = rec, clips, subs or []

    def GetClipList(self) -> list[FakeMediaPoolItem]:
        self.rec.record("GetClipList")
        return list(self.clips)

    def GetSubFolderList(self) -> list[FakeFolder]:
        self.rec.record("GetSubFolderList")
        return list(self.subs)


class FakeResolve:
    def __init__(self, root: FakeFolder | None) -> None:
        self.rec = root.rec if root else Recorder()
        self.root = root

    def GetProjectManager(self) -> Any:
        self.rec.record("GetProjectManager")
        return self

    def GetCurrentProject(self) -> Any:
        self.rec.record("GetCurrentProject")
        return self if self.root else None

    def GetMediaPool(self) -> Any:
        self.rec.record("GetMediaPool")
        return self

    def GetRootFolder(self) -> FakeFolder:
        self.rec.record("GetRootFolder")
        assert self.root is not None
        return self.root


def _sidecars(tmp_path: Path) -> tuple[Path, dict, dict]:
    out = tmp_path / "kino-out" / "A001"
    out.mkdir(parents=True)
    markers = [
        marker(MARKER_CATEGORIES[i % len(MARKER_CATEGORIES)], 3 + 4 * i, name, HOSTILE[-1 - i], duration=i % 4)
        for i, name in enumerate(HOSTILE)
    ]
    markers += [marker("black", 3, "Black"), marker("freeze", 3, "Freeze")]  # same frame as a shot: merged
    a = make_sidecar(name="A001C001.mov", folder="/mnt/nas/A001", markers=markers, frames=200)
    b = make_sidecar(name="A001C002.mov", folder="/mnt/nas/A001", markers=[marker("speech", 10, "Talk")])
    for sc in (a, b):
        (out / (sc["source"]["name"] + ".kino.json")).write_text(json.dumps(sc), encoding="utf-8")
    (out / "card.kino.json").write_text("{}", encoding="utf-8")
    return tmp_path / "kino-out", a, b


def test_markers_are_added_once(script: ModuleType, tmp_path: Path) -> None:
    roots, a, _b = _sidecars(tmp_path)
    rec = Recorder()
    clip_a = FakeMediaPoolItem(rec, "/Volumes/nas/A001/A001C001.mov", "25", 200)
    clip_b = FakeMediaPoolItem(rec, "/Volumes/nas/A001/A001C002.mov", "25.0", 250)
    other = FakeMediaPoolItem(rec, "/Volumes/nas/music.wav", "25", 100)
    resolve = FakeResolve(FakeFolder(rec, [other], [FakeFolder(rec, [clip_a]), FakeFolder(rec, [clip_b])]))
    path_map = {"/mnt/nas": "/Volumes/nas"}

    first = script.apply(resolve, [str(roots)], path_map)
    expected_a = len({m["frame"] for m in a["markers"]})
    assert first.added == expected_a + 1 and first.occupied == [] and first.errors == []
    assert first.clips_unmatched == ["/Volumes/nas/music.wav"] and other.markers == {}
    adds_before = rec.count("AddMarker")

    second = script.apply(resolve, [str(roots)], path_map)
    assert second.added == 0 and second.already_there == first.added
    assert rec.count("AddMarker") == adds_before  # the second run called AddMarker not once

    by_frame = {m["frame"]: m for m in a["markers"] if m["frame"] != 3}
    for frame, m in by_frame.items():
        got = clip_a.markers[frame]
        assert got["name"] == m["name"]
        assert got["note"] == marker_note(m)
        assert got["color"] == RESOLVE_COLORS[CATEGORY_COLORS[m["category"]]]
        assert got["duration"] == max(1, m["duration_frames"])
        assert got["customData"].startswith("kinod:")
    merged = clip_a.markers[3]  # problem + black + freeze on one frame: one marker, problem's colour first
    assert merged["name"] == f"{HOSTILE[0]} + Black + Freeze"
    assert merged["color"] == "Red" and merged["note"].count(" / ") == 2
    assert clip_b.markers[10]["name"] == "Talk" and clip_b.markers[10]["color"] == "Green"


def test_default_palette_matches_kinod(script: ModuleType) -> None:
    assert {c: RESOLVE_COLORS[CATEGORY_COLORS[c]] for c in CATEGORY_COLORS} == script.CATEGORY_COLORS
    assert tuple(script.CATEGORY_PRIORITY) == MARKER_CATEGORIES
    samples = [marker("shot", 1, "x", "cut 31", conf=None), marker("black", 2, "y", "", conf=0.5)]
    samples += [{**marker("silence", 3, "s", "quiet"), "analyzer": "silence"}]
    samples += [{**marker("silence", 3, "s", "silence: -60 dB"), "analyzer": "silence"}]
    for m in samples:
        assert script.marker_note(m) == marker_note(m)


def test_user_markers_are_never_overwritten(script: ModuleType, tmp_path: Path) -> None:
    roots, _a, _ = _sidecars(tmp_path)
    rec = Recorder()
    clip = FakeMediaPoolItem(rec, "/mnt/nas/A001/A001C001.mov", "25", 200)
    clip.markers[7] = {"color": "Rose", "duration": 1, "note": "editor's", "name": "mine", "customData": ""}
    report = script.apply(FakeResolve(FakeFolder(rec, [clip])), [str(roots)])
    assert clip.markers[7]["name"] == "mine"
    assert len(report.occupied) == 1 and "frame 7" in report.occupied[0]


def test_frames_follow_the_rate_resolve_plays(script: ModuleType, tmp_path: Path) -> None:
    """A VFR clip's sidecar frames are converted by time to the rate Resolve reports."""
    sc = make_sidecar(name="vfr.mp4", folder=str(tmp_path), markers=[marker("shot", 29, "Cut")], frames=60)
    sc["timeline"]["rate"] = "600/29"
    (tmp_path / "vfr.mp4.kino.json").write_text(json.dumps(sc), encoding="utf-8")
    rec = Recorder()
    clip = FakeMediaPoolItem(rec, str(tmp_path / "vfr.mp4"), "29.97", 100)
    script.apply(FakeResolve(FakeFolder(rec, [clip])), [str(tmp_path)])
    assert list(clip.markers) == [42]  # frame 29 at 600/29 fps is 1.4017 s, frame 42 at 29.97


def test_no_project_and_settings(script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert script.apply(FakeResolve(None), [str(tmp_path)]).errors == ["no project is open in Resolve"]
    (tmp_path / "kinod_markers.json").write_text(json.dumps({"sidecar_roots": ["/x"], "path_map": {"/a": "/b"}}))
    monkeypatch.delenv("KINOD_SIDECARS", raising=False)
    monkeypatch.delenv("KINOD_PATH_MAP", raising=False)
    assert script.load_settings(str(tmp_path)) == {"sidecar_roots": ["/x"], "path_map": {"/a": "/b"}}
    monkeypatch.setenv("KINOD_SIDECARS", "/y")
    monkeypatch.setenv("KINOD_PATH_MAP", "/mnt/nas=/Volumes/nas")
    assert script.load_settings(str(tmp_path)) == {"sidecar_roots": ["/y"], "path_map": {"/mnt/nas": "/Volumes/nas"}}
