"""YAML output: ``<clip>.kino.yaml`` is the JSON sidecar itself, and ``card.kino.yaml`` the card report.

The sidecar is built from a real probe of a lavfi clip with a start timecode, plus an
analysis carrying the jfk transcript and markers with hostile names, so the YAML meets
timecodes that YAML 1.1 would read as numbers, strings like ``yes``/``null``, control
characters and every script the JSON carries.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from export_sidecars import HOSTILE, make_sidecar, marker
from signal_media import lavfi_clip

from kinod.analyzers.base import Marker, Result
from kinod.export.sidecar import TimeBase, analysis_record, build_sidecar, json_schema, marker_record
from kinod.export.writers import ExportError, write_card_formats, write_formats
from kinod.export.yaml_out import read_yaml, to_yaml
from kinod.media.probe import probe

JFK = Path(__file__).resolve().parent / "data" / "speech" / "jfk_speech.json"
#: Strings a careless YAML writer turns into booleans, nulls, numbers or dates.
TRICKY = ("yes", "No", "on", "null", "~", "10:00:00:00", "1e3", "0x1F", "2026-01-01", "- dash", "key: value", "")


def _keys(value: Any) -> Any:
    """Key order, recursively: equal dicts with keys in another order compare unequal here."""
    if isinstance(value, dict):
        return [(k, _keys(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_keys(v) for v in value]
    return value


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("yaml")
    clip = lavfi_clip(
        tmp / "A001C007.mov",
        "testsrc2=s=64x48:r=30000/1001",
        "sine=f=440:r=48000",
        seconds=2,
        extra=("-timecode", "10:00:00;00"),
    )
    pr = probe(clip)
    tb = TimeBase.from_probe(pr)
    names = [*HOSTILE, *TRICKY]
    markers = [Marker("tag", i % pr.frames, name, comment=name, confidence=0.5) for i, name in enumerate(names)]
    segments = json.loads(JFK.read_text())
    result = Result(items=segments, summary={"transcript": " ".join(s["text"] for s in segments), "tricky": TRICKY})
    result.markers.extend(markers)
    analyses = {"speech": analysis_record("speech", "1", {"model": "base"}, "x", result, 0.5, tb)}
    data = build_sidecar(
        source_path=clip,
        fingerprint="f00d",
        probe=pr,
        analyses=analyses,
        markers=[marker_record(m, "speech", tb) for m in markers],
        errors=[],
        card="A001",
    )
    return json.loads(json.dumps(data, allow_nan=False))  # what the JSON sidecar file holds


def test_yaml_round_trip_equals_the_json_sidecar(sidecar: dict[str, Any], tmp_path: Path) -> None:
    assert sidecar["timeline"]["drop_frame"] and sidecar["timeline"]["start_tc"] == "10:00:00;00"
    (path,) = write_formats(sidecar, tmp_path, ["json", "yaml"])
    assert path.name == "A001C007.mov.kino.yaml"
    text = path.read_text(encoding="utf-8")
    assert "!!" not in text and "&id" not in text  # safe dumper: no Python tags, no anchors
    loaded = yaml.safe_load(text)
    assert loaded == sidecar
    assert _keys(loaded) == _keys(sidecar)  # same key order, all the way down
    jsonschema.validate(loaded, json_schema(), format_checker=jsonschema.FormatChecker())
    assert [m["name"] for m in loaded["markers"]].count("10:00:00:00") == 1
    assert "日本語のテキスト" in text  # Unicode as is, not escaped


def test_yaml_only_sidecar_without_timeline_is_still_written(tmp_path: Path) -> None:
    failed = make_sidecar(name="broken.mov")
    failed["timeline"] = None
    (path,) = write_formats(failed, tmp_path, ["yaml", "otio"])
    assert read_yaml(path) == failed


def test_to_yaml_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(ValueError, match="not JSON data"):
        to_yaml({"x": float("nan")})
    with pytest.raises(ValueError, match="not JSON data"):
        to_yaml({"x": object()})


def test_card_yaml_is_the_card_report(tmp_path: Path) -> None:
    report = {
        "schema": "kinod.card",
        "card": {"root": "/mnt/cards/A001", "name": "yes"},
        "clips": [{"tc": "10:00:00:00"}],
    }
    (tmp_path / "card.kino.json").write_text(json.dumps(report), encoding="utf-8")
    sidecars = [make_sidecar(name="C0001.MP4", markers=[marker("shot", 5, "a")])]
    written = write_card_formats(sidecars, tmp_path, ["yaml", "otio"])
    assert [p.name for p in written] == ["card.kino.yaml", "card.otio"]
    loaded = read_yaml(tmp_path / "card.kino.yaml")
    assert loaded == report and _keys(loaded) == _keys(report)


def test_card_yaml_without_a_report_names_the_missing_file(tmp_path: Path) -> None:
    sidecars = [make_sidecar(name="C0001.MP4")]
    with pytest.raises(ExportError, match=r"card\.kino\.json") as err:
        write_card_formats(sidecars, tmp_path, ["yaml", "otio"])
    assert [p.name for p in err.value.written] == ["card.otio"]  # the other formats were still written
