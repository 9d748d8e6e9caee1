"""Canon XF, camera raw (RED, ARRI, BRAW), generic folders, bad input, and the card report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cardkit import copy, tree_digest, video

from kinod.export.card_report import build_card_report, write_card_report
from kinod.media.cards import CardError, detect_card
from kinod.media.integrity import check_file
from kinod.media.mhl import verify_card
from kinod.media.probe import Probe, ProbeError, probe
from kinod.run.card_outputs import render_html

PRORES = ("-c:v", "prores", "-profile:v", "0")
CANON_XML = """<?xml version="1.0" encoding="UTF-8"?>
<ClipInfo xmlns="urn:example:canon"><Device><Manufacturer>Canon</Manufacturer><ModelName>XF305</ModelName>
<SerialNo>CN123</SerialNo></Device><VideoFormat><FrameRate>25p</FrameRate></VideoFormat>
<StartTimecode>13:30:00:00</StartTimecode><UserClipName>Drone plate</UserClipName></ClipInfo>
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("m") / "small.mov"
    return video(path, seconds=0.4, codec=PRORES, audio_codec=("-c:a", "pcm_s16le"))


def test_canon_xf_spanned_folder_and_raw_light(tmp_path: Path, small: Path) -> None:
    root = tmp_path / "CANON"
    folder = root / "CONTENTS" / "CLIPS001" / "AA0001"
    copy(small, folder / "AA000101.MXF")
    copy(small, folder / "AA000102.MXF")
    (folder / "AA0001.XML").write_text(CANON_XML)
    (folder / "AA0001.CIF").write_bytes(b"\0" * 8)
    copy(small, root / "DCIM" / "100CANON" / "A001C002_260101AB.CRM")
    copy(small, root / "DCIM" / "100CANON" / "MVI_0003.MP4")
    (root / "PRIVATE" / "CANON").mkdir(parents=True)
    (root / "PRIVATE" / "CANON" / "CLIPINF.DAT").write_bytes(b"\0")
    card = detect_card(root)
    assert card.families == ["canon"]
    xf = card.clip("AA0001")
    assert [f.path.name for f in xf.files] == ["AA000101.MXF", "AA000102.MXF"] and xf.spanned
    assert (xf.start_tc, xf.tc_source, xf.rate) == ("13:30:00:00", "camera-xml", "25/1")
    assert (xf.camera.make, xf.camera.model, xf.camera.serial) == ("Canon", "XF305", "CN123")
    assert xf.user_clip_name == "Drone plate"
    raw = card.clip("A001C002_260101AB")
    assert not raw.analysable and "Cinema RAW Light" in (raw.not_analysed_reason or "")
    assert card.clip("MVI_0003").analysable
    reasons = {s.rel: s.reason for s in card.skipped}
    assert "CONTENTS/CLIPS001/AA0001/AA0001.CIF" in reasons and "PRIVATE/CANON/CLIPINF.DAT" in reasons
    assert card.unknown == []


def test_raw_clips_are_recorded_not_analysed(tmp_path: Path) -> None:
    root = tmp_path / "RAW"
    rdc = root / "A001_C001_0101AB.RDC"
    rdc.mkdir(parents=True)
    for i in (2, 1, 3):
        (rdc / f"A001_C001_0101AB_00{i}.R3D").write_bytes(b"RED2" + bytes(100 * i))
    (rdc / "A001_C001_0101AB.RMD").write_text("<rmd/>")
    ari = root / "A002C003_260101_R1AB"
    ari.mkdir()
    for i in range(3):
        (ari / f"A002C003_260101_R1AB.{i:07d}.ari").write_bytes(b"ARRI" + bytes(16))
    (root / "A003_01011200_C001.braw").write_bytes(b"braw" + bytes(16))
    card = detect_card(root)
    assert card.families == ["raw"]
    red = card.clip("A001_C001_0101AB")
    assert [f.path.name for f in red.files] == [f"A001_C001_0101AB_00{i}.R3D" for i in (1, 2, 3)]
    assert not red.analysable and "RED R3D" in (red.not_analysed_reason or "") and red.camera.make == "RED"
    arri = card.clip("A002C003_260101_R1AB")
    assert arri.duration_frames == 3 and not arri.analysable and arri.camera.make == "ARRI"
    assert not card.clip("A003_01011200_C001").analysable
    assert {s.rel for s in card.skipped} == {"A001_C001_0101AB.RDC/A001_C001_0101AB.RMD"}


