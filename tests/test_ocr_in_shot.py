"""OCR inside one long shot: movement alone costs no full read, new places do, text changing in place is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from media import ffmpeg
from ocr_harness import ocr_sidecar

from kinod.analyzers.ocr.shot_parts import same_layout

SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
MONO = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf")
pytestmark = pytest.mark.skipif(not (SANS.is_file() and MONO.is_file()), reason="needs fonts-dejavu-core (apt)")


def _text(font: Path, text: str, size: int, x: int, y: int, when: str = "") -> str:
    enable = f":enable='{when}'" if when else ""
    box = ":box=1:boxcolor=black@0.8:boxborderw=12"
    return f"drawtext=fontfile={font}:text='{text}':fontsize={size}:fontcolor=white:x={x}:y={y}{box}{enable}"


def _render(path: Path) -> Path:
    """12 s, one shot of a moving picture: a bug throughout, a caption that changes in place at 8 s
    (same length, monospaced: the same box), a lower third that comes in at 4 s."""
    graph = ",".join([
        _text(SANS, "KINOD NEWS", 40, 60, 40),
        _text(MONO, "TAKE ONE READY", 44, 440, 300, "lt(t,8)"),
        _text(MONO, "TAKE TWO READY", 44, 440, 300, "gte(t,8)"),
        _text(SANS, "Maria Lopez", 48, 60, 600, "gte(t,4)"),
    ])  # fmt: skip
    moving = "smptehdbars=s=1280x720:r=25,scroll=horizontal=0.004"  # deterministic, no text of its own
    ffmpeg("-f", "lavfi", "-i", moving, "-vf", f"{graph},format=yuv420p", "-t", "12",
           "-c:v", "libx264", "-preset", "ultrafast", "-crf", "16", str(path))  # fmt: skip
    return path


@pytest.fixture(scope="module")
def ocr(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data = ocr_sidecar(tmp_path_factory.mktemp("ocr_shot"), "one_shot.mp4", _render)
    assert data["analyses"]["shots"]["summary"]["cuts"] == []
    return data["analyses"]["ocr"]


def _ranges(ocr: dict[str, Any], text: str) -> list[tuple[int, int]]:
    return [(it["start_frame"], it["end_frame"]) for it in ocr["items"] if it["text"] == text]


def test_movement_is_read_again_at_known_boxes_and_new_places_in_full(ocr: dict[str, Any]) -> None:
    s = ocr["summary"]
    # Eleven pictures after the first changed (the bars scroll); the first picture and the lower
    # third's arrival are full reads, most of the others only re-read the known boxes.
    assert 2 <= s["reads"] <= 4, s
    assert s["rereads"] >= 6 and s["reads"] + s["rereads"] == 12, s


def test_text_found_over_the_whole_shot_with_its_ranges(ocr: dict[str, Any]) -> None:
    assert _ranges(ocr, "KINOD NEWS") == [(0, 300)]
    assert _ranges(ocr, "Maria Lopez") == [(100, 300)]


def test_text_that_changes_in_its_place_is_read_where_it_changed(ocr: dict[str, Any]) -> None:
    assert _ranges(ocr, "TAKE ONE READY") == [(0, 200)]
    assert _ranges(ocr, "TAKE TWO READY") == [(200, 300)]


def test_layouts_match_on_jitter_not_on_a_longer_line_in_the_same_place() -> None:
    logo = [(1160.0, 39.0, 1213.0, 90.0)]
    assert same_layout(logo, [(1149.0, 31.0, 1224.0, 101.0)])  # the detector's jitter on the same bug
    assert not same_layout([(520.0, 300.0, 760.0, 373.0)], [(270.0, 300.0, 1010.0, 373.0)])  # EXIT -> MAIN STREET
    assert not same_layout(logo, [])  # the text left
    assert same_layout([], [])
