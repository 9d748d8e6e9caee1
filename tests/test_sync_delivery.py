"""What ``kinod sync`` delivers opens as the NLEs expect: FCPXML sync-clip/mc-clip, FCP7 XML, OTIO.

Two cameras with timecode (A at 01:00:00:00, B two seconds later) and one recorder that
rolled 2.35 s before A: every offset is known exactly, so the files are checked in
rational time, not approximately (FCP7 XML counts frames, so there to the frame).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from sync_media import FF, camera_clip, speech, write_bwf
from test_export_nle_samples import fcpxml_violations

from kinod.export.writers.fcpxml import parse_time
from kinod.sync.session import SyncRun, sync_folders

SR = 48000
EARLY = Fraction(235, 100)
REC_START = Fraction(3600) - EARLY


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyncRun, Path]:
    root = tmp_path_factory.mktemp("day")
    take = speech(seed=1, seconds=30.0, rate=SR)
    for d in ("CamA", "CamB", "Sound"):
        (root / d).mkdir()
    boom_lav = [take, take * 0.5]
    write_bwf(root / "Sound" / "T001.WAV", boom_lav, SR, time_reference=int(REC_START * SR), tracks=["Boom", "Lav"])
    camera_clip(root / "CamA" / "A001.mov", take, SR, start_sample=int(EARLY * SR), seconds=12, tc="01:00:00:00")
    b_start = int((EARLY + 2) * SR)
    camera_clip(root / "CamB" / "B001.mov", take, SR, start_sample=b_start, seconds=12, tc="01:00:02:00", noise_seed=5)
    out = root / "out"
    return sync_folders([root], out, FF), out


def test_fcpxml_has_sync_clips_and_an_mc_clip_exact_in_rational_time(delivered: tuple[SyncRun, Path]) -> None:
    _run, out = delivered
    path = out / "sync.fcpxml"
    assert fcpxml_violations(path, whole_frames=False) == []
    root = ET.parse(path).getroot()
    assets = {a.get("id"): a for a in root.iter("asset")}
    syncs = root.findall("./event/sync-clip")
    assert [s.get("name") for s in syncs] == ["A001 synced", "B001 synced"]
    for sc in syncs:
        rec = sc.find("./asset-clip[@lane='-1']")
        asset = assets[rec.get("ref")]
        # Where the recorder's first sample lands on the sync-clip's (timecode) timeline: exact.
        first_sample_at = parse_time(rec.get("offset")) - (
            parse_time(rec.get("start")) - parse_time(asset.get("start"))
        )
        assert first_sample_at == REC_START
        assert (parse_time(rec.get("offset")) * 25).denominator == 1  # the clip sits on a frame
        assert (parse_time(rec.get("start")) * SR).denominator == 1  # and starts on a sample
        roles = [c.get("role") for c in rec.iter("audio-channel-source")]
        assert roles == ["dialogue.Boom", "dialogue.Lav"]
        scratch = sc.find("./sync-source/audio-role-source")
        assert scratch.get("role") == sc.find("./spine/asset-clip").get("audioRole") and scratch.get("active") == "0"
    (mc,) = root.findall("./event/mc-clip")
    angles = {a.get("name"): a for a in root.iter("mc-angle")}
    assert set(angles) == {"A001", "B001", "T001"} and mc.get("ref") == root.find(".//media").get("id")
    assert parse_time(angles["B001"].find("asset-clip").get("offset")) - parse_time(
        angles["A001"].find("asset-clip").get("offset")
    ) == Fraction(2)


def test_fcp7_round_trips_through_the_otio_adapter_with_the_audio_at_the_offset(
    delivered: tuple[SyncRun, Path],
) -> None:
    _run, out = delivered
    collection = otio.adapters.read_from_file(str(out / "sync.fcp7.xml"), "fcp_xml")
    timelines = {t.name: t for t in collection.find_children(descended_from_type=otio.schema.Timeline)}
    merged = timelines["A001 synced"]
    audio = [c for t in merged.audio_tracks() for c in t.find_clips() if c.name.startswith("T001")]
    assert audio, [t.name for t in merged.audio_tracks()]
    clip = audio[0]
    into_take = clip.source_range.start_time.to_seconds() - clip.media_reference.available_range.start_time.to_seconds()
    assert into_take == pytest.approx(float(EARLY), abs=1 / 25)
    multicam = next(t for n, t in timelines.items() if n.startswith("Multicam"))
    assert len(multicam.video_tracks()) == 2


def test_otio_timelines_read_back_exact(delivered: tuple[SyncRun, Path]) -> None:
    _run, out = delivered
    tl = otio.adapters.read_from_file(str(out / "A001.sync.otio"))
    names = [t.name for t in tl.audio_tracks()]
    assert names == ["scratch", "Boom", "Lav"] and tl.audio_tracks()[0].enabled is False
    boom = tl.audio_tracks()[1].find_clips()[0]
    into = boom.source_range.start_time - boom.media_reference.available_range.start_time
    assert into.rate == SR and into.value == int(EARLY * SR)
    (mc_path,) = out.glob("*.multicam.otio")
    mc = otio.adapters.read_from_file(str(mc_path))
    gaps = [t[0].duration().to_seconds() for t in mc.video_tracks() if isinstance(t[0], otio.schema.Gap)]
    assert gaps == [2.0]


def test_sync_table_and_html_name_every_clip(delivered: tuple[SyncRun, Path]) -> None:
    import json

    run, out = delivered
    table = json.loads((out / "sync.json").read_text())
    assert {c["name"] for c in table["clips"]} == {"A001", "B001"}
    assert all(c["sounds"][0]["method"] == "timecode" for c in table["clips"])
    assert table["multicam"][0]["angles"][1]["at_s"] == 2.0
    assert "T001" in (out / "sync.html").read_text()
    assert run.groups[0].angles[0].method == "timecode"
