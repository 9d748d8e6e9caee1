"""Faces in the daemon's pipeline: sidecar shape, private best images, people registry and CLI."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import cv2
import pytest
from faces_media import face_crop, moving_face_clip

from kinod.cli.main import main
from kinod.config import load_config
from kinod.jobs.store import JobStore
from kinod.run.processor import ClipProcessor


@pytest.fixture(autouse=True)
def _restore_logging():
    """`kinod.cli.main.main` points structlog at this test's captured stderr; put it back afterwards."""
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def faces_workspace(workspace: dict[str, Path]) -> dict[str, Path]:
    text = workspace["config"].read_text().replace('enabled = ["shots"]', 'enabled = ["shots", "faces"]')
    workspace["config"].write_text(text)
    return workspace


def _process(ws: dict[str, Path], clip: Path) -> tuple[Path, dict]:
    config = load_config(ws["config"])
    store = JobStore(config.state.dir / "kinod.sqlite")
    try:
        outcome = ClipProcessor(config, store).process(clip, ws["out"])
    finally:
        store.close()
    assert outcome.ok, outcome.error
    assert outcome.sidecar is not None
    return outcome.sidecar, json.loads(outcome.sidecar.read_text())


def test_faces_in_the_sidecar_and_people_commands(
    faces_workspace: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ws = faces_workspace
    photo = face_crop("two_people.jpg", (0, 0, 1126, 661), ws["root"].parent / "two.png")
    clip = moving_face_clip(ws["root"] / "two.mp4", photo, start_s=0.5, end_s=3.5, width=420)
    side_path, side = _process(ws, clip)
    faces = side["analyses"]["faces"]
    assert faces["model"]["name"] == "blazeface-mtcnn-facenet"
    items = faces["items"]
    assert len(items) == 2
    for it in items:
        for key in ("track", "person", "person_name", "start_frame", "end_frame", "start_s", "end_s", "frames",
                    "boxes", "interpolated", "quality", "best_image"):  # fmt: skip
            assert key in it, key
        assert len(it["boxes"]) == it["end_frame"] - it["start_frame"] == len(it["interpolated"])
        image = ws["out"] / it["best_image"]
        assert image.is_file() and stat.S_IMODE(image.stat().st_mode) == 0o600
    people = faces["summary"]["people"]
    assert len(people) == 2 and {p["id"] for p in people} == {it["person"] for it in items}
    registry = ws["state"] / "faces" / "people.json"
    assert stat.S_IMODE(registry.stat().st_mode) == 0o600
    assert any(m["category"] == "face" for m in side["markers"])

    cfg = ["--config", str(ws["config"])]
    capsys.readouterr()
    assert main([*cfg, "people", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {p["id"] for p in listed} == {p["id"] for p in people}
    # The indexed library is searched from the stored tracks, without decoding anything.
    from media import FIXTURE_MEDIA

    out = ws["out"].parent / "lib-matches"
    assert main([*cfg, "find-person", str(FIXTURE_MEDIA / "obama.jpg"), "--library", "--out", str(out)]) == 0
    lib = json.loads((out / "metadata.json").read_text())
    (found,) = lib["clips"]
    assert found["path"] == str(clip) and len(found["ranges"]) == 1
    (r,) = found["ranges"]
    obama = next(i for i in items if i["track"] == r["tracks"][0])
    assert (r["start_frame"], r["end_frame"]) == (obama["start_frame"], obama["end_frame"])
    assert (out / r["clip"]).is_file() and (out / r["images"]["best"]).is_file()
    pid = obama["person"]
    # The daemon's people folder: a photo dropped into people/<Name>/ is searched and names the person.
    from kinod.service.people_watch import PeopleFolderWatch
    folder = ws["out"] / "people" / "Barack Obama"
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "obama-left.jpg"), cv2.imread(str(FIXTURE_MEDIA / "two_people.jpg"))[:, :560])
    conf = load_config(ws["config"])
    watch = PeopleFolderWatch(ws["out"] / "people", ws["state"], conf.analyzer_config("faces"), config=conf)
    (written,) = watch.scan_once()
    dropped = json.loads(written.read_text())
    assert [c["path"] for c in dropped["clips"]] == [str(clip)]
    assert watch.scan_once() == []  # seen photos are not searched again
    capsys.readouterr()
    assert main([*cfg, "people", "--json"]) == 0
    assert {p["id"]: p["name"] for p in json.loads(capsys.readouterr().out)}[pid] == "Barack Obama"
    shutil.rmtree(ws["out"] / "people")
    assert main([*cfg, "people", "name", pid, "Barack Obama"]) == 0
    named = json.loads(side_path.read_text())["analyses"]["faces"]
    assert {p["id"]: p["name"] for p in named["summary"]["people"]}[pid] == "Barack Obama"
    # The same clip again: the named person keeps its id and now carries the name.
    clip2 = moving_face_clip(ws["root"] / "two-again.mp4", photo, start_s=1.0, end_s=3.0, width=400)
    _, side2 = _process(ws, clip2)
    names = {p["id"]: p["name"] for p in side2["analyses"]["faces"]["summary"]["people"]}
    assert names.get(pid) == "Barack Obama"
    assert main([*cfg, "people", "forget", pid]) == 0
    assert not (ws["out"] / next(i["best_image"] for i in items if i["person"] == pid)).exists()
    after = json.loads(side_path.read_text())["analyses"]["faces"]
    assert pid not in {p["id"] for p in after["summary"]["people"]}
    assert pid not in {i["person"] for i in after["items"]}
    capsys.readouterr()
    assert main([*cfg, "people", "--json"]) == 0
    assert pid not in {p["id"] for p in json.loads(capsys.readouterr().out)}
    assert main([*cfg, "people", "forget", pid]) == 2


def test_find_person_cli_errors(workspace: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from media import FIXTURE_MEDIA

    cfg = ["--config", str(workspace["config"])]
    code = main([*cfg, "find-person", str(FIXTURE_MEDIA / "two_people.jpg"), str(FIXTURE_MEDIA / "obama.jpg")])
    assert code == 2
    assert "2 faces in the reference photo" in capsys.readouterr().err


def test_reference_folder_names_people(tmp_path: Path) -> None:
    """A people/<Name>/ folder of photos names the matching person in the registry."""
    import shutil

    from media import FIXTURE_MEDIA

    from kinod.analyzers.faces import FacesConfig
    from kinod.analyzers.faces.backends import build_stack
    from kinod.analyzers.faces.find_person import reference_embedding
    from kinod.analyzers.faces.people import PeopleRegistry, sync_reference_folder

    cfg = FacesConfig()
    stack = build_stack(cfg)
    reg = PeopleRegistry(tmp_path / "state")
    obama = reference_embedding(FIXTURE_MEDIA / "obama.jpg", stack)[0]
    biden = reference_embedding(FIXTURE_MEDIA / "biden.jpg", stack)[0]
    clusters = [(obama, [1], [], [[0, 9]]), (biden, [2], [], [[3, 9]])]
    ids = reg.assign("/clips/a.mp4", "", clusters, cfg.identity_threshold)
    assert [i for i, _ in ids] == ["person-1", "person-2"]
    folder = tmp_path / "people" / "Barack Obama"
    folder.mkdir(parents=True)
    img = cv2.imread(str(FIXTURE_MEDIA / "two_people.jpg"))[:, :560]  # the left half: Obama alone
    cv2.imwrite(str(folder / "obama-left.jpg"), img)
    shutil.copy(FIXTURE_MEDIA / "alex-lacamoire.png", tmp_path / "people" / "not-a-folder.png")
    named = sync_reference_folder(
        reg, tmp_path / "people", lambda p: reference_embedding(p, stack)[0], cfg.identity_threshold
    )
    assert named == ["person-1=Barack Obama"]
    people = reg.read()["people"]
    assert people["person-1"]["name"] == "Barack Obama" and people["person-2"]["name"] is None
