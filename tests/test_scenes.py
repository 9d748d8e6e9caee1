"""Scenes from shots, picture tags and speech; boundaries from speech pauses snapped to cuts."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

from kinod.analyzers.base import ClipInfo, Result, RuntimeContext
from kinod.analyzers.scenes import ScenesAnalyzer

COOK = "Chop the onions and the garlic, fry them in olive oil, then add the tomatoes and simmer the sauce."
BALL = "The striker shoots and scores a goal, the goalkeeper could not save it, and the referee ends the match."


def _clip(frames: int) -> ClipInfo:
    return ClipInfo(path=Path("x.mp4"), probe=None, rate=Fraction(25), frames=frames, artefact_dir=Path("."))  # type: ignore[arg-type]


def _shot(start: int, end: int) -> dict[str, Any]:
    return {"start_frame": start, "end_frame": end}


def _vis(start: int, end: int, labels: list[str], editorial: list[str]) -> dict[str, Any]:
    tags = [{"label": lab, "score": 0.5} for lab in labels]
    return {"start_frame": start, "end_frame": end, "tags": tags, "editorial": editorial, "scale": "medium"}


def _say(start: int, end: int, text: str) -> dict[str, Any]:
    return {"start_frame": start, "end_frame": end, "text": text}


def _run(results: dict[str, Result], frames: int, tmp: Path) -> list[dict[str, Any]]:
    a = ScenesAnalyzer(runtime=RuntimeContext(tmp))
    a.use_results(results)
    return a.run(_clip(frames), None).items


def test_shots_group_into_scenes_by_picture_speech_and_topic(tmp_path: Path) -> None:
    shots = Result(items=[_shot(0, 100), _shot(100, 200), _shot(200, 300), _shot(300, 400)])
    visual = Result(items=[
        _vis(0, 100, ["espresso", "cup"], ["food", "indoor"]), _vis(100, 200, ["cup", "plate"], ["food", "indoor"]),
        _vis(200, 300, ["soccer ball", "jersey"], ["people", "outdoor"]),
        _vis(300, 400, ["soccer ball", "stadium"], ["people", "outdoor"]),
    ])  # fmt: skip
    speech = Result(items=[_say(10, 130, COOK), _say(140, 180, "Taste it and add salt."), _say(230, 390, BALL)])
    ocr = Result(items=[{"start_frame": 0, "end_frame": 100, "text": "Grandma's Kitchen", "box": [10, 10, 300, 60]}])
    items = _run({"shots": shots, "visual": visual, "speech": speech, "ocr": ocr}, 400, tmp_path)
    assert [(it["start_frame"], it["end_frame"]) for it in items] == [(0, 200), (200, 400)]
    first, second = items
    assert first["title"] == "Grandma's Kitchen" and second["title"].startswith("The striker shoots")
    assert "2 shots, 8 s" in first["description"] and "espresso" in first["description"]
    assert second["start_snapped_to_cut"] is True and second["start_snap_frames"] == -5  # the pause at 205


def test_topic_shift_in_one_long_shot_is_a_boundary_recorded_as_unsnapped(tmp_path: Path) -> None:
    speech = Result(items=[_say(0, 620, COOK + " " + COOK), _say(700, 1500, BALL + " " + BALL)])
    items = _run({"speech": speech}, 1500, tmp_path)
    assert [it["start_frame"] for it in items] == [0, 660]
    assert items[1]["start_snapped_to_cut"] is False and items[1]["start_snap_frames"] == 0


def test_speech_pause_snaps_to_a_cut_within_two_seconds(tmp_path: Path) -> None:
    shots = Result(items=[_shot(0, 700), _shot(700, 1500)])
    speech = Result(items=[_say(0, 640, COOK + " " + COOK), _say(690, 1500, BALL + " " + BALL)])
    items = _run({"shots": shots, "speech": speech}, 1500, tmp_path)
    assert [it["start_frame"] for it in items] == [0, 700]
    assert items[1]["start_snapped_to_cut"] is True and items[1]["start_snap_frames"] == 35


def test_no_results_is_one_scene(tmp_path: Path) -> None:
    items = _run({}, 250, tmp_path)
    assert [(it["start_frame"], it["end_frame"], it["title"]) for it in items] == [(0, 250, "Scene 1")]
