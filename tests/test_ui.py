"""The browse UI over real sidecars: pages, read-only file serving, path safety, real servers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from daemon_harness import Daemon, free_port, make_clip
from search_library import build_library
from starlette.testclient import TestClient

from kinod.config import load_config
from kinod.library.ui.app import create_app
from kinod.library.ui.paths import MAX_PATH, resolve_inside
from kinod.library.ui.server import DEFAULT_LISTEN, is_loopback, parse_listen, warn_if_wide
from kinod.run.card_outputs import render_html


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_library(tmp_path_factory.mktemp("library"))


@pytest.fixture(scope="module")
def client(lib: dict[str, Path]) -> TestClient:
    return TestClient(create_app(load_config(lib["config"])))


def test_library_card_clip_and_search_pages(client: TestClient, lib: dict[str, Path]) -> None:
    home = client.get("/")
    assert home.status_code == 200
    # problems first: CARD2 holds a truncated file
    assert home.text.index('href="/card/CARD2"') < home.text.index('href="/card/CARD1"')
    card = client.get("/card/CARD1")
    assert card.status_code == 200 and 'href="/clip/CARD1/jfk.mp4"' in card.text
    assert card.text.count('<img src="/media/CARD1/keyframes/jfk.mp4/') == 3
    clip = client.get("/clip/CARD1/jfk.mp4")
    assert clip.status_code == 200
    assert '<video id="player"' in clip.text and 'src="/source/CARD1/jfk.mp4"' in clip.text
    assert 'class="w" data-t="' in clip.text and "Americans" in clip.text
    assert 'class="strip"' in clip.text
    kitchen = client.get("/clip/CARD2/kitchen.mov")
    assert kitchen.status_code == 200
    for text in ("Ann Lee", 'src="/media/CARD2/faces/kitchen.mov/person-1.jpg"', "Making pasta", "OPEN",
                 "Lifestyle / Food &amp; Cooking", "kitchen"):
        assert text in kitchen.text
    street = client.get("/clip/CARD2/street.mov").text
    assert street.index("Problems") < street.index("Tags") and "Truncated file" in street
    hits = client.get("/search", params={"q": "ask not what your country"})
    assert hits.status_code == 200 and 'href="/clip/CARD1/jfk.mp4#t=' in hits.text and "<mark>" in hits.text
    data = client.get("/search", params={"q": "open", "tag": "kitchen", "format": "json"}).json()
    assert [h["name"] for h in data["hits"]] == ["kitchen.mov"]


def test_files_are_served_read_only_from_inside_the_roots(client: TestClient, lib: dict[str, Path]) -> None:
    img = client.get("/media/CARD1/keyframes/jfk.mp4/shot_0000000.jpg")
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
    ranged = client.get("/source/CARD1/jfk.mp4", headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100  # the player can seek
    assert client.get("/media/CARD1/jfk.mp4.kino.json").status_code == 404  # only media types
    for method in ("post", "put", "delete"):
        assert getattr(client, method)("/clip/CARD1/jfk.mp4").status_code == 405


@pytest.mark.parametrize(
    "url",
    [
        "/clip/..%2f..%2fetc%2fpasswd",
        "/clip/../../etc/passwd",
        "/clip/%2e%2e/%2e%2e/etc/passwd",
        "/media/..%2f..%2f..%2fetc%2fpasswd",
        "/media/%2fetc%2fpasswd",
        "/media/CARD1/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/card/..%2f..",
        "/source/..%2f..%2fetc%2fpasswd",
        "/media/CARD1%00/x.jpg",
        "/media/CARD1\\..\\x.jpg",
    ],
)
def test_path_traversal_is_refused(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code in (400, 404)
    assert "root:" not in r.text


def test_very_long_path_is_refused(client: TestClient) -> None:
    for url in ("/clip/" + "a" * 5000, "/media/" + "a/" * 3000 + "x.jpg", "/card/" + "b" * (MAX_PATH + 1)):
        assert client.get(url).status_code in (400, 404, 414)


def test_symlinks_out_of_the_output_root_are_refused(lib: dict[str, Path], tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "passwd.jpg").write_text("root:x:0:0")
    sc = json.loads((lib["out"] / "CARD2" / "kitchen.mov.kino.json").read_text())
    (secret / "evil.mov.kino.json").write_text(json.dumps(sc))
    out = tmp_path / "out"
    out.mkdir()
    (out / "escape").symlink_to(secret, target_is_directory=True)
    (out / "passwd.jpg").symlink_to(secret / "passwd.jpg")
    (out / "inside.jpg").write_bytes(b"\xff\xd8\xff")
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[output]\nroot = "{out}"\n[state]\ndir = "{tmp_path / "var"}"\n'
                   f'[[watch.roots]]\npath = "{lib["root"]}"\n')
    c = TestClient(create_app(load_config(cfg)))
    assert c.get("/media/inside.jpg").status_code == 200
    assert c.get("/media/passwd.jpg").status_code == 404
    assert c.get("/media/escape/passwd.jpg").status_code == 404
    assert c.get("/clip/escape/evil.mov").status_code == 404
    assert c.get("/card/escape").status_code == 404
    assert resolve_inside(out, "escape/passwd.jpg") is None and resolve_inside(out, "inside.jpg") is not None


def test_original_outside_the_watch_roots_is_not_served(lib: dict[str, Path], tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[output]\nroot = "{lib["out"]}"\n[state]\ndir = "{lib["state"]}"\n'
                   f'[[watch.roots]]\npath = "{tmp_path}"\n')
    c = TestClient(create_app(load_config(cfg)))
    assert c.get("/source/CARD1/jfk.mp4").status_code == 404
    assert "No proxy" in c.get("/clip/CARD1/jfk.mp4").text


def test_listen_defaults_and_warning() -> None:
    assert parse_listen(DEFAULT_LISTEN) == ("127.0.0.1", 8765)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    with structlog.testing.capture_logs() as logs:
        warn_if_wide("0.0.0.0", 8765)
        warn_if_wide("127.0.0.1", 8765)
    assert len(logs) == 1 and logs[0]["log_level"] == "warning"
    with pytest.raises(ValueError, match="host:port"):
        parse_listen("8765x")


def test_kinod_serve_binds_localhost_by_default(lib: dict[str, Path]) -> None:
    port = free_port()
    cfg = lib["config"].parent / "serve.toml"
    cfg.write_text(lib["config"].read_text() + f'[ui]\nlisten = "127.0.0.1:{port}"\n')
    assert load_config(lib["config"]).ui.listen == ""  # off unless configured
    proc = subprocess.Popen([sys.executable, "-m", "kinod.cli.main", "--config", str(cfg), "serve"],
                            stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "kinod UI on" not in line:
            line = proc.stderr.readline() if proc.stderr else ""
            assert line or proc.poll() is None, "kinod serve exited"
        assert f"http://127.0.0.1:{port}/" in line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/search?q=country&format=json", timeout=10) as r:
            assert json.load(r)["hits"][0]["name"] == "jfk.mp4"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_static_card_html_is_the_card_page(lib: dict[str, Path]) -> None:
    side = lib["out"] / "CARD1" / "jfk.mp4.kino.json"
    report = {"card": {"name": "CARD1", "root": str(lib["root"] / "CARD1"), "families": []},
              "verification": {"status": "passed", "summary": "2 files verified"},
              "summary": {"clips": 1, "analysed": 1, "not_analysed": 0, "problems": 0},
              "clips": [{"name": "jfk", "camera": {}, "files": [], "outputs": {"sidecar": str(side)},
                         "analysed": True}],
              "problems": [], "skipped": [], "unknown": []}
    page = render_html(report)
    assert page.lstrip().lower().startswith("<!doctype html")
    assert '<img src="keyframes/jfk.mp4/shot_0000000.jpg"' in page  # relative: opens from the folder
    assert "Verification: PASSED" in page and "/static/" not in page and "<style>" in page
    assert all((side.parent / "keyframes/jfk.mp4" / n).is_file() for n in ("shot_0000000.jpg",))


def test_daemon_serves_ui_and_keeps_the_index_in_step(tmp_path: Path) -> None:
    ui_port = free_port()
    with Daemon(tmp_path, settle=0.5, polls=2, extra=f'[ui]\nlisten = "127.0.0.1:{ui_port}"\n') as d:
        d.start()
        make_clip(d.root / "CARDX" / "zebracrossing.mp4", seconds=1.0)

        def hits() -> list[dict[str, object]]:
            url = f"http://127.0.0.1:{ui_port}/search?q=zebracrossing&format=json"
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    return json.load(r)["hits"]
            except (OSError, urllib.error.URLError):
                return []

        found = d.wait_for(hits, 60, "the finished clip in the UI's search")
        assert found[0]["kind"] == "clip"
        os.unlink(d.root / "CARDX" / "zebracrossing.mp4")
        d.wait_for(lambda: not hits(), 60, "the deleted clip to leave the index")
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/", timeout=5) as r:
            assert r.status == 200


def test_a_card_in_work_has_its_own_page_and_progress(lib: dict[str, Path], tmp_path: Path) -> None:
    from card_progress import finish, start_card

    state = tmp_path / "var"
    cfg = tmp_path / "config.toml"
    cfg.write_text(lib["config"].read_text().replace(str(lib["state"]), str(state)))
    shutil.copytree(lib["state"], state)
    keys = start_card(state, lib["root"] / "CARD_D", clips=3)
    client = TestClient(create_app(load_config(cfg)))
    assert client.get("/card/", follow_redirects=False).status_code == 307  # /card/ is the library
    home = client.get("/").text
    assert home.index('href="/card/CARD_D"') < home.index('href="/card/CARD2"')  # in work: first
    assert "0 of 6 jobs · 0 of 3 clips done" in home
    page = client.get("/card/CARD_D")
    assert page.status_code == 200 and "0 of 6 jobs" in page.text and "CARD1" not in page.text
    finish(state, keys[:4])
    prog = client.get("/progress.json").json()["cards"]
    assert prog["CARD_D"]["progress"]["finished"] == 4 and prog["CARD_D"]["progress"]["total"] == 6
    # the same problem counts on the library and on the card page
    assert prog["CARD2"]["problems"] == 1
    card2 = client.get("/card/CARD2").text
    assert "1 problem" in card2


def test_search_thumbnails_downloads_waveform_and_selects(tmp_path: Path) -> None:
    import re

    import opentimelineio as otio
    from ui_library import build_ui_library

    ws = build_ui_library(tmp_path / "ui")
    client = TestClient(create_app(load_config(ws["config"])))
    thumbs = re.findall(r'class="thumb" src="([^"]*)"', client.get("/search", params={"q": "omar"}).text)
    assert thumbs == ["/media/CARD3/faces/A003C001.mov/person-2.jpg"]  # a person hit shows the face
    thumbs = re.findall(r'class="thumb" src="([^"]*)"', client.get("/search", params={"q": "bakery"}).text)
    assert thumbs == ["/media/CARD3/keyframes/A003C001.mov/shot_0000000.jpg"]  # the keyframe nearest the hit
    assert "not a date" in client.get("/search", params={"q": "x", "since": "notadate"}).text
    empty = client.get("/search").text
    assert all(w in empty for w in ("Ann Lee", "Omar Haddad", "CARD3", "kitchen"))  # what exists, to start from
    clip = client.get("/clip/CARD3/jfk.flac").text
    assert '<audio id="player"' in clip and 'src="/waveform/CARD3/jfk.flac"' in clip
    png = client.get("/waveform/CARD3/jfk.flac")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    page = client.get("/clip/CARD3/A003C001.mov").text
    for name in ("A003C001.mov.otio", "A003C001.mov.kino.json"):
        assert f'href="/download/CARD3/{name}"' in page
    assert client.get("/download/CARD3/A003C001.mov.otio").status_code == 200
    assert client.get("/download/../config.toml").status_code == 404
    sel = client.get("/selects", params={"q": "blue heron bakery", "fmt": "otio", "pick": "0", "handles": "1"})
    assert sel.status_code == 200 and "attachment" in sel.headers["content-disposition"]
    (tmp_path / "s.otio").write_bytes(sel.content)
    assert [c.name for c in otio.adapters.read_from_file(str(tmp_path / "s.otio")).find_clips()] == ["A003C001.mov"]
    assert client.get("/selects", params={"q": "bakery", "fmt": "exe"}).status_code == 400
