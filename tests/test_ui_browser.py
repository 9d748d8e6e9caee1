"""End to end in a real browser: Playwright for Python driving Debian's chromium.

Playwright's own browser download cannot run here (and must never be needed), so the
test points it at the system executable; ``make test`` installs ``chromium`` with
apt-get where it is missing and it may. Without it the test skips and says what to
install. A failure leaves a screenshot next to the test's temp folder and names it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from daemon_harness import free_port
from search_library import build_library

from kinod.config import load_config
from kinod.library.ui.server import UiServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file() and shutil.which("chromium") is None,
    reason="needs Debian's chromium for the browser test: apt-get install -y chromium (make test does it as root)",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    lib = build_library(tmp_path_factory.mktemp("library"))
    ui = UiServer(load_config(lib["config"]), f"127.0.0.1:{free_port()}")
    ui.start()
    yield f"http://{ui.address}"
    ui.stop()
    structlog.reset_defaults()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.is_file() else shutil.which("chromium")),
            args=CHROMIUM_ARGS, headless=True,
        )
        try:
            pg = browser.new_page()
            pg.set_default_timeout(20_000)
            yield pg
        finally:
            browser.close()


def test_library_clip_contact_sheet_transcript_seek_and_search(server: str, page: Any, tmp_path: Path) -> None:
    try:
        page.goto(server + "/")
        page.click('a.card-link[href="/card/CARD1"]')
        page.wait_for_url("**/card/CARD1")
        page.click('a.clip-link[href="/clip/CARD1/jfk.mp4"]')
        page.wait_for_url("**/clip/CARD1/jfk.mp4")
        # contact sheet: every keyframe decoded by the browser
        page.wait_for_function(
            "() => { const imgs = [...document.querySelectorAll('.sheet img')];"
            " return imgs.length === 3 && imgs.every(i => i.complete && i.naturalWidth > 0); }"
        )
        word = page.locator(".transcript .w", has_text="country").first
        t = float(word.get_attribute("data-t"))
        assert t > 1.0
        word.click()
        page.wait_for_function(
            "(t) => Math.abs(document.getElementById('player').currentTime - t) < 0.05", arg=t
        )
        page.fill("#q", "ask not what your country")
        page.press("#q", "Enter")
        page.wait_for_url("**/search?q=*")
        group = page.locator("section.group").first  # hits grouped under their clip
        group.wait_for()
        assert "jfk.mp4" in group.locator("h2").inner_text()
        hit = group.locator("ol.hits li.hit").first
        assert "country" in hit.locator("mark").all_inner_texts()
    except Exception as e:
        shot = tmp_path / "failure.png"
        page.screenshot(path=str(shot), full_page=True)
        raise AssertionError(f"browser test failed at {page.url}: {e}; screenshot: {shot}") from e


# ------------------------------------------------------------------ pages an editor works in

WIDTHS = (1400, 800)


@pytest.fixture(scope="module")
def shots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: $KINOD_TEST_ARTEFACTS (CI keeps it), else the session's temp folder."""
    import os

    d = Path(os.environ.get("KINOD_TEST_ARTEFACTS") or tmp_path_factory.getbasetemp() / "artefacts") / "ui"
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def ui_lib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from card_progress import start_card
    from ui_library import build_ui_library

    ws: dict[str, Any] = build_ui_library(tmp_path_factory.mktemp("ui"))
    ws["jobs"] = start_card(ws["state"], ws["root"] / "CARD_D", clips=3)
    ui = UiServer(load_config(ws["config"]), f"127.0.0.1:{free_port()}")
    ui.start()
    ws["url"] = f"http://{ui.address}"
    yield ws
    ui.stop()
    structlog.reset_defaults()


