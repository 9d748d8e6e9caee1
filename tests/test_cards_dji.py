"""DJI: clips with per-frame SRT telemetry and .LRF proxies."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from cardkit import copy, video

from kinod.media.cards import detect_card
from kinod.media.cards.dji import TelemetryError, parse_srt, parse_values

BRACKETED = """1
00:00:00,000 --> 00:00:00,033
<font size="28">FrameCnt: 1, DiffTime: 33ms
2026-01-01 12:00:00.123
[iso: 100] [shutter: 1/500.0] [fnum: 2.8] [ev: 0] [color_md: default] [focal_len: 24.00] \
[latitude: 47.376887] [longitude: 8.541694] [rel_alt: 10.000 abs_alt: 500.123] [ct: 5500] </font>

2
00:00:00,033 --> 00:00:00,066
<font size="28">FrameCnt: 2, DiffTime: 33ms
2026-01-01 12:00:00.156
[iso: 200] [shutter: 1/1000.0] [fnum: 2.8] [ev: 0.3] [latitude: 47.376890] [longitude: 8.541700] \
[rel_alt: 10.100 abs_alt: 500.223] </font>

3
00:00:00,066 --> 00:00:00,100
<font size="28">FrameCnt: 3, DiffTime: 34ms
2026-01-01 12:00:00.190
[iso: 200] [shutter: 1/1000.0] [fnum: 2.8] [latitude: 47.376895] [longitude: 8.541710] \
[rel_alt: 10.200 abs_alt: 500.323] </font>
"""

COMMA = """1
00:00:00,000 --> 00:00:01,000
F/2.8, SS 1000.0, ISO 100, EV 0, GPS (8.5417, 47.3769, 19), D 12.34m, H 5.60m, HS 1.20m/s, VS -0.50m/s

2
00:00:01,000 --> 00:00:02,000
F/2.8, SS 500.0, ISO 200, EV 0, GPS (8.5418, 47.3770, 19), D 13.00m, H 6.00m, HS 1.00m/s, VS 0.00m/s
"""


@pytest.fixture(scope="module")
def dji_card(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dji") / "DJI_CARD"
    media = root / "DCIM" / "100MEDIA"
    video(media / "DJI_0001.MP4", rate="30000/1001", seconds=0.2)
    (media / "DJI_0001.SRT").write_text(BRACKETED.replace("\n", "\r\n"), encoding="utf-8")
    copy(media / "DJI_0001.MP4", media / "DJI_0001.LRF")
    copy(media / "DJI_0001.MP4", media / "DJI_0002.MP4")
    (media / "DJI_0002.SRT").write_bytes(b"\x00\x01garbage without records\xff")
    (media / "DJI_0003.JPG").write_bytes(b"\xff\xd8\xff\xd9")
    return root


def test_clips_telemetry_and_proxies(dji_card: Path) -> None:
    card = detect_card(dji_card)
    assert card.families == ["dji"]
    assert [c.name for c in card.clips] == ["DJI_0001", "DJI_0002"]
    clip = card.clip("DJI_0001")
    assert clip.camera.make == "DJI"
    assert clip.camera_proxies == ["DCIM/100MEDIA/DJI_0001.LRF"]
    assert clip.sidecars == ["DCIM/100MEDIA/DJI_0001.SRT"]
    assert len(clip.telemetry) == 3
    first = clip.telemetry[0].values
    assert first["iso"] == 100.0 and first["shutter"] == "1/500.0" and first["fnum"] == 2.8
    assert first["latitude"] == pytest.approx(47.376887) and first["longitude"] == pytest.approx(8.541694)
    assert first["rel_alt"] == 10.0 and first["abs_alt"] == pytest.approx(500.123)
    assert first["frame_count"] == 1.0 and first["datetime"] == "2026-01-01 12:00:00.123"
    by_frame = clip.telemetry_by_frame(Fraction(30000, 1001))
    assert sorted(by_frame) == [0, 1, 2]
    assert by_frame[1]["iso"] == 200.0 and by_frame[2]["rel_alt"] == pytest.approx(10.2)
    skipped = {s.rel: s.reason for s in card.skipped}
    assert skipped["DCIM/100MEDIA/DJI_0001.LRF"] == "camera low-res proxy (.LRF)"
    assert skipped["DCIM/100MEDIA/DJI_0003.JPG"] == "still photo"
    bad = card.clip("DJI_0002")
    assert bad.telemetry == [] and any("DJI_0002.SRT" in p for p in bad.problems)


def test_comma_dialect(tmp_path: Path) -> None:
    srt = tmp_path / "DJI_0009.SRT"
    srt.write_text(COMMA)
    samples = parse_srt(srt)
    assert [(s.index, s.start_s, s.end_s) for s in samples] == [(1, 0.0, 1.0), (2, 1.0, 2.0)]
    v = samples[0].values
    assert v["fnum"] == 2.8 and v["shutter"] == 1000.0 and v["iso"] == 100.0
    assert v["latitude"] == pytest.approx(47.3769) and v["longitude"] == pytest.approx(8.5417)
    assert v["distance"] == pytest.approx(12.34) and v["height"] == pytest.approx(5.6)
    assert v["h_speed"] == pytest.approx(1.2) and v["v_speed"] == pytest.approx(-0.5)


def test_values_parser_keeps_unknown_keys() -> None:
    assert parse_values("[dzoom_ratio: 1.5] [new_key : abc]") == {"dzoom_ratio": 1.5, "new_key": "abc"}


def test_unreadable_srt(tmp_path: Path) -> None:
    with pytest.raises(TelemetryError, match=r"missing\.SRT"):
        parse_srt(tmp_path / "missing.SRT")
