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
        hit = page.locator("ol.hits li.hit").first
        hit.wait_for()
        assert "jfk.mp4" in hit.inner_text()
        assert "country" in hit.locator("mark").all_inner_texts()
    except Exception as e:
        shot = tmp_path / "failure.png"
        page.screenshot(path=str(shot), full_page=True)
        raise AssertionError(f"browser test failed at {page.url}: {e}; screenshot: {shot}") from e
