"""Sony XAVC S (M4ROOT) and XDCAM (XDROOT) cards: clips, NonRealTimeMeta timecode priority, companions."""

from __future__ import annotations

from pathlib import Path

import pytest
from cardkit import BILLION_LAUGHS, EXTERNAL_ENTITY, copy, sony_xml, video

from kinod.media.cards import detect_card
from kinod.media.cards.sony import decode_ltc_value, parse_nrt
from kinod.media.probe import probe
from kinod.media.timecode import TimecodeSource

MPEG2_422 = ("-c:v", "mpeg2video", "-pix_fmt", "yuv422p", "-b:v", "20M", "-g", "12")


@pytest.fixture(scope="module")
def xavcs_card(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cards") / "A001_SONY"
    clip = root / "PRIVATE" / "M4ROOT" / "CLIP"
    # The container says 05:00:00;00; the camera XML says 01:00:00;00 and must win.
    video(clip / "C0001.MP4", rate="30000/1001", timecode="05:00:00;00", extra=("-write_tmcd", "on"))
    sony_xml(clip / "C0001M01.XML", ltc="40000001", title="Wide master", marks=(("_ShotMark1", 7),))
    video(clip / "C0002.MP4", rate="25")
    sony_xml(clip / "C0002M01.XML", ltc="12345601", fps="25p", tc_fps=25, serial="7654321")
    copy(clip / "C0002.MP4", clip / "C0003.MP4")
    (clip / "C0003M01.XML").write_text(BILLION_LAUGHS)
    copy(clip / "C0002.MP4", clip / "C0004.MP4")
    (clip / "C0004M01.XML").write_text(EXTERNAL_ENTITY)
    copy(clip / "C0002.MP4", root / "PRIVATE" / "M4ROOT" / "SUB" / "C0001S03.MP4")
    (root / "PRIVATE" / "M4ROOT" / "THMBNL").mkdir(parents=True)
    (root / "PRIVATE" / "M4ROOT" / "THMBNL" / "C0001T01.JPG").write_bytes(b"\xff\xd8\xff\xd9")
    (root / "PRIVATE" / "M4ROOT" / "MEDIAPRO.XML").write_text("<MediaProfile/>")
    (root / "PRIVATE" / "M4ROOT" / "STATUS.BIN").write_bytes(b"\0" * 16)
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return root


def test_xavcs_clips_and_camera_xml_timecode(xavcs_card: Path) -> None:
    card = detect_card(xavcs_card)
    assert card.families == ["sony"]
    assert [c.name for c in card.clips] == ["C0001", "C0002", "C0003", "C0004"]
    c1, c2 = card.clip("C0001"), card.clip("C0002")
    assert (c1.start_tc, c1.drop_frame, c1.tc_source, c1.rate) == ("01:00:00;00", True, "camera-xml", "30000/1001")
    assert (c2.start_tc, c2.drop_frame, c2.rate) == ("01:56:34:12", False, "25/1")
    assert (c1.camera.make, c1.camera.model, c1.camera.serial) == ("Sony", "ILME-FX6V", "1234567")
    assert c2.camera.serial == "7654321"
    assert c1.user_clip_name == "Wide master"
    assert [(m.name, m.frame) for m in c1.marks] == [("ShotMark1", 7)]
    assert c1.metadata["lens"] == "FE 24-105mm F4 G OSS"
    assert c1.metadata["acquisition"]["CaptureGammaEquation"] == "s-log3-cine"
    assert c1.sidecars == ["PRIVATE/M4ROOT/CLIP/C0001M01.XML"]
    skipped = {s.rel: (s.reason, s.clip) for s in card.skipped}
    assert skipped["PRIVATE/M4ROOT/SUB/C0001S03.MP4"] == ("camera proxy (Sony sub clip)", "C0001")
    assert skipped["PRIVATE/M4ROOT/THMBNL/C0001T01.JPG"][1] == "C0001"
    assert "PRIVATE/M4ROOT/MEDIAPRO.XML" in skipped and ".DS_Store" in skipped
    assert card.unknown == []


def test_hostile_sidecars_are_refused_and_named(xavcs_card: Path) -> None:
    card = detect_card(xavcs_card)
    for name, xml in (("C0003", "C0003M01.XML"), ("C0004", "C0004M01.XML")):
        clip = card.clip(name)
        assert clip.start_tc is None and clip.tc_source is None
        assert any(xml in p and "hostile" in p for p in clip.problems), clip.problems
        assert clip.camera.model is None
    # The probe of that clip still works and falls back to the container.
    pr = probe(xavcs_card / "PRIVATE/M4ROOT/CLIP/C0003.MP4")
    assert pr.tc_source == TimecodeSource.DEFAULT.value
    assert any("C0003M01.XML" in w for w in pr.warnings)


def test_probe_prefers_camera_xml_and_records_every_candidate(xavcs_card: Path) -> None:
    media = xavcs_card / "PRIVATE/M4ROOT/CLIP/C0001.MP4"
    pr = probe(media)
    assert (pr.start_tc, pr.tc_source, pr.drop_frame) == ("01:00:00;00", "camera-xml", True)
    assert pr.camera_make == "Sony" and pr.camera_model == "ILME-FX6V" and pr.camera_serial == "1234567"
    assert pr.clip_name == "Wide master"
    assert pr.sidecar is not None and pr.sidecar.endswith("C0001M01.XML")
    sources = {(c["source"], c["label"]) for c in pr.timecode_candidates}
    assert ("camera-xml", "01:00:00;00") in sources and ("container", "05:00:00;00") in sources
    assert any("differs from 05:00:00;00" in w for w in pr.warnings)
    plain = probe(media, camera_sidecar=False)
    assert (plain.start_tc, plain.tc_source) == ("05:00:00;00", "container")
    # Hints from the card parser count as camera XML too.
    hinted = probe(media, camera_sidecar=False, timecode_hints=detect_card(xavcs_card).clip("C0001").timecode_hints())
    assert (hinted.start_tc, hinted.tc_source) == ("01:00:00;00", "camera-xml")


def test_xdcam_mxf_with_reel_and_timecode(tmp_path: Path) -> None:
    root = tmp_path / "XD01"
    clip_dir = root / "XDROOT" / "Clip"
    video(
        clip_dir / "C0001.MXF",
        rate="25",
        size="1280x720",
        codec=MPEG2_422,
        audio_tracks=(1, 1),
        audio_codec=("-c:a", "pcm_s24le"),
        timecode="10:00:00:00",
        reel="A001",
        seconds=0.4,
    )
    copy(clip_dir / "C0001.MXF", clip_dir / "C0002.MXF")
    sony_xml(clip_dir / "C0002M01.XML", ltc="00000014", fps="25p", tc_fps=25)
    (root / "XDROOT" / "MEDIAPRO.XML").parent.mkdir(parents=True, exist_ok=True)
    (root / "XDROOT" / "MEDIAPRO.XML").write_text("<MediaProfile/>")
    card = detect_card(root)
    c1, c2 = card.clip("C0001"), card.clip("C0002")
    assert c1.start_tc is None and any("no C0001M01.XML" in p for p in c1.problems)
    assert (c2.start_tc, c2.tc_source) == ("14:00:00:00", "camera-xml")
    p1 = probe(c1.primary)  # type: ignore[arg-type]
    assert (p1.start_tc, p1.tc_source, p1.reel) == ("10:00:00:00", "container", "A001")
    assert p1.codec == "MPEG Video" and p1.audio_channels == 2 and len(p1.audio) == 2
    assert probe(c2.primary).start_tc == "14:00:00:00"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("40000001", (1, 0, 0, 0, True)),
        ("12345601", (1, 56, 34, 12, False)),
        ("67460811", (11, 8, 46, 27, True)),
        ("17305719", (19, 57, 30, 17, False)),
        ("01:02:03;04", (1, 2, 3, 4, True)),
    ],
)
def test_ltc_values(value: str, expected: tuple[int, int, int, int, bool]) -> None:
    assert decode_ltc_value(value) == expected


