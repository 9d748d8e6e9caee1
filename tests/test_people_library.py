"""People across a library: the same scores searched alone or together, exact range ends."""

from __future__ import annotations

from pathlib import Path

import pytest
from people_library import HAMILTON, HAMILTON_TRUTH, Appearance, ClipSpec, make_library, make_stills, render_clip

from kinod.analyzers.faces.config import FacesConfig
from kinod.analyzers.faces.find_person import find_person

CFG = FacesConfig()


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory):
    return make_library(tmp_path_factory.mktemp("people-lib"), hamilton=False)


def _found(meta: dict) -> dict[str, list[tuple[int, int]]]:
    return {Path(c["path"]).stem: [(r["start_frame"], r["end_frame"]) for r in c["ranges"]] for c in meta["clips"]}


def _close(found: list[tuple[int, int]], truth: list[tuple[int, int]], slack: int = 2) -> bool:
    return len(found) == len(truth) and all(
        abs(f[0] - a) <= slack and abs(f[1] - (b + 1)) <= slack for f, (a, b) in zip(found, truth, strict=True)
    )


def test_a_person_in_three_clips_is_found_in_all_searched_together_and_alone(library, tmp_path: Path) -> None:
    """Obama is in two composites and in the real hamilton clip (a small face in the audience):
    searched together with the rest of the library, all three are found, as each is alone."""
    clips = {**library.clips, "A004": HAMILTON}
    truth = {**library.truth["obama"], "A004": HAMILTON_TRUTH["obama"]}
    assert len(truth) == 3
    ref = library.references["obama"]
    together = find_person(ref, list(clips.values()), tmp_path / "all", CFG, crops_fps=0, cut_clips=False)
    found = {("A004" if n == HAMILTON.stem else n): r for n, r in _found(together).items() if r}
    assert set(found) == set(truth)
    for name, ranges in truth.items():
        assert _close(found[name], ranges), (name, found[name], ranges)
    for name, ranges in truth.items():
        alone = find_person(ref, [clips[name]], tmp_path / name, CFG, crops_fps=0, cut_clips=False)
        (c,) = alone["clips"]
        assert _close([(r["start_frame"], r["end_frame"]) for r in c["ranges"]], ranges), name


def test_every_query_of_the_labelled_set(library, tmp_path: Path) -> None:
    """Obama, Biden, the astronaut: every range of the set found, and every "sure" one right."""
    clips = list(library.clips.values())
    for person in ("obama", "biden", "astronaut"):
        meta = find_person(library.references[person], clips, tmp_path / person, CFG, crops_fps=0, cut_clips=False)
        for c in meta["clips"]:
            c["ranges"] = [r for r in c["ranges"] if r["confidence"] == "sure"]
        found = {n: r for n, r in _found(meta).items() if r}
        assert set(found) == set(library.truth[person]), person
        for name, ranges in library.truth[person].items():
            assert _close(found[name], ranges), (person, name, found[name])


@pytest.mark.parametrize("rate", [25, 60])
def test_a_still_from_frame_a_through_b_gives_a_and_b_plus_one(tmp_path: Path, rate: int) -> None:
    """end_frame is the frame after the last one the face is on screen (within 2 frames at both ends),
    at 60 fps too, where samples are 6 frames apart: the frames between two samples are searched."""
    stills = make_stills(tmp_path / "stills")
    frames = 100 if rate == 25 else 240
    for first, last in ((23, 71), (0, 37), (101, 163)):
        if last >= frames:
            continue
        spec = ClipSpec("A", f"still{first}", {"alex": Appearance("alex_b", first, last)})
        clip = render_clip(tmp_path / f"still{first}.mp4", spec, stills, rate, frames)
        meta = find_person(stills["alex_ref"], [clip], tmp_path / f"out{first}", CFG, crops_fps=0, cut_clips=False)
        ((start, end),) = _found(meta)[clip.stem]
        assert abs(start - first) <= 2 and abs(end - (last + 1)) <= 2, (first, last, start, end)
        (r,) = meta["clips"][0]["ranges"]
        assert r["end_s"] == pytest.approx(end / rate)
