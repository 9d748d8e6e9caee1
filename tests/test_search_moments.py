"""Moment matching and honest keyword search on real sidecars in a real SQLite FTS5 index.

A sign read as two OCR items, words said while other words are on screen, a person on
screen by a part of the name: what an editor remembers of a moment, found as one hit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from export_sidecars import marker
from search_library import _span, _synthetic

from kinod.cli.main import main
from kinod.library.index.db import SearchIndex, index_path
from kinod.library.index.search import SearchFilters, search
from kinod.library.index.update import reindex


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def _ocr(start: float, end: float, text: str, box: list[int]) -> dict[str, Any]:
    return {**_span(start, end), "text": text, "confidence": 0.9, "box": box, "frame_width": 640, "frame_height": 360}


def _said(start: float, text: str, speaker: str = "Speaker 1") -> dict[str, Any]:
    words = [[w, round(start + 0.4 * i, 2), round(start + 0.4 * i + 0.3, 2)] for i, w in enumerate(text.split())]
    return {"start_s": start, "end_s": words[-1][2], "text": text, "speaker": speaker,
            "words": [{"word": w, "start_s": s, "end_s": e} for w, s, e in words]}


def moment_sidecars(root: Path) -> list[dict[str, Any]]:
    folder = root / "CARD3"
    bakery = _synthetic(
        "A003C001.mov", folder, frames=500,
        # The sign as an OCR engine reads it: two boxes on one line; the words also a text marker.
        ocr={"items": [_ocr(1, 4, "HERON BAKERY", [120, 40, 200, 30]), _ocr(1, 4, "BLUE", [40, 42, 70, 28]),
                       _ocr(12, 14, "FORECAST 2027", [40, 300, 200, 30])]},
        markers=[marker("text", 25, "HERON BAKERY", "on-screen text")],
        speech={"items": [_said(11.0, "we need to talk about the budget now"),
                          _said(16.5, "the weather is nice for a change")]},
        faces={"items": [{**_span(15, 19), "track": 1, "person": "person-2", "person_name": "Barack Obama"}],
               "summary": {"people": [{"id": "person-2", "name": "Barack Obama", "tracks": [1]}]}},
        visual={"items": [{**_span(0, 20), "keyframe_frame": 10, "tags": [{"label": "street", "score": 0.9}],
                           "description": "A man in a suit walks past a shop"}]},
    )
    # The same two words in one transcript sentence, far apart.
    talk = _synthetic("A003C002.mov", folder, frames=750,
                      speech={"items": [_said(0.0, "the budget was long debated and then after many weeks of "
                                                   "argument a forecast was published")]})
    # Both words in one on-screen line.
    sign = _synthetic("A003C003.mov", folder, ocr={"items": [_ocr(2, 4, "WEATHER FORECAST", [0, 0, 300, 30])]})
    return [bakery, talk, sign]


@pytest.fixture(scope="module")
def idx(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    tmp = tmp_path_factory.mktemp("moments")
    out = tmp / "out" / "CARD3"
    out.mkdir(parents=True)
    for sc in moment_sidecars(tmp / "footage"):
        (out / f"{sc['source']['name']}.kino.json").write_text(json.dumps(sc))
    reindex(tmp / "var", tmp / "out")
    return SearchIndex(index_path(tmp / "var"), readonly=True)


def test_three_word_sign_read_as_two_items_is_one_hit(idx: SearchIndex) -> None:
    for query in ("blue heron bakery", '"blue heron bakery"'):
        hits = search(idx, query)
        assert len(hits) == 1, (query, hits)
        assert hits[0].name == "A003C001.mov" and hits[0].kind == "ocr" and hits[0].start_s == 1.0
        assert "BLUE HERON BAKERY" in hits[0].snippet.replace("\x02", "").replace("\x03", "")
    assert search(idx, '"heron blue"') == []  # a phrase keeps its order


def test_on_screen_text_is_found_once(idx: SearchIndex) -> None:
    hits = search(idx, "bakery")
    assert [(h.name, h.kind) for h in hits] == [("A003C001.mov", "ocr")]


def test_words_said_and_shown_in_one_moment_are_one_hit(idx: SearchIndex) -> None:
    hits = search(idx, "budget forecast")
    top = hits[0]
    assert top.name == "A003C001.mov" and top.kind == "moment"
    assert top.sources == ["ocr", "words"]
    assert 11.0 <= top.start_s <= 12.0 and 13.9 <= top.end_s <= 14.1
    assert top.start_tc == "01:00:1" + top.start_tc[-4:]
    # the sentence that holds both words, 8 seconds apart, is a hit too, but ranks below the closer moment
    assert [h.name for h in hits] == ["A003C001.mov", "A003C002.mov"]
    assert hits[1].kind == "words" and hits[1].sources == ["words"]


def test_who_is_on_screen_joins_a_moment(idx: SearchIndex) -> None:
    hits = search(idx, "obama weather")
    assert len(hits) == 1 and hits[0].kind == "moment" and hits[0].sources == ["person", "words"]
    assert search(idx, "obama bakery") == []  # 11 seconds apart: not one moment


def test_person_filter_matches_any_part_of_the_name(idx: SearchIndex) -> None:
    for who in ("Obama", "barack", "BARACK OBAMA", "person-2"):
        assert {h.name for h in search(idx, "weather", SearchFilters(person=who))} == {"A003C001.mov"}, who
    assert search(idx, "weather", SearchFilters(person="Lee")) == []
    browse = search(idx, "", SearchFilters(person="obama"))
    assert browse and browse[0].kind == "person" and browse[0].start_s == 15.0


def test_shot_descriptions_are_not_scenes(idx: SearchIndex) -> None:
    hits = search(idx, "suit")
    assert [h.kind for h in hits] == ["description"]


def test_since_rejects_what_is_not_a_date(idx: SearchIndex, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from kinod.library.index.search import SearchError

    with pytest.raises(SearchError, match="not a date"):
        search(idx, "budget", SearchFilters(since="notadate"))
    assert search(idx, "budget", SearchFilters(since="2026-01-01T00:00:00"))
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[state]\ndir = "{idx.path.parent}"\n[output]\nroot = "{tmp_path}"\n')
    capsys.readouterr()
    assert main(["--config", str(cfg), "search", "budget", "--since", "notadate"]) == 2
    assert "not a date" in capsys.readouterr().err


def test_a_moment_ranks_above_one_entry_only_when_its_words_are_closer(idx: SearchIndex) -> None:
    # "forecast" shown at 12-14 s, "weather" said at 16.9 s: one moment, 2.9 s apart; the sign holds both
    hits = search(idx, "weather forecast")
    assert [(h.name, h.kind) for h in hits] == [("A003C003.mov", "ocr"), ("A003C001.mov", "moment")]
    assert hits[1].sources == ["ocr", "words"]
