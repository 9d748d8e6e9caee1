"""probe(): container timecode, camera-XML priority via hints, BWF, and clear errors for bad files."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from cardkit import bwf, ixml, video

from kinod.media.probe import NO_RATE_TIMELINE, Probe, ProbeError, probe
from kinod.media.timecode import TimecodeSource


@pytest.fixture(scope="module")
def mp4_tmcd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("p") / "clip with spaces ünïcødé.mp4"
    return video(path, rate="24000/1001", timecode="12:34:56:07", extra=("-write_tmcd", "on"), seconds=0.5)


def test_mp4_with_tmcd(mp4_tmcd: Path) -> None:
    pr = probe(mp4_tmcd)
    assert (pr.rate, pr.frames, pr.start_tc, pr.tc_source, pr.drop_frame) == (
        Fraction(24000, 1001),
        12,
        "12:34:56:07",
        "container",
        False,
    )
    assert pr.start_tc_frames == ((12 * 60 + 34) * 60 + 56) * 24 + 7
    assert pr.audio_channels == 2 and pr.sidecar is None and pr.bwf is None
    assert Probe.from_json(pr.to_json()) == pr


def test_hints_outrank_the_container_and_bad_hints_are_ignored(mp4_tmcd: Path) -> None:
    pr = probe(mp4_tmcd, timecode_hints=[(TimecodeSource.CAMERA_XML, "01:00:00:00")])
    assert (pr.start_tc, pr.tc_source) == ("01:00:00:00", "camera-xml")
    assert any("differs from 12:34:56:07" in w for w in pr.warnings)
    bad = probe(mp4_tmcd, timecode_hints=[("camera-xml", "99:99:99:99")])
    assert (bad.start_tc, bad.tc_source) == ("12:34:56:07", "container")
    assert {"source": "camera-xml", "label": "99:99:99:99"} in bad.timecode_candidates


def test_prores_drop_frame(tmp_path: Path) -> None:
    path = video(
        tmp_path / "df.mov",
        rate="60000/1001",
        codec=("-c:v", "prores"),
        audio_codec=("-c:a", "pcm_s16le"),
        timecode="23:59:59;59",
        seconds=0.2,
    )
    pr = probe(path)
    got = (pr.rate, pr.start_tc, pr.drop_frame, pr.tc_source)
    assert got == (Fraction(60000, 1001), "23:59:59;59", True, "container")


def test_bwf_without_rate_warns(tmp_path: Path) -> None:
    wav = bwf(tmp_path / "no_rate.wav", time_reference=48000 * 60)
    pr = probe(wav)
    assert pr.tc_source == "default" and pr.bwf is not None and pr.bwf["time_reference"] == 48000 * 60
    assert any("no timecode rate" in w for w in pr.warnings)
    with_rate = probe(bwf(tmp_path / "rate.wav", time_reference=48000 * 60, ixml=ixml(rate="24/1")))
    assert (with_rate.start_tc, with_rate.rate, with_rate.frames) == ("00:01:00:00", Fraction(24), 12)



def test_rate_is_a_fraction_and_a_string_only_in_json(mp4_tmcd: Path, tmp_path: Path) -> None:
    pr = probe(mp4_tmcd)
    data = pr.to_json()
    assert (data["rate"], data["container_rate"], data["start_tc"]) == ("24000/1001", "24000/1001", "12:34:56:07")
    back = Probe.from_json(json.loads(json.dumps(data)))
    assert back == pr and isinstance(back.rate, Fraction) and isinstance(back.container_rate, Fraction)
    # The label is derived from the frame count: a corrected count relabels, a stale label is not read back.
    assert Probe.from_json({**data, "start_tc": "00:00:00:00"}).start_tc == "12:34:56:07"

    bare = probe(bwf(tmp_path / "no_rate.wav", time_reference=48000 * 60))
    assert bare.rate is None and bare.to_json()["rate"] is None  # missing, not 25
    assert Probe.from_json(bare.to_json()).rate is None
    assert bare.timeline_rate == NO_RATE_TIMELINE  # the stated grid its results are placed on

@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", r"empty \(0 bytes\)"), (b"just some text, not media\n" * 10, "not a media file")],
)
def test_bad_files_raise_probe_error_naming_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad; rm -rf $HOME.mov"
    path.write_bytes(content)
    with pytest.raises(ProbeError, match=message) as err:
        probe(path)
    assert str(path) in str(err.value)


def test_missing_moov_and_not_a_file(tmp_path: Path) -> None:
    path = video(tmp_path / "cut.mp4", seconds=0.3)
    data = path.read_bytes()
    path.write_bytes(data[: data.find(b"moov") - 4])
    with pytest.raises(ProbeError, match="no 'moov' index") as err:
        probe(path)
    assert "cut.mp4" in str(err.value)
    with pytest.raises(ProbeError, match="not a regular file"):
        probe(tmp_path)
    with pytest.raises(ProbeError, match="cannot read"):
        probe(tmp_path / "missing.mov")


def test_truncated_mxf_is_flagged(tmp_path: Path) -> None:
    path = video(
        tmp_path / "cut.mxf",
        codec=("-c:v", "mpeg2video", "-b:v", "8M"),
        audio_codec=("-c:a", "pcm_s16le"),
        seconds=1.0,
    )
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    pr = probe(path)
    assert pr.truncated and any("truncated" in w for w in pr.warnings)