@pytest.fixture
def watched(page: Any) -> Iterator[Any]:
    """The page, failing the test on any console error or uncaught script error."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    yield page
    assert errors == [], f"console errors: {errors}"


def no_sideways_scroll(page: Any, shot: Path) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(50)  # one layout pass after the resize
        sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        page.screenshot(path=str(shot.with_name(f"{shot.stem}-{width}.png")), full_page=True)
        assert sizes[0] <= sizes[1], f"{page.url} scrolls sideways at {width} px: {sizes}"


def test_library_shows_a_card_in_work_updating_without_reload(ui_lib: dict[str, Any], watched: Any,
                                                             shots_dir: Path) -> None:
    from card_progress import finish

    page = watched
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(ui_lib["url"] + "/")
    tile = page.locator('li.tile[data-card="CARD_D"]')
    tile.wait_for()
    assert "0 of 6 jobs" in tile.inner_text()
    page.evaluate("() => { window.kinodNoReload = true; }")  # gone if the page reloads
    page.screenshot(path=str(shots_dir / "library-in-progress-before.png"), full_page=True)
    finish(ui_lib["state"], ui_lib["jobs"][:4])
    page.wait_for_function(
        "() => document.querySelector('li.tile[data-card=\"CARD_D\"] .state').textContent.includes('4 of 6 jobs')")
    assert page.evaluate("() => window.kinodNoReload === true")
    width = page.evaluate("() => document.querySelector('li.tile[data-card=\"CARD_D\"] .bar span').style.width")
    assert width == "67%"
    page.screenshot(path=str(shots_dir / "library-in-progress-after.png"), full_page=True)
    posters = page.evaluate("() => [...document.querySelectorAll('img.poster')].filter(i => i.complete"
                            " && i.naturalWidth > 0).length")
    assert posters >= 2
    assert page.locator(".people-strip a", has_text="Omar Haddad").count() == 1
    no_sideways_scroll(page, shots_dir / "library.png")


def test_search_with_thumbnails_and_selects_download(ui_lib: dict[str, Any], watched: Any, shots_dir: Path,
                                                    tmp_path: Path) -> None:
    import opentimelineio as otio

    page = watched
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(ui_lib["url"] + "/search")
    assert page.locator(".explore").inner_text().count("Ann Lee") == 1  # the empty state shows what exists
    page.fill("form.filters input[name=q]", "blue heron bakery")
    page.press("form.filters input[name=q]", "Enter")
    page.wait_for_url("**/search?q=*")
    group = page.locator("section.group", has_text="A003C001.mov")
    group.wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('img.thumb')].length > 0 &&"
                           " [...document.querySelectorAll('img.thumb')].every(i => i.complete && i.naturalWidth > 0)")
    assert "ocr" in group.locator(".kind").all_inner_texts()
    page.screenshot(path=str(shots_dir / "search-thumbnails.png"), full_page=True)
    page.locator("input[name=pick]").first.check()
    with page.expect_download() as dl:
        page.click("#selects-otio")
    dest = tmp_path / "selects.otio"
    dl.value.save_as(str(dest))
    tl = otio.adapters.read_from_file(str(dest))
    clips = list(tl.find_clips())
    assert [c.name for c in clips] == ["A003C001.mov"]
    no_sideways_scroll(page, shots_dir / "search.png")


def test_clip_page_has_a_lane_per_person_and_a_ruler(ui_lib: dict[str, Any], watched: Any, shots_dir: Path) -> None:
    page = watched
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(ui_lib["url"] + "/clip/CARD3/A003C001.mov")
    lanes = page.locator(".strip .person-lane .cat").all_inner_texts()
    assert lanes == ["Ann Lee", "Omar Haddad"]
    ticks = page.locator(".strip .ruler .tick").all_inner_texts()
    assert ticks[0] == "01:00:00:00" and len(ticks) >= 4
    overflow = page.evaluate(
        "() => [...document.querySelectorAll('.strip .lane')].some(l => [...l.children].some("
        "m => m.getBoundingClientRect().right > l.getBoundingClientRect().right + 0.5))")
    assert not overflow  # the marker past the clip's end is cut at the end
    assert "A003C001.mov.otio" in page.locator("ul.downloads").inner_text()
    page.screenshot(path=str(shots_dir / "clip-two-people.png"), full_page=True)
    no_sideways_scroll(page, shots_dir / "clip.png")
    page.goto(ui_lib["url"] + "/clip/CARD3/jfk.flac")
    page.wait_for_function("() => { const i = document.querySelector('img.waveform');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    assert page.locator("audio#player").count() == 1 and page.locator("video").count() == 0
    page.screenshot(path=str(shots_dir / "clip-audio-waveform.png"), full_page=True)
    no_sideways_scroll(page, shots_dir / "clip-audio.png")


def test_card_in_work_page(ui_lib: dict[str, Any], watched: Any, shots_dir: Path) -> None:
    page = watched
    page.goto(ui_lib["url"] + "/card/CARD_D")
    assert "jobs" in page.locator("#progress").inner_text()
    no_sideways_scroll(page, shots_dir / "card-in-work.png")
