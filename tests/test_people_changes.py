"""Naming, merging and forgetting people: carried at once to every sidecar, the job store, the
search index, every export of the affected clips and the card page; and forgetting lasts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from faces_media import face_crop, moving_face_clip
from media import FIXTURE_MEDIA

from kinod.cli.main import main
from kinod.config import load_config
from kinod.jobs.store import JobStore
from kinod.library.index.search import SearchFilters, search
from kinod.library.index.update import open_index, reindex
from kinod.run.card_outputs import finish_card
from kinod.run.finalize import Finalizer
from kinod.run.people_names import forget_person, merge_people, name_person
from kinod.run.processor import ClipProcessor

EXPORTS = (".otio", ".resolve.edl", ".edl", ".fcp7.xml", ".fcpxml")


@pytest.fixture(autouse=True)
def _restore_logging():
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two clips of the same two people (Obama left, Biden right), made once."""
    d = tmp_path_factory.mktemp("people-media")
    photo = face_crop("two_people.jpg", (0, 0, 1126, 661), d / "two.png")
    return {
        "A": moving_face_clip(d / "A001.mp4", photo, start_s=0.5, end_s=3.5, width=420),
        "B": moving_face_clip(d / "A002.mp4", photo, start_s=1.0, end_s=3.0, width=380),
    }


@pytest.fixture
def library(workspace: dict[str, Path], media: dict[str, Path]) -> dict:
    text = workspace["config"].read_text().replace('enabled = ["shots"]', 'enabled = ["shots", "faces"]')
    text = text.replace("[output]\n", '[output]\nformats = ["json", "otio", "resolve-edl", "edl", "fcp7", "fcpxml"]\n')
    workspace["config"].write_text(text)
    card = workspace["root"] / "CARD1"
    card.mkdir()
    clips = [card / p.name for p in media.values()]
    for src, dst in zip(media.values(), clips, strict=True):
        dst.write_bytes(src.read_bytes())
    config = load_config(workspace["config"])
    store = JobStore(config.state.dir / "kinod.sqlite")
    try:
        sidecars = [ClipProcessor(config, store).process(c, workspace["out"] / "CARD1").sidecar for c in clips]
    finally:
        store.close()
    finish_card(config, card, sidecars)
    side = json.loads(sidecars[0].read_text())
    items = side["analyses"]["faces"]["items"]
    left = min(items, key=lambda i: i["boxes"][0][0])  # Obama is on the left
    return {"config": config, "clips": clips, "sidecars": sidecars, "card": card, "pid": left["person"],
            "ws": workspace, "fp": side["source"]["fingerprint"]}  # fmt: skip


def _texts(lib: dict) -> dict[str, str]:
    """Every export of the two clips and the card, with card.html."""
    out = lib["sidecars"][0].parent
    files = [out / f"{c.name}{suffix}" for c in lib["clips"] for suffix in EXPORTS]
    files += [out / "card.html", *(p for p in out.glob("card.*") if p.suffix != ".json")]
    assert all(f.is_file() for f in files), [f for f in files if not f.is_file()]
    return {f.name: f.read_text(errors="replace") for f in files}


def _found(lib: dict, person: str) -> set[str]:
    return {h.path for h in search(open_index(lib["config"].state.dir), "", SearchFilters(person=person))}


def test_one_identity_across_clips(library: dict) -> None:
    people = {tuple(sorted(p["id"] for p in json.loads(s.read_text())["analyses"]["faces"]["summary"]["people"]))
              for s in library["sidecars"]}  # fmt: skip
    assert len(people) == 1 and len(next(iter(people))) == 2  # the same two ids in both clips


def test_a_name_reaches_everything_at_once(library: dict) -> None:
    pid = library["pid"]
    update = name_person(library["config"], pid, "Barack Obama")
    assert sorted(update.sidecars) == sorted(library["sidecars"])
    for s in library["sidecars"]:
        data = json.loads(s.read_text())
        assert any(m["name"] == "Barack Obama" for m in data["markers"] if m["category"] == "face")
        assert {p["id"]: p["name"] for p in data["analyses"]["faces"]["summary"]["people"]}[pid] == "Barack Obama"
    for name, text in _texts(library).items():
        if name.startswith("A00") or name == "card.html" or name.startswith("card."):
            assert "Barack Obama" in text, name
    assert _found(library, "obama") == {str(c) for c in library["clips"]}  # no reindex; part of the name
    assert _found(library, "BARACK") == {str(c) for c in library["clips"]}
    # A sidecar rebuilt from the job store keeps the name.
    store = JobStore(library["config"].state.dir / "kinod.sqlite")
    try:
        Finalizer(library["config"], store).finalize(library["fp"])
    finally:
        store.close()
    data = json.loads(library["sidecars"][0].read_text())
    assert any(i["person_name"] == "Barack Obama" for i in data["analyses"]["faces"]["items"])


def test_merge_joins_two_people_everywhere(library: dict) -> None:
    pid = library["pid"]
    data = json.loads(library["sidecars"][0].read_text())
    other = next(p["id"] for p in data["analyses"]["faces"]["summary"]["people"] if p["id"] != pid)
    name_person(library["config"], pid, "Somebody")
    merge_people(library["config"], other, pid)
    for s in library["sidecars"]:
        faces = json.loads(s.read_text())["analyses"]["faces"]
        assert {i["person"] for i in faces["items"]} == {pid}
        assert [p["id"] for p in faces["summary"]["people"]] == [pid]
    assert "Somebody" in _texts(library)[f"{library['clips'][0].name}.fcpxml"]


