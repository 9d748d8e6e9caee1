"""Hostile names and comments in every format: carried, or replaced visibly, never a broken file."""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import opentimelineio as otio
import pytest
from export_sidecars import HOSTILE, make_sidecar, marker

from kinod.export.timeline import MARKER_CATEGORIES, clip_timeline
from kinod.export.writers import ExportOptions, get_writer, writer_classes
from kinod.export.writers.base import single_line
from kinod.export.writers.edl_common import EVENT_RE
from kinod.export.writers.resolve_edl import _MARKER_RE

OPTS = ExportOptions()
SURVIVE = ("日本語のテキスト", "🎬🙂👍🏽", "Ελληνικά, عربى, עברית")


@pytest.fixture
def hostile_sidecar() -> dict:
    markers = [
        marker(MARKER_CATEGORIES[i % len(MARKER_CATEGORIES)], 10 + i * 3, name, HOSTILE[-1 - i], duration=i % 3)
        for i, name in enumerate(HOSTILE)
    ]
    speech = [
        {"start_s": 0.5 + i, "end_s": 1.2 + i, "text": text, "speaker": "Dr. <Who> & Co", "words": []}
        for i, text in enumerate(HOSTILE)
    ]
    return make_sidecar(name="evil & <name> 'q' \"dq\" 🎬.mov", markers=markers, speech=speech, frames=1000)


def _write(fmt: str, sc: dict, tmp_path: Path) -> Path:
    w = get_writer(fmt)
    return w.write(clip_timeline(sc), tmp_path / ("out" + w.suffix), OPTS)


@pytest.mark.parametrize("fmt", sorted(set(writer_classes()) - {"srt", "vtt"}))
def test_non_latin_and_emoji_survive(fmt: str, hostile_sidecar: dict, tmp_path: Path) -> None:
    path = _write(fmt, hostile_sidecar, tmp_path)
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig")
    if fmt in {"fcp7", "fcpxml"}:
        root = ET.fromstring(raw)  # well-formed despite <, &, ]]>, quotes and control characters
        text = " ".join(v for el in root.iter() for v in [el.text or "", *el.attrib.values()])
    elif fmt == "otio":
        tl = otio.adapters.read_from_string(text, "otio_json")
        text = " ".join(m.name + " " + m.comment for m in tl.find_clips()[0].markers)
    for word in SURVIVE:
        assert word in text, (fmt, word)
    assert "\x00" not in text and "\x07" not in text


def test_resolve_edl_stays_parseable(hostile_sidecar: dict, tmp_path: Path) -> None:
    lines = _write("resolve-edl", hostile_sidecar, tmp_path).read_text(encoding="utf-8").split("\n")
    body = [line for line in lines[3:] if line]
    assert len(body) == 2 * len(hostile_sidecar["markers"])
    for event, mark in zip(body[::2], body[1::2], strict=True):
        assert EVENT_RE.match(event), event
        m = _MARKER_RE.match(mark)
        assert m, mark
        assert m.group("note").count("|") == 0 and m.group("name").count("|") == 0
        assert not m.group("note").lstrip()[:1].isdigit() and not mark.startswith("*")
    assert "¦" in "".join(body) and "¶" in "".join(body)


def test_cmx_edl_has_only_edl_lines(hostile_sidecar: dict, tmp_path: Path) -> None:
    lines = _write("edl", hostile_sidecar, tmp_path).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("TITLE: ") and "\t" not in lines[0]
    for line in lines[2:]:
        assert not line or EVENT_RE.match(line) or line.startswith("* "), line


def test_avid_lines_keep_six_fields(hostile_sidecar: dict, tmp_path: Path) -> None:
    lines = _write("avid", hostile_sidecar, tmp_path).read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(hostile_sidecar["markers"])
    assert all(len(line.split("\t")) == 6 for line in lines)
    assert any("line one ¶ line two" in line for line in lines)


def test_csv_cells_round_trip_with_formula_guard(hostile_sidecar: dict, tmp_path: Path) -> None:
    path = _write("csv", hostile_sidecar, tmp_path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = [r["name"] for r in rows]
    assert "line one\nline two" in names and "tab\there" in names
    assert '\'=HYPERLINK("http://x")' in names and "'+plus -minus @at" in names
    assert 'Tom & Jerry <b>"quoted"</b>' in names


def test_srt_and_vtt_cues_never_break(hostile_sidecar: dict, tmp_path: Path) -> None:
    srt = _write("srt", hostile_sidecar, tmp_path).read_text(encoding="utf-8")
    vtt = _write("vtt", hostile_sidecar, tmp_path).read_text(encoding="utf-8")
    for text, head in ((srt, re.compile(r"^\d+$")), (vtt, re.compile(r"^\d\d:\d\d:\d\d\.\d{3} --> "))):
        blocks = text.strip().split("\n\n")
        assert len(blocks) >= len(HOSTILE)
        for block in blocks[1 if text is vtt else 0 :]:
            assert head.match(block.splitlines()[0]), block
    assert "<b>" not in srt and "‹b›" in srt
    assert "&lt;b&gt;" in vtt and "<v Dr. &lt;Who&gt; &amp; Co>" in vtt
    flat = vtt.replace("\n", " ")  # the speaker label counts against the line, so cues may wrap
    assert "Tom &amp; Jerry" in flat and "&amp;amp;" in vtt


def test_single_line_marks_breaks_visibly() -> None:
    assert single_line("a\r\nb\rc\nd\u2028e\tf") == "a ¶ b ¶ c ¶ d ¶ e f"
    assert single_line("bell\x07") == "bell\ufffd"
