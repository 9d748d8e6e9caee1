"""A small real library for the search and UI tests, built once per test session.

* ``CARD1/jfk.mp4``: jfk.flac under three lavfi shots (testsrc, smptebars, blue), run
  through ``kinod scan`` with the real shots and speech analyzers (tiny.en, offline), so
  the sidecar, keyframes and transcript are what the daemon writes.
* ``CARD2``: two sidecars in the agreed shapes of the analyses other issues add (faces,
  visual, ocr, scenes, categories) with a real face image, so every kind is indexed and
  shown even before those analyzers exist in this tree.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import structlog
from export_sidecars import make_sidecar, marker
from media import FFMPEG, FIXTURE_MEDIA, ffmpeg

_CACHE: dict[str, dict[str, Path]] = {}


def _span(start: float, end: float, rate: int = 25) -> dict[str, Any]:
    return {"start_frame": int(start * rate), "end_frame": int(end * rate), "start_s": start, "end_s": end}


def _synthetic(name: str, folder: Path, rate: int = 25, frames: int = 250, **analyses: Any) -> dict[str, Any]:
    sc = make_sidecar(name=name, folder=str(folder), rate=Fraction(rate), frames=frames,
                      markers=analyses.pop("markers", None))
    sc["source"]["card"] = "CARD2"
    for key, value in analyses.items():
        sc["analyses"][key] = {"analyzer": key, "version": "1", "config_hash": "x", "model": None, "elapsed_s": 0.1,
                               **value}
    return sc


def card2_sidecars(root: Path) -> list[dict[str, Any]]:
    folder = root / "CARD2"
    kitchen = _synthetic(
        "kitchen.mov", folder,
        visual={"items": [{**_span(0, 5), "keyframe_frame": 60, "tags": [{"label": "kitchen", "score": 0.9},
                                                                          {"label": "food", "score": 0.8}],
                           "editorial": ["people", "indoor"], "scale": "medium", "camera": "static",
                           "day_night": "day", "description": "A woman cooks pasta in a bright kitchen",
                           "generated_from": "tags"}]},
        ocr={"items": [{**_span(2, 4), "text": "OPEN", "confidence": 0.93, "box": [10, 10, 80, 30],
                        "frame_width": 640, "frame_height": 360}],
             "summary": {"slate": {"roll": "A001", "scene": "12", "take": "3"}}},
        faces={"items": [{**_span(1, 6), "track": 1, "person": "person-1", "person_name": "Ann Lee",
                          "frames": [], "boxes": [], "interpolated": [], "quality": 0.9,
                          "best_image": "faces/kitchen.mov/person-1.jpg"}],
               "summary": {"people": [{"id": "person-1", "name": "Ann Lee", "tracks": [1],
                                       "best_image": "faces/kitchen.mov/person-1.jpg"}]}},
        scenes={"items": [{**_span(0, 10), "title": "Making pasta", "description": "Cooking dinner at home"}]},
        categories={"items": [], "summary": {"top": [{"path": ["Lifestyle", "Food & Cooking"], "score": 0.8}],
                                             "uncertain": False}},
    )
    street = _synthetic(
        "street.mov", folder,
        markers=[marker("problem", 100, "Truncated file", "moov atom missing at the end")],
        visual={"items": [{**_span(0, 10), "keyframe_frame": 100, "tags": [{"label": "street", "score": 0.9}],
                           "editorial": ["outdoor"], "description": "Cars pass an open shop"}]},
        ocr={"items": [{**_span(5, 7), "text": "OPEN 24 HOURS", "confidence": 0.9, "box": [0, 0, 10, 10],
                        "frame_width": 640, "frame_height": 360}]},
        categories={"items": [], "summary": {"top": [{"path": ["Travel", "City"], "score": 0.7}],
                                             "uncertain": True}},
    )
    return [kitchen, street]


def build_library(tmp: Path) -> dict[str, Path]:
    """The library under ``tmp`` (built once per session): watch root, output root, state dir, config."""
    if "lib" in _CACHE:
        return _CACHE["lib"]
    import pytest

    from kinod.cli.main import main
    if not FIXTURE_MEDIA.is_dir():
        pytest.fail(f"fixtures not found at {FIXTURE_MEDIA}: clone kinod beside shared/ as CI does")
    ws = {"root": tmp / "footage", "out": tmp / "out", "state": tmp / "var"}
    for p in ws.values():
        p.mkdir(parents=True, exist_ok=True)
    (ws["root"] / "CARD1").mkdir()
    jfk = ws["root"] / "CARD1" / "jfk.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=4", "-f", "lavfi", "-i", "smptebars=s=320x240:r=25:d=4",
        "-f", "lavfi", "-i", "color=c=blue:s=320x240:r=25:d=3.1", "-i", str(FIXTURE_MEDIA / "jfk.flac"),
        "-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1:a=0[v]", "-map", "[v]", "-map", "3:a", "-shortest",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k",
        "-movflags", "+faststart", str(jfk),
    )
    cfg = tmp / "config.toml"
    cfg.write_text(
        f'[[watch.roots]]\npath = "{ws["root"]}"\n[output]\nroot = "{ws["out"]}"\n[state]\ndir = "{ws["state"]}"\n'
        '[logging]\nformat = "json"\nlevel = "warning"\n[analyzers]\nenabled = ["shots", "speech"]\n'
        '[analyzers.speech]\nmodel = "tiny.en"\nbeam_size = 1\n'
    )
    ws["config"] = cfg
    assert main(["--config", str(cfg), "scan", str(ws["root"])]) == 0
    out2 = ws["out"] / "CARD2"
    (out2 / "faces" / "kitchen.mov").mkdir(parents=True)
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=96x96:d=1", "-frames:v", "1", str(out2 / "faces/kitchen.mov/person-1.jpg"))
    for sc in card2_sidecars(ws["root"]):
        (out2 / f"{sc['source']['name']}.kino.json").write_text(json.dumps(sc))
    assert main(["--config", str(cfg), "reindex"]) == 0
    structlog.reset_defaults()
    ws["jfk"] = jfk
    ws["ffmpeg"] = Path(FFMPEG)
    _CACHE["lib"] = ws
    return ws