def test_forget_lasts_through_rebuild_reindex_and_restart(library: dict, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, pid = library["config"], library["pid"]
    name_person(cfg, pid, "Barack Obama")
    before = json.loads(library["sidecars"][0].read_text())["analyses"]["faces"]
    images = [library["sidecars"][0].parent / i["best_image"] for i in before["items"] if i["person"] == pid]
    assert images and all(p.is_file() for p in images)
    forget_person(cfg, pid)

    def gone() -> None:
        for s in library["sidecars"]:
            text = s.read_text()
            assert pid not in text and "Barack Obama" not in text
        for name, text in _texts(library).items():
            assert "Barack Obama" not in text, name
        assert not any(p.exists() for p in images)
        assert _found(library, "obama") == set() and _found(library, pid) == set()
        state = cfg.state.dir / "faces"
        for f in [state / "people.json", *(state / "tracks").glob("*.json")]:
            assert "Barack Obama" not in f.read_text() and f'"person": "{pid}"' not in f.read_text()
        assert _library_hits(cfg) == 0

    gone()
    # Rebuilt from the job store (every stored record finalized again).
    store = JobStore(cfg.state.dir / "kinod.sqlite")
    try:
        Finalizer(cfg, store).finalize(library["fp"])
        assert all(pid not in json.dumps(r.record) for r in store.queue.jobs_of(library["fp"]) if r.record)
    finally:
        store.close()
    gone()
    # Reindexed from the sidecars.
    reindex(cfg.state.dir, cfg.output.root)
    gone()
    # A restart: the clips processed again (nothing to analyse; the sidecars written anew), the card too.
    store = JobStore(cfg.state.dir / "kinod.sqlite")
    try:
        for c in library["clips"]:
            ClipProcessor(cfg, store).process(c, library["ws"]["out"] / "CARD1")
    finally:
        store.close()
    finish_card(cfg, library["card"], library["sidecars"])
    gone()
    capsys.readouterr()
    assert main(["--config", str(library["ws"]["config"]), "people", "--json"]) == 0
    assert pid not in {p["id"] for p in json.loads(capsys.readouterr().out)}


def _library_hits(cfg) -> int:
    """find-person --library with a photo of the forgotten person finds no track of theirs."""
    from kinod.analyzers.faces.backends import build_stack
    from kinod.analyzers.faces.find_person import reference_embedding
    from kinod.analyzers.faces.library_search import search_library

    faces = cfg.analyzer_config("faces")
    ref = reference_embedding(FIXTURE_MEDIA / "obama.jpg", build_stack(faces))[0]
    hits, _ = search_library(ref, cfg.state.dir, faces)
    return sum(len(h) for h in hits.values())


def test_person_page_and_its_guarded_edits(library: dict) -> None:
    import re

    from starlette.testclient import TestClient

    from kinod.library.ui.app import create_app
    from kinod.run import people_names

    cfg, pid = library["config"], library["pid"]
    page = TestClient(create_app(cfg, people_names)).get(f"/person/{pid}")
    assert page.status_code == 200
    assert page.text.count("#t=") == 2  # one range in each clip, linking to the clip page at its time
    assert "/clip/CARD1/A001.mp4#t=" in page.text and "<img" in page.text and "Merge into" not in page.text
    assert TestClient(create_app(cfg, people_names)).get("/person/person-999").status_code == 404
    # Edits are off by default; on, only for loopback clients with the page's token and this origin.
    text = library["ws"]["config"].read_text() + "[ui]\nallow_edits = true\n"
    library["ws"]["config"].write_text(text)
    on = load_config(library["ws"]["config"])
    remote = TestClient(create_app(on, people_names), client=("192.0.2.7", 5000))
    assert remote.post(f"/person/{pid}/name", data={"name": "X", "token": "t"}).status_code == 403
    app = create_app(on, people_names)
    local = TestClient(app, client=("127.0.0.1", 5000))
    form = local.get(f"/person/{pid}").text
    token = re.search(r'name="token" value="([^"]+)"', form).group(1)
    assert local.post(f"/person/{pid}/name", data={"name": "X", "token": "wrong"}).status_code == 403
    evil = {"origin": "http://evil.example"}
    assert local.post(f"/person/{pid}/name", data={"name": "X", "token": token}, headers=evil).status_code == 403
    ok = local.post(f"/person/{pid}/name", data={"name": "Barack Obama", "token": token},
                    headers={"origin": "http://testserver"})  # fmt: skip
    assert ok.status_code == 200 and "Barack Obama" in ok.text  # redirected to the person page
    assert _found(library, "barack") == {str(c) for c in library["clips"]}  # the same run-layer function


def test_split_gives_some_clips_of_a_person_a_new_id(library: dict) -> None:
    from kinod.run.people_names import split_person

    cfg, pid = library["config"], library["pid"]
    name_person(cfg, pid, "Barack Obama")
    new, update = split_person(cfg, pid, [str(library["clips"][1])])
    assert update.sidecars == [library["sidecars"][1]]
    moved = json.loads(library["sidecars"][1].read_text())["analyses"]["faces"]
    kept = json.loads(library["sidecars"][0].read_text())["analyses"]["faces"]
    assert new in {i["person"] for i in moved["items"]} and pid not in {i["person"] for i in moved["items"]}
    assert pid in {i["person"] for i in kept["items"]}
    assert _found(library, "obama") == {str(library["clips"][0])}
    people = json.loads((cfg.state.dir / "faces" / "people.json").read_text())["people"]
    assert people[new]["centroid"] and [s["clip"] for s in people[new]["seen"]] == [str(library["clips"][1])]
