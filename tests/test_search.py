"""The library search index: real sidecars from ``kinod scan``, real SQLite FTS5, the real CLI."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import opentimelineio as otio
import pytest
import structlog
from search_library import build_library, card2_sidecars

from kinod.cli.main import main
from kinod.config import load_config
from kinod.library.index.db import SearchIndex, index_path
from kinod.library.index.extract import clip_doc
from kinod.library.index.search import MAX_TERMS, SearchError, SearchFilters, fts_expression, search
from kinod.library.index.update import forget_clip, index_sidecar, reindex


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """``main()`` points structlog at the stderr of the test that ran it; later tests need their own."""
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_library(tmp_path_factory.mktemp("library"))


@pytest.fixture(scope="module")
def index(lib: dict[str, Path]) -> SearchIndex:
    return SearchIndex(index_path(lib["state"]), readonly=True)


def run_json(lib: dict[str, Path], *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, Any]]]:
    capsys.readouterr()
    rc = main(["--config", str(lib["config"]), "search", *argv, "--json"])
    out = capsys.readouterr().out
    return rc, json.loads(out)


def test_jfk_phrase_is_found_at_its_timecode(lib: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    rc, hits = run_json(lib, "ask not what your country", capsys=capsys)
    assert rc == 0 and hits
    top = hits[0]
    assert top["kind"] == "words" and top["path"] == str(lib["jfk"])
    # narrowed to the words said (about 2.5 s to 6.3 s), not the whole 0-7.6 s segment
    assert 1.8 <= top["start_s"] <= 3.5 and 5.0 <= top["end_s"] <= 7.0
    assert top["start_tc"].startswith("00:00:0") and top["end_tc"] > top["start_tc"]
    assert set(top) >= {"path", "start_s", "end_s", "start_tc", "end_tc", "kind", "snippet", "score"}
    assert "[country]" in top["snippet"].lower()


def test_every_kind_of_the_agreed_shapes_is_indexed(index: SearchIndex) -> None:
    kinds = {h.kind for q in ("kitchen", "OPEN", "Ann", "pasta", "Cooking", "truncated", "A001")
             for h in search(index, q)}
    assert {"tag", "ocr", "person", "scene", "category", "problem"} <= kinds
    ocr = [h for h in search(index, "open") if h.kind == "ocr" and h.name == "kitchen.mov"]
    assert ocr and ocr[0].start_s == 2.0 and ocr[0].start_tc == "01:00:02:00"


def test_tag_and_category_filters_narrow_the_hits(index: SearchIndex, lib: dict[str, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    both = {h.name for h in search(index, "open")}
    assert both == {"kitchen.mov", "street.mov"}
    assert {h.name for h in search(index, "open", SearchFilters(tag="kitchen"))} == {"kitchen.mov"}
    assert {h.name for h in search(index, "open", SearchFilters(category="Food & Cooking"))} == {"kitchen.mov"}
    assert {h.name for h in search(index, "open", SearchFilters(category="travel"))} == {"street.mov"}
    assert search(index, "open", SearchFilters(tag="kitchen", category="travel")) == []
    rc, hits = run_json(lib, "open", "--person", "Ann Lee", capsys=capsys)
    assert rc == 0 and {h["name"] for h in hits} == {"kitchen.mov"}
    rc, hits = run_json(lib, "", "--person", "person-1", capsys=capsys)
    assert rc == 0 and hits and all(h["kind"] == "person" for h in hits) and hits[0]["start_s"] == 1.0
    assert {h.name for h in search(index, "country", SearchFilters(card="CARD1"))} == {"jfk.mp4"}
    assert search(index, "country", SearchFilters(card="CARD2")) == []


@pytest.mark.parametrize(
    "query",
    ['"', "*", "NEAR", "-", ":", 'NEAR("a" "b", 2)', "ask*", "-country", "text:ask", "AND OR NOT", "(", ")",
     "^", "'", "\\", "\x00", "%_", "ask\" OR \"x", "ümlaut Überall", "😀", ""],
)
def test_fts_syntax_is_taken_literally(index: SearchIndex, query: str) -> None:
    search(index, query)  # never raises
    expr = fts_expression(query)
    assert expr is None or all(part.startswith('"') and part.endswith('"') for part in expr.split(" "))


def test_operators_are_words_unless_raw(index: SearchIndex, lib: dict[str, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    # "-country" means NOT country in FTS5; for the user it is the word "country"
    assert {h.name for h in search(index, "-country")} == {"jfk.mp4"}
    assert {h.name for h in search(index, "ask OR kitchen", raw=True)} == {"jfk.mp4", "kitchen.mov"}
    assert search(index, "ask OR kitchen") == []  # three words, all required
    with pytest.raises(SearchError, match="not valid FTS5 syntax"):
        search(index, 'NEAR("a"', raw=True)
    capsys.readouterr()
    assert main(["--config", str(lib["config"]), "search", "--raw", "NEAR("]) == 2
    assert "FTS5" in capsys.readouterr().err


def test_ten_kilobyte_query_is_safe(index: SearchIndex, lib: dict[str, Path],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    huge = ('ask "not* NEAR(-:' * 700)[:10_240]
    assert len(huge) >= 10_000
    search(index, huge)
    with contextlib.suppress(SearchError):  # raw 10 kB: cut to MAX_RAW_CHARS; bad syntax is a SearchError
        search(index, huge, raw=True)
    with pytest.raises(SearchError):
        search(index, "(" * 10_240, raw=True)
    expr = fts_expression(" ".join(f"w{i}" for i in range(5000)))
    assert expr is not None and expr.count('"') == 2 * MAX_TERMS
    capsys.readouterr()
    rc = main(["--config", str(lib["config"]), "search", huge])
    assert rc in (0, 1) and "Traceback" not in capsys.readouterr().err


def test_selects_timeline_from_hits(lib: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "selects.otio"
    assert main(["--config", str(lib["config"]), "search", "country", "--otio", str(dest), "--handles", "1"]) == 0
    tl = otio.adapters.read_from_file(str(dest))
    clips = list(tl.find_clips())
    assert clips and all(c.name == "jfk.mp4" for c in clips)
    hits = search(SearchIndex(index_path(lib["state"]), readonly=True), "country")
    assert len(clips) == len(hits)
    for clip, hit in zip(clips, hits, strict=True):
        rng = clip.source_range
        # source TC right: the clip starts at 00:00:00:00 at 25 fps, so a frame is seconds * 25; 1 s handles
        assert rng.start_time.rate == 25
        assert rng.start_time.value == max(0, int((hit.start_s - 1) * 25))
        assert rng.end_time_exclusive().value == min(275, int((hit.end_s + 1) * 25) + 1)
        found = [m for m in clip.markers if m.metadata["kinod"]["analyzer"] == "search"]
        assert len(found) == 1 and found[0].marked_range.start_time.value == int(hit.start_s * 25)
    assert tl.global_start_time.value == 3600 * 25
    edl = tmp_path / "selects.edl"
    assert main(["--config", str(lib["config"]), "search", "country", "--edl", str(edl)]) == 0
    text = edl.read_text()
    assert "FROM CLIP NAME:  jfk.mp4" in text and " 01:00:00:00 " in text and "SOURCE FILE:" in text


def test_reindex_forget_and_update(lib: dict[str, Path], tmp_path: Path) -> None:
    state = tmp_path / "var"
    out = tmp_path / "out"
    (out / "C").mkdir(parents=True)
    kitchen, _street = card2_sidecars(tmp_path / "footage")
    side = out / "C" / "kitchen.mov.kino.json"
    side.write_text(json.dumps(kitchen))
    (out / "C" / "broken.mov.kino.json").write_text("{not json")
    rep = reindex(state, out)
    assert rep.indexed == 1 and len(rep.failed) == 1 and "broken.mov.kino.json" in rep.failed[0]
    idx = SearchIndex(index_path(state))
    assert {h.name for h in search(idx, "pasta")} == {"kitchen.mov"}
    # re-analysed: the new sidecar replaces the old entries
    kitchen["analyses"]["scenes"]["items"][0]["title"] = "Baking bread"
    side.write_text(json.dumps(kitchen))
    assert index_sidecar(state, side)
    assert search(idx, "making") == []
    assert [h.kind for h in search(idx, "bread")] == ["scene"]
    forget_clip(state, kitchen["source"]["path"])
    assert search(idx, "bread") == []
    assert reindex(state, out, full=False).indexed == 1
    side.unlink()
    assert reindex(state, out, full=False).removed == 1
    assert not index_sidecar(state, out / "C" / "broken.mov.kino.json")  # logged, never raised


def test_odd_sidecars_are_indexed_defensively(tmp_path: Path) -> None:
    sc = card2_sidecars(tmp_path)[0]
    sc["analyses"]["faces"]["items"].append("not a dict")
    sc["analyses"]["visual"]["items"][0]["tags"] = [{"label": None}, 3, {"score": 1}]
    sc["analyses"]["ocr"] = {"items": None}
    sc["analyses"]["categories"]["summary"] = {"top": [{"path": "not a list"}]}
    sc["analyses"]["speech"] = {"items": [{"text": "hello", "start_s": "x", "words": [{"word": 5}]}]}
    doc = clip_doc(sc, tmp_path / "kitchen.mov.kino.json")
    assert {e.kind for e in doc.entries} >= {"person", "words", "scene"}
    with pytest.raises(ValueError, match=r"source\.path"):
        clip_doc({"schema": "kinod.clip"}, tmp_path / "x.kino.json")


def test_daemon_config_key_and_defaults(lib: dict[str, Path]) -> None:
    cfg = load_config(lib["config"])
    assert cfg.ui.listen == ""


def test_since_filter_and_missing_index(index: SearchIndex, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    # CARD2's synthetic sidecars were generated 2026-01-01; the scanned jfk clip today
    assert {h.name for h in search(index, "open", SearchFilters(since="2026-01-01"))} == {"kitchen.mov",
                                                                                          "street.mov"}
    assert search(index, "open", SearchFilters(since="2026-01-02")) == []
    assert {h.name for h in search(index, "country", SearchFilters(since="2026-01-02"))} == {"jfk.mp4"}
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[state]\ndir = "{tmp_path / "var"}"\n[output]\nroot = "{tmp_path / "out"}"\n')
    capsys.readouterr()
    assert main(["--config", str(cfg), "search", "anything"]) == 1
    assert "kinod reindex" in capsys.readouterr().err


def test_drawtext_word_is_found_once_ocr_exists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Acceptance: a word drawn on screen is found. Runs once an ``ocr`` analyzer is installed (issue 15)."""
    from kinod.analyzers.registry import analyzer_names

    if "ocr" not in analyzer_names():
        pytest.skip("no ocr analyzer installed in this tree yet (issue 15); the agreed shape is tested above")
    from media import ffmpeg

    root, out, state = tmp_path / "footage", tmp_path / "out", tmp_path / "var"
    (root / "C").mkdir(parents=True)
    clip = root / "C" / "sign.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=white:s=640x360:r=25:d=3",
           "-vf", "drawtext=text='BUDGET':fontsize=96:fontcolor=black:x=(w-tw)/2:y=(h-th)/2",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip))
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[[watch.roots]]\npath = "{root}"\n[output]\nroot = "{out}"\n[state]\ndir = "{state}"\n'
                   '[logging]\nformat = "json"\nlevel = "warning"\n[analyzers]\nenabled = ["shots", "ocr"]\n')
    assert main(["--config", str(cfg), "scan", str(root)]) == 0
    hits = search(SearchIndex(index_path(state), readonly=True), "budget")
    assert hits and hits[0].kind == "ocr" and hits[0].name == "sign.mp4"


def test_selects_in_every_nle_format(lib: dict[str, Path], tmp_path: Path) -> None:
    for flag, name, head in (("--fcpxml", "s.fcpxml", "<fcpxml"), ("--fcp7", "s.xml", "<xmeml")):
        dest = tmp_path / name
        assert main(["--config", str(lib["config"]), "search", "country", flag, str(dest)]) == 0
        assert head in dest.read_text() and "jfk.mp4" in dest.read_text()