@pytest.mark.parametrize("value", ["4000000", "zz000001", "4A000001"])
def test_bad_ltc_values_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="LTC value"):
        decode_ltc_value(value)


def test_half_step_table_at_59_94(tmp_path: Path) -> None:
    # tcFps=30 with halfStep: the table counts 29.97 DF labels; at 59.94 each label is two frames.
    xml = sony_xml(tmp_path / "C0001M01.XML", ltc="45000001", fps="59.94p", tc_fps=30, half_step=True)
    meta = parse_nrt(xml)
    assert (meta.start_tc, meta.drop_frame) == ("01:00:00;10", True)


def test_impossible_timecode_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    xml = sony_xml(tmp_path / "C0001M01.XML", ltc="40000101", fps="29.97p")  # 01:01:00;00 is a dropped label
    meta = parse_nrt(xml)
    assert meta.start_tc is None
    assert any("impossible" in p for p in meta.problems)


def test_the_clip_carries_what_the_camera_said_and_the_probe_does_not_parse_it_again(
    xavcs_card: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The card parser reads the camera XML once; the clip value hands it to the probe (and a task)."""
    from kinod.media.cards import sidecars
    from kinod.media.cards.model import ClipFiles, analysable_clips

    card = detect_card(xavcs_card)
    present = {f.path for c in card.clips for f in c.files}
    clips, _left = analysable_clips(card, present)
    first = next(c for c in clips if c.first.name == "C0001.MP4")
    assert first.camera is not None and not first.plain
    assert (first.camera.start_tc, first.camera.tc_source, first.camera.make) == ("01:00:00;00", "camera-xml", "Sony")
    assert first.camera.sidecar == str(xavcs_card / "PRIVATE/M4ROOT/CLIP/C0001M01.XML")
    assert ClipFiles.from_json(first.to_json()) == first  # what a task carries to a worker

    def no_second_parse(media: Path) -> None:
        raise AssertionError(f"{media}: camera sidecar parsed again")

    monkeypatch.setattr(sidecars, "sidecar_clip_for", no_second_parse)
    pr = probe(first.first, camera=first.camera)
    assert (pr.start_tc, pr.tc_source, pr.drop_frame) == ("01:00:00;00", "camera-xml", True)
    assert (pr.camera_make, pr.camera_model, pr.clip_name) == ("Sony", "ILME-FX6V", "Wide master")
    assert pr.sidecar == first.camera.sidecar