def test_generic_prores_with_drop_frame_timecode(tmp_path: Path) -> None:
    clip = video(
        tmp_path / "BMPCC" / "A001_01011200_C001.mov",
        rate="30000/1001",
        codec=PRORES,
        audio_codec=("-c:a", "pcm_s24le"),
        timecode="01:00:00;00",
        reel="A001",
    )
    card = detect_card(tmp_path / "BMPCC")
    assert card.families == ["generic"] and card.clips[0].primary == clip
    pr = probe(clip)
    assert (pr.start_tc, pr.drop_frame, pr.tc_source, pr.reel, pr.codec) == (
        "01:00:00;00",
        True,
        "container",
        "A001",
        "ProRes",
    )


def test_bad_input_is_named_and_the_rest_is_processed(tmp_path: Path, small: Path) -> None:
    root = tmp_path / "MIXED"
    weird = "Szene 1 – Ätsch $(rm -rf ~) `x`; 'q' \"d\" & | * ? 日本.mov"
    copy(small, root / weird)
    (root / "empty.mov").write_bytes(b"")
    mxf = video(
        root / "cut.mxf", codec=("-c:v", "mpeg2video", "-b:v", "8M"), audio_codec=("-c:a", "pcm_s16le"), seconds=1.0
    )
    data = mxf.read_bytes()
    mxf.write_bytes(data[: len(data) // 2])
    mp4 = video(root / "nomoov.mp4", seconds=0.5)
    data = mp4.read_bytes()
    mp4.write_bytes(data[: data.find(b"moov") - 4])
    (root / "-starts-with-dash.mov").write_bytes(small.read_bytes())
    before = tree_digest(root)

    card = detect_card(root)
    names = sorted(c.name for c in card.clips)
    assert names == sorted(["-starts-with-dash", "cut", "empty", "nomoov", Path(weird).stem])
    empty = card.clip("empty")
    assert not empty.analysable and any("0 bytes" in p for p in empty.problems)

    probes: dict[str, Probe | str] = {}
    checks = {}
    for c in card.clips:
        for f in c.files:
            try:
                probes[f.rel] = probe(f.path)
            except ProbeError as e:
                probes[f.rel] = str(e)
            checks[f.rel] = check_file(f.path, probes[f.rel] if isinstance(probes[f.rel], Probe) else None)
    assert isinstance(probes[weird], Probe) and probes[weird].frames == 10
    assert isinstance(probes["-starts-with-dash.mov"], Probe)
    assert checks[weird].ok and checks["-starts-with-dash.mov"].ok
    assert "empty.mov" in str(probes["empty.mov"]) and "0 bytes" in str(probes["empty.mov"])
    assert "moov" in str(probes["nomoov.mp4"]) and "nomoov.mp4" in str(probes["nomoov.mp4"])
    cut = probes["cut.mxf"]
    assert isinstance(cut, Probe) and cut.truncated
    assert not checks["cut.mxf"].ok and any("truncated" in p for p in checks["cut.mxf"].problems)
    assert not checks["nomoov.mp4"].ok and not checks["nomoov.mp4"].decodable

    verification = verify_card(root)
    report = build_card_report(card, verification=verification, probes=probes, integrity=checks)
    out = tmp_path / "out" / "MIXED"
    json_path, html_path = write_card_report(report, out, page=render_html)
    data = json.loads(json_path.read_text())
    assert data["schema"] == "kinod.card" and data["verification"]["status"] == "none"
    by_name = {c["name"]: c for c in data["clips"]}
    assert by_name["cut"]["integrity_ok"] is False
    assert by_name[Path(weird).stem]["files"][0]["hashes"]["xxh64"] == verification.hashes[weird]["xxh64"]
    assert data["summary"]["clips"] == 5 and data["summary"]["not_analysed"] == 3
    assert any("moov" in p["message"] for p in data["problems"])
    page = html_path.read_text()
    # the card page is rendered by the UI's Jinja2 templates: markupsafe's escaping
    assert "&lt;" not in weird and "$(rm -rf ~) `x`; &#39;q&#39; &#34;d&#34; &amp;" in page
    assert tree_digest(root) == before
    with pytest.raises(ValueError, match="inside the card"):
        write_card_report(report, root / "reports")


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="not a folder"):
        detect_card(tmp_path / "nope")
    f = tmp_path / "file.mov"
    f.write_bytes(b"x")
    with pytest.raises(CardError, match=r"file\.mov"):
        detect_card(f)
