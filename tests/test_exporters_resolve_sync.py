"""exporters/resolve/kinod_sync.py against a fake of the Resolve calls it makes.

The fake follows Resolve's scripting README: ``GetTimelineCount``/``GetTimelineByIndex``
(1-based) on the project, ``MediaPool.ImportTimelineFromFile(path, options)`` returning
the new timeline (or None), which then counts among the project's timelines.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from sync_media import FF, camera_clip, speech, write_bwf

from kinod.sync.session import sync_folders

SCRIPT = Path(__file__).resolve().parents[1] / "exporters" / "resolve" / "kinod_sync.py"


class FakeTimeline:
    def __init__(self, name: str) -> None:
        self.name = name

    def GetName(self) -> str:
        return self.name


class FakeProject:
    def __init__(self) -> None:
        self.timelines: list[FakeTimeline] = []
        self.imports: list[tuple[str, dict[str, Any]]] = []

    def GetTimelineCount(self) -> int:
        return len(self.timelines)

    def GetTimelineByIndex(self, i: int) -> FakeTimeline:
        return self.timelines[i - 1]

    def GetMediaPool(self) -> FakeProject:
        return self

    def ImportTimelineFromFile(self, path: str, options: dict[str, Any]) -> FakeTimeline | None:
        self.imports.append((path, options))
        if not Path(path).is_file():
            return None
        tl = FakeTimeline(options["timelineName"])
        self.timelines.append(tl)
        return tl


class FakeResolve:
    def __init__(self, project: FakeProject) -> None:
        self.project = project

    def GetProjectManager(self) -> FakeResolve:
        return self

    def GetCurrentProject(self) -> FakeProject:
        return self.project


def test_imports_each_synced_timeline_once(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("kinod_sync_resolve", SCRIPT)
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    take = speech(seed=1, seconds=24.0)
    write_bwf(tmp_path / "T001.WAV", [take])
    camera_clip(tmp_path / "A001.mov", take, start_sample=int(2.35 * 48000), seconds=12, tc=None)
    out = tmp_path / "out"
    sync_folders([tmp_path / "A001.mov", tmp_path / "T001.WAV"], out, FF)
    project = FakeProject()
    imported, skipped, failed = script.apply(FakeResolve(project), [str(out)])
    assert (imported, skipped, failed) == (["A001 synced"], [], [])
    assert project.imports[0][1]["importSourceClips"] is True
    assert script.apply(FakeResolve(project), [str(out)]) == ([], ["A001 synced"], [])
    assert len(project.imports) == 1
