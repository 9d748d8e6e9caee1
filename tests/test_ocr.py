"""OCR on text drawn by ffmpeg's drawtext, through the real pipeline (one pass, cache, shots, ocr)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from media import ffmpeg
from ocr_harness import ocr_sidecar

from kinod.analyzers.base import ModelMissingError
from kinod.analyzers.ocr import OcrAnalyzer, engine
from kinod.analyzers.ocr.engine import TextBox
from kinod.analyzers.ocr.slate import read_slate

SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
SERIF = Path("/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf")
SERIF_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf")
MONO = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf")
pytestmark = pytest.mark.skipif(
    not (SANS.is_file() and SERIF.is_file()), reason="needs fonts-dejavu-core and fonts-liberation (apt)"
)


def _text(font: Path, text: str, size: int, x: str, y: str, colour: str = "black") -> str:
    return f"drawtext=fontfile={font}:text='{text}':fontsize={size}:fontcolor={colour}:x={x}:y={y}"


def _segments() -> list[str]:
    """Four one-second pictures (1280x720): sizes and fonts, rotated, lower third on a busy picture, a slate."""
    sizes = ",".join([
        _text(SANS, "HARBOUR BRIDGE", 72, "80", "120"),
        _text(SERIF, "Night Market", 44, "80", "330"),
        _text(SANS, "Platform 9", 28, "80", "520"),
    ])  # fmt: skip
    rotated = _text(SERIF, "Old Town Square", 64, "300", "320") + ",rotate=10*PI/180:fillcolor=white"
    lower = (
        "drawbox=x=0:y=560:w=1280:h=120:color=black@0.7:t=fill,"
        + _text(SANS, "Maria Lopez", 48, "60", "585", "white")
    )
    slate = ",".join([
        _text(SANS, "PRODUCTION", 30, "80", "60", "white"),
        _text(SANS, "NIGHT OWL", 56, "80", "110", "white"),
        _text(SANS, "ROLL", 30, "80", "260", "white"),
        _text(SANS, "SCENE", 30, "480", "260", "white"),
        _text(SANS, "TAKE", 30, "880", "260", "white"),
        _text(SANS, "A012", 96, "80", "320", "white"),
        _text(SANS, "42", 96, "480", "320", "white"),
        _text(SANS, "7", 96, "880", "320", "white"),
        _text(SANS, "DATE 2026-11-30", 30, "80", "560", "white"),
        _text(SANS, "CAMERA B", 30, "880", "560", "white"),
    ])  # fmt: skip
    # A shop sign whose words stand wide apart and a slate line whose label and value are two draws.
    sign = ",".join([
        _text(SERIF_BOLD, "BLUE", 80, "100", "200"),
        _text(SERIF_BOLD, "HERON", 80, "400", "200"),
        _text(SERIF_BOLD, "BAKERY", 80, "760", "200"),
        _text(SANS, "ROLL", 48, "100", "450", "white") + ":box=1:boxcolor=0x202020:boxborderw=20",
        _text(SANS, "A012", 48, "285", "450", "white") + ":box=1:boxcolor=0x202020:boxborderw=20",
    ])  # fmt: skip
    # A burned-in timecode window that starts at 00:00:05:00 on frame 125, as the clip's TC (none: 0) says.
    window = (
        f"drawtext=fontfile={MONO}:timecode='00\\:00\\:05\\:00':rate=25:fontsize=44:fontcolor=white:"
        "box=1:boxcolor=black:boxborderw=8:x=460:y=620"
    )
    return [
        f"color=c=white,{sizes}",
        f"color=c=white,{rotated}",
        f"testsrc2,{lower}",
        f"color=c=0x202020,{slate}",
        f"color=c=0xf0e8d8,{sign}",
        f"color=c=0x3060a0,{window}",
    ]


def _render(path: Path) -> Path:
    args: list[str] = []
    chains = []
    for i, src in enumerate(_segments()):
        base, _, rest = src.partition(",")
        sep = ":" if "=" in base else "="
        args += ["-f", "lavfi", "-i", f"{base}{sep}s=1280x720:r=25"]
        chains.append(f"[{i}:v]{rest},format=yuv420p,trim=end_frame=25,setpts=PTS-STARTPTS[v{i}]")
    inputs = "".join(f"[v{i}]" for i in range(len(chains)))
    graph = ";".join(chains) + f";{inputs}concat=n={len(chains)}:v=1:a=0[v]"
    ffmpeg(*args, "-filter_complex", graph, "-map", "[v]", "-frames:v", str(25 * len(chains)), "-c:v", "libx264",
           "-preset", "ultrafast", "-crf", "14", str(path))  # fmt: skip
    return path


@pytest.fixture(scope="module")
def ocr(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data = ocr_sidecar(tmp_path_factory.mktemp("ocr"), "text.mp4", _render)
    return data["analyses"]["ocr"] | {"markers": data.get("markers", [])}


def _read(ocr: dict[str, Any], start: int) -> dict[str, dict[str, Any]]:
    return {it["text"]: it for it in ocr["items"] if it["start_frame"] == start}


def test_drawtext_in_two_fonts_and_three_sizes_is_read_exactly(ocr: dict[str, Any]) -> None:
    first = _read(ocr, 0)
    assert {"HARBOUR BRIDGE", "Night Market", "Platform 9"} <= set(first), first.keys()
    it = first["Night Market"]
    assert it["end_frame"] == 25 and it["frame_width"] == 1280 and it["frame_height"] == 720
    x, y, w, h = it["box"]
    assert 60 <= x <= 100 and 310 <= y <= 350 and 200 <= w <= 320 and 30 <= h <= 70
    assert it["confidence"] > 0.8 and it["start_s"] == 0.0 and it["end_s"] == 1.0


def test_rotated_text_and_lower_third_on_busy_picture(ocr: dict[str, Any]) -> None:
    assert "Old Town Square" in _read(ocr, 25)
    assert "Maria Lopez" in _read(ocr, 50)


def test_slate_scene_and_take(ocr: dict[str, Any]) -> None:
    slate = ocr["summary"]["slate"]
    assert slate["scene"] == "42" and slate["take"] == "7" and slate["roll"] == "A012"
    assert slate["production"] == "NIGHT OWL" and slate["date"] == "2026-11-30" and slate["camera"] == "B"
    assert any(m["name"].startswith("Slate: roll A012 scene 42 take 7") for m in ocr["markers"])


def test_words_on_one_line_are_read_as_one_line_with_their_spaces(ocr: dict[str, Any]) -> None:
    sign = _read(ocr, 100)
    assert "BLUE HERON BAKERY" in sign and "ROLL A012" in sign, sign.keys()
    assert not {"BLUE", "HERON", "BAKERY", "HERONBAKERY", "ROLL", "A012", "ROLLA012"} & set(sign)


def test_slate_field_names_stay_apart_from_their_values() -> None:
    """A small label beside a big value is not joined into one line, so the slate reader pairs them."""
    from kinod.analyzers.ocr.lines import join_lines

    label, value = TextBox("ROLL", 0.99, (100, 326, 83, 39)), TextBox("A012", 0.99, (195, 310, 185, 61))
    assert [t.text for t in join_lines([value, label])] != ["ROLL A012"]
    assert [
        t.text for t in join_lines([TextBox("HERON", 0.9, (400, 0, 300, 60)), TextBox("BLUE", 0.9, (100, 2, 240, 58))])
    ] == ["BLUE HERON"]


def test_burned_in_timecode_is_a_tc_kept_out_of_the_text_index(ocr: dict[str, Any]) -> None:
    from kinod.analyzers.base import ReadContext
    from kinod.analyzers.ocr import reading

    windows = [it for it in ocr["items"] if it.get("kind") == "burned_in_tc"]
    assert windows, [it["text"] for it in ocr["items"]]
    for it in windows:
        assert it["tc"] == it["clip_tc"] and it["offset_frames"] == 0, it
    assert ocr["summary"]["burned_in_tc"]["agrees"] is True
    assert not any(m["category"] == "problem" for m in ocr["markers"])
    entries = reading.search_entries(ocr, ReadContext(duration_s=6.0))
    assert entries and not any("00:00:05" in e.text or "00:00:06" in e.text for e in entries), [
        e.text for e in entries
    ]
    assert not any(e.text in {it["text"] for it in windows} for e in entries)


def test_burned_in_timecode_that_disagrees_is_a_problem() -> None:
    from fractions import Fraction

    from kinod.analyzers.base import ClipInfo
    from kinod.analyzers.ocr.lines import burned_in_tc
    from kinod.analyzers.ocr.timecode import tc_markers, timecode_item

    assert burned_in_tc("000:00:00:00") == "00:00:00:00" and burned_in_tc("TC 10:00:01;12") == "10:00:01;12"
    assert burned_in_tc("Platform 9") is None and burned_in_tc("12:75:00:00") is None
    clip = ClipInfo(path=Path("x.mov"), probe=None, rate=Fraction(25), frames=100, artefact_dir=Path("."),  # type: ignore[arg-type]
                    start_tc_frames=25 * 3600)  # fmt: skip
    box = TextBox("01:00:00:10", 0.99, (0, 0, 200, 40))
    assert timecode_item(box, "01:00:00:10", 10, clip)["offset_frames"] == 0
    wrong = timecode_item(box, "00:59:00:10", 10, clip)
    assert wrong["offset_frames"] == -60 * 25
    [marker] = tc_markers([wrong])
    assert marker.category == "problem" and "01:00:00:10" in marker.comment


def test_slate_needs_two_of_roll_scene_take() -> None:
    assert read_slate([TextBox("TAKE AWAY", 0.9, (0, 0, 100, 20))]) == {}
    lines = [TextBox("SC 12A", 0.9, (0, 0, 80, 20)), TextBox("TK 3", 0.9, (200, 0, 60, 20))]
    assert read_slate(lines) == {"scene": "12A", "take": "3"}


def test_tampered_ocr_model_is_refused(tmp_path: Path) -> None:
    src = engine.package_dir()
    for rel in engine.MODELS:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).symlink_to(src / rel)
    rec = "models/ch_PP-OCRv4_rec_infer.onnx"
    (tmp_path / rec).unlink()
    (tmp_path / rec).write_bytes(b"not a model")
    with pytest.raises(ModelMissingError, match=r"analyzers\.ocr\.model.*sha256 mismatch"):
        engine.OcrEngine(root=tmp_path)


def test_corrupt_cached_picture_skips_that_shot_only(tmp_path: Path) -> None:
    from fractions import Fraction

    import cv2
    import numpy as np

    from kinod.analyzers.base import ClipInfo, Result, RuntimeContext
    from kinod.media.cache import AnalysisCacheWriter, FrameCacheSpec

    picture = np.full((180, 640, 3), 255, np.uint8)
    cv2.putText(picture, "GATE 12", (40, 110), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 4)
    writer = AnalysisCacheWriter(tmp_path / "cache", 16000, 0, FrameCacheSpec(640, 1.0), Fraction(25))
    writer.write_frame(0, picture)
    writer.write_frame(25, picture)
    cache = writer.commit()
    _index, offset, length = cache.frame_index()[0]
    blob = bytearray((cache.dir / "frames.jpg").read_bytes())
    blob[offset : offset + length] = b"\0" * length
    (cache.dir / "frames.jpg").write_bytes(bytes(blob))
    a = OcrAnalyzer(runtime=RuntimeContext(tmp_path))
    a.use_results({"shots": Result(items=[{"start_frame": 0, "end_frame": 25}, {"start_frame": 25, "end_frame": 50}])})
    clip = ClipInfo(path=tmp_path / "x.mp4", probe=None, rate=Fraction(25), frames=50, artefact_dir=tmp_path)  # type: ignore[arg-type]
    result = a.run(clip, cache)
    assert [(it["text"], it["start_frame"]) for it in result.items] == [("GATE 12", 25)]
    assert any("shot 1" in w and "corrupt" in w for w in result.warnings)
    empty = AnalysisCacheWriter(tmp_path / "audio-only", 16000, 1).commit()
    assert a.run(clip, empty).summary["status"] == "no_picture"


def test_detector_at_a_smaller_side_sees_fewer_pixels_and_reads_large_text_alike() -> None:
    import cv2
    import numpy as np

    pic = np.full((720, 1280, 3), 40, np.uint8)
    cv2.putText(pic, "Maria Lopez", (80, 600), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (255, 255, 255), 3)
    small = engine.OcrEngine(detector_side=960)
    assert small._ocr.text_det.get_preprocess(1280)(pic).shape[2:] == (544, 960)  # not 736x1312
    assert [t.text for t in small.read(pic)] == [t.text for t in engine.OcrEngine().read(pic)] == ["Maria Lopez"]
