"""A third-party analyzer is its module plus its entry point: nothing in kinod names it.

The plugin below is written to a folder of its own with a ``*.dist-info`` declaring a
``kinod.analyzers`` entry point, as ``pip install`` would leave it, and put on the
PYTHONPATH of real ``kinod`` processes. It is a stream analyzer with a marker category
kinod has never heard of (``glint``, cyan) and items of its own kind (``sighting``). Once
enabled in the config it must show up everywhere a built-in analyzer does: the sidecar
(valid against the JSON schema), every marker export format with its declared colour,
the search index and the clip page.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import jsonschema
import pytest
from media import ffmpeg

from kinod.export.sidecar import json_schema
from kinod.export.writers import writer_classes
from kinod.export.writers.base import AVID_COLORS, RESOLVE_COLORS
from kinod.export.writers.fcp7_xml import ppro_color

KINOD = [sys.executable, "-m", "kinod.cli.main"]
WORD = "okapi parade"

PLUGIN = '''
"""Glints: a third-party stream analyzer, shipped outside kinod."""

from collections.abc import Mapping
from typing import Any

from kinod.analyzers.base import (
    AnalyzerConfig, Frame, FrameNeeds, Marker, MarkerCategorySpec, Needs, ReadContext, Result,
    SearchEntry, StreamAnalyzer, UiSection,
)


class GlintsConfig(AnalyzerConfig):
    word: str = "nothing"


class GlintsAnalyzer(StreamAnalyzer):
    name = "glints"
    version = "1"
    needs = Needs(frames=FrameNeeds(every_frame=False, sample_fps=1.0, width=64))
    Config = GlintsConfig
    marker_categories = (MarkerCategorySpec("glint", "CYAN", "Glint", search_kind="marker"),)

    def start(self, clip: Any) -> None:
        self.frames: list[int] = []

    def on_frame(self, frame: Frame) -> None:
        self.frames.append(frame.index)

    def finish(self) -> Result:
        at = self.frames[1]
        item = {"start_frame": at, "end_frame": at + 10, "text": self.config.word}
        return Result(items=[item], summary={"sampled": len(self.frames)},
                      markers=[Marker("glint", at, "Glint", 10, "a glint of light", 0.75)])

    @classmethod
    def search_entries(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[SearchEntry]:
        return [SearchEntry("sighting", it["start_s"], it["end_s"], it["text"], facets=(("tag", "glinty"),))
                for it in record["items"]]

    @classmethod
    def ui_sections(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]:
        rows = [{"t": it["start_s"], "tc": ctx.tc(it["start_s"]), "text": it["text"]} for it in record["items"]]
        return [UiSection("Sightings", "list", rows, key="sightings")]
'''

UI_SCRIPT = """
import sys
from starlette.testclient import TestClient
from kinod.config import load_config
from kinod.library.ui.app import create_app
page = TestClient(create_app(load_config(sys.argv[1]))).get(sys.argv[2])
assert page.status_code == 200, page.status_code
sys.stdout.write(page.text)
"""


def _install_plugin(site: Path) -> None:
    """What ``pip install kinod-glints`` leaves on a path: the module and its dist-info."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "kinod_glints.py").write_text(PLUGIN)
    info = site / "kinod_glints-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kinod-glints\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[kinod.analyzers]\nglints = kinod_glints:GlintsAnalyzer\n")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("plugin")
    site = tmp / "site"
    _install_plugin(site)
    card = tmp / "footage" / "CARD1"
    card.mkdir(parents=True)
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=160x120:r=25:d=3", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(card / "clip.mp4"))
    cfg = tmp / "config.toml"
    cfg.write_text(
        f'[[watch.roots]]\npath = "{tmp / "footage"}"\n[output]\nroot = "{tmp / "out"}"\n'
        f'[state]\ndir = "{tmp / "var"}"\n[logging]\nformat = "json"\nlevel = "warning"\n'
        '[export]\nfcpxml_chapter_categories = ["glint"]\n'
        f'[analyzers]\nenabled = ["glints"]\n[analyzers.glints]\nword = "{WORD}"\n'
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    ws = {"tmp": tmp, "config": cfg, "sidecar": tmp / "out" / "CARD1" / "clip.mp4.kino.json"}

    def kinod(*args: str) -> str:
        r = subprocess.run([*KINOD, "--config", str(cfg), *args], capture_output=True, text=True, timeout=300,
                           env=env)
        assert r.returncode == 0, (args, r.stdout[-2000:], r.stderr[-3000:])
        return r.stdout

    kinod("scan", str(tmp / "footage"))
    formats = sorted(f for f in writer_classes() if f not in ("srt", "vtt"))  # subtitles carry speech only
    kinod("export", str(ws["sidecar"]), "--format", ",".join(formats), "--out", str(tmp / "exports"))
    kinod("reindex")
    (tmp / "search.json").write_text(kinod("search", "okapi", "--json"))
    ui = subprocess.run([sys.executable, "-c", UI_SCRIPT, str(cfg), "/clip/CARD1/clip.mp4"], capture_output=True,
                        text=True, timeout=120, env=env)
    assert ui.returncode == 0, ui.stderr[-3000:]
    (tmp / "clip.html").write_text(ui.stdout)
    return ws


def test_the_plugin_lands_in_the_sidecar(library: dict[str, Path]) -> None:
    sidecar = json.loads(library["sidecar"].read_text())
    jsonschema.validate(sidecar, json_schema(), format_checker=jsonschema.FormatChecker())
    assert sidecar["errors"] == []
    assert sidecar["analyses"]["glints"]["items"][0]["text"] == WORD
    [marker] = [m for m in sidecar["markers"] if m["category"] == "glint"]
    assert marker["frame"] == 25 and marker["duration_frames"] == 10 and marker["analyzer"] == "glints"


@pytest.mark.parametrize("fmt", sorted(f for f in writer_classes() if f not in ("srt", "vtt")))
def test_every_marker_format_carries_its_category_in_its_colour(library: dict[str, Path], fmt: str) -> None:
    writer = writer_classes()[fmt]
    path = library["tmp"] / "exports" / f"clip.mp4{writer.suffix}"
    got = [m for m in writer().read(path, Fraction(25)) if "Glint" in m.name or "Glint" in m.comment]
    assert len(got) == 1, (fmt, writer().read(path, Fraction(25)))
    expected = {
        "otio": "CYAN", "csv": "CYAN", "resolve-edl": RESOLVE_COLORS["CYAN"], "avid": AVID_COLORS["CYAN"],
        "edl": AVID_COLORS["CYAN"].upper(), "fcp7": str(ppro_color("CYAN")),
        "fcpxml": "chapter",  # [export] fcpxml_chapter_categories names the new category
    }
    assert got[0].color == expected[fmt]
    if fmt in ("otio", "csv", "fcp7", "fcpxml"):  # the formats that keep the note say which category
        assert "glint" in got[0].comment, got[0]


def test_a_search_finds_its_items(library: dict[str, Path]) -> None:
    hits = json.loads((library["tmp"] / "search.json").read_text())
    hits = hits["hits"] if isinstance(hits, dict) else hits
    assert [(h["name"], h["kind"]) for h in hits] == [("clip.mp4", "sighting")]
    assert hits[0]["start_s"] == pytest.approx(1.0)


def test_the_clip_page_shows_its_section_and_markers(library: dict[str, Path]) -> None:
    page = (library["tmp"] / "clip.html").read_text()
    assert "<h2>Sightings</h2>" in page and WORD in page
    assert 'class="lane cat-glint color-CYAN"' in page and 'title="Glint"' in page
