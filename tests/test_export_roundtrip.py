"""Every marker written is read back at the same frame, with the same name and colour.

At 23.976, 24, 25, 29.97 DF, 29.97 NDF, 50, 59.94 DF and a real variable-frame-rate
file, in every marker format. Each case has a marker on frame 0, on the last frame, one
frame before a DF minute boundary and on 00:10:00;00, in every category (so every
colour), with hostile names. Files are read back by our readers, and additionally by the
OTIO adapter wherever that adapter is correct for the format (fcp_xml at every rate,
cmx_3600 at non-drop rates, fcpx_xml at integer rates, otio_json everywhere).
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
import pytest
from export_sidecars import RATE_CASES, RateCase, acceptance_markers, case_sidecar, make_sidecar

from kinod.export.timeline import CATEGORY_COLORS, card_timeline, clip_timeline, conform_rate, marker_note
from kinod.export.writers import ExportOptions, get_writer
from kinod.export.writers.avid_locators import avid_comment
from kinod.export.writers.base import AVID_COLORS, RESOLVE_COLORS, clean_text
from kinod.export.writers.cmx_edl import loc_name
from kinod.export.writers.fcp7_xml import ppro_color
from kinod.export.writers.fcpxml import marker_kind
from kinod.export.writers.markers_csv import csv_cell
from kinod.export.writers.resolve_edl import resolve_name, resolve_note
from kinod.media.ffmpeg import ffmpeg_path
from kinod.media.probe import probe
from kinod.media.timecode import seconds_to_frame

OPTS = ExportOptions()


def expected(sidecar: dict[str, Any]) -> tuple[Fraction, int, list[dict[str, Any]]]:
    """(NLE rate, start TC frames at it, markers with frame/duration at it), computed independently."""
    rate = Fraction(sidecar["timeline"]["rate"])
    nle = conform_rate(rate)
    start = sidecar["timeline"]["start_tc_frames"]
    out = []
    for m in sidecar["markers"]:
        frame, duration = m["frame"], m["duration_frames"]
        if nle != rate:
            frame = seconds_to_frame(Fraction(m["frame"]) / rate, nle)
            end = seconds_to_frame(Fraction(m["frame"] + duration) / rate, nle)
            duration = max(1, end - frame) if duration else 0
        out.append({**m, "frame": frame, "duration_frames": duration, "color": CATEGORY_COLORS[m["category"]]})
    if nle != rate:
        start = seconds_to_frame(Fraction(start) / rate, nle)
    return nle, start, out


@pytest.fixture(scope="module")
def vfr_sidecar(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real VFR file (30 fps for 1 s, then 15 fps), probed, with markers on its frames."""
    path = tmp_path_factory.mktemp("vfr") / "phone clip (VFR) & co.mp4"
    expr = "if(lt(N,30),N/30/TB,(N-30)/15/TB+1/TB)"
    subprocess.run(
        [
            *(ffmpeg_path(""), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"),
            *("-i", "testsrc=size=96x64:rate=30", "-t", "3", "-vf", f"setpts='{expr}'"),
            *("-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)),
        ],
        check=True,
        timeout=60,
    )
    pr = probe(path)
    assert pr.vfr and pr.frames > 10
    rate = pr.timeline_rate
    case = RateCase("VFR", rate, False, "00:00:00:00", pr.frames, (), vfr=True)
    sc = make_sidecar(
        name=path.name,
        folder=str(path.parent),
        rate=rate,
        start_tc="00:00:00:00",
        frames=pr.frames,
        markers=acceptance_markers(case),
        vfr=True,
    )
    return sc


def all_cases(vfr: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(c.label, case_sidecar(c)) for c in RATE_CASES] + [("VFR", vfr)]


CASE_IDS = [c.label for c in RATE_CASES] + ["VFR"]


@pytest.fixture(params=CASE_IDS)
def case(request: pytest.FixtureRequest, vfr_sidecar: dict[str, Any]) -> dict[str, Any]:
    return dict(all_cases(vfr_sidecar))[request.param]


def _write(fmt: str, sidecar: dict[str, Any], tmp_path: Path) -> tuple[Path, Any]:
    writer = get_writer(fmt)
    dest = tmp_path / (sidecar["source"]["name"] + writer.suffix)
    writer.write(clip_timeline(sidecar), dest, OPTS)
    return dest, writer


def test_acceptance_frames_are_present(case: dict[str, Any]) -> None:
    frames = [m["frame"] for m in case["markers"]]
    assert 0 in frames and case["timeline"]["frames"] - 1 in frames
    if case["timeline"]["drop_frame"]:
        tcs = {m["tc"] for m in case["markers"]}
        assert "00:10:00;00" in tcs
        assert tcs & {"00:10:59;29", "00:10:59;59"}  # one frame before 00:11:00;02 / ;04


def test_vfr_is_conformed_to_a_standard_rate(vfr_sidecar: dict[str, Any]) -> None:
    tl = clip_timeline(vfr_sidecar)
    rate = Fraction(tl.metadata["kinod"]["rate"])
    assert rate in {Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30)}
    assert tl.find_clips()[0].metadata["kinod"]["vfr"] is True


def test_otio(case: dict[str, Any], tmp_path: Path) -> None:
    dest, writer = _write("otio", case, tmp_path)
    _, _, want = expected(case)
    got = writer.read(dest)
    assert [(g.frame, g.duration, g.name, g.color, g.comment) for g in got] == [
        (m["frame"], m["duration_frames"], clean_text(m["name"]), m["color"], clean_text(marker_note(m))) for m in want
    ]


def test_resolve_edl(case: dict[str, Any], tmp_path: Path) -> None:
    dest, writer = _write("resolve-edl", case, tmp_path)
    nle, start, want = expected(case)
    got = writer.read(dest, nle)
    assert [(g.record_frame, g.duration, g.name, g.color, g.comment) for g in got] == [
        (
            start + m["frame"],
            max(m["duration_frames"], 1),
            resolve_name(m["name"]),
            RESOLVE_COLORS[m["color"]],
            resolve_note(marker_note(m)),
        )
        for m in want
    ]
    text = dest.read_text(encoding="utf-8")
    assert ("FCM: DROP FRAME" in text) == case["timeline"]["drop_frame"]


def test_cmx_edl_locators_and_shots(case: dict[str, Any], tmp_path: Path) -> None:
    dest, writer = _write("edl", case, tmp_path)
    nle, start, want = expected(case)
    got = writer.read(dest, nle)
    shots = [g for g in got if g.name == "shot" and not g.color]
    locs = [g for g in got if g.color]
    cuts = sorted({0, *(m["frame"] for m in want if m["category"] == "shot" and m["frame"] > 0)})
    assert [s.record_frame - start for s in shots] == cuts
    assert sum(s.duration for s in shots) == clip_timeline(case).find_clips()[0].source_range.duration.value
    assert [(g.record_frame, g.name, g.color) for g in locs] == [
        (start + m["frame"], loc_name(m["name"]), AVID_COLORS[m["color"]].upper())
        for m in want
        if m["category"] != "shot"
    ]


def test_fcp7_xml(case: dict[str, Any], tmp_path: Path) -> None:
    dest, writer = _write("fcp7", case, tmp_path)
    _, start, want = expected(case)
    got = writer.read(dest)
    assert [(g.frame, g.record_frame, g.duration, g.name, g.comment, g.color) for g in got] == [
        (
            m["frame"],
            start + m["frame"],
            m["duration_frames"],
            clean_text(m["name"]),
            clean_text(marker_note(m)),
            str(ppro_color(m["color"])),
        )
        for m in want
    ]


def test_fcpxml(case: dict[str, Any], tmp_path: Path) -> None:
    dest, writer = _write("fcpxml", case, tmp_path)
    _, start, want = expected(case)
    got = writer.read(dest)
    assert [(g.frame, g.record_frame, g.duration, g.name, g.comment, g.color) for g in got] == [
        (
            m["frame"],
            start + m["frame"],
            max(m["duration_frames"], 1),
            clean_text(m["name"]),
            clean_text(marker_note(m)),
            marker_kind(m["category"], OPTS),
        )
        for m in want
    ]


def test_avid_locators(case: dict[str, Any], tmp_path: Path) -> None:
    dest, writer = _write("avid", case, tmp_path)
    nle, start, want = expected(case)
    got = writer.read(dest, nle)
    assert [(g.record_frame, g.duration, g.comment, g.color) for g in got] == [
        (
            start + m["frame"],
            max(m["duration_frames"], 1),
            avid_comment(m["name"], marker_note(m)),
            AVID_COLORS[m["color"]],
        )
        for m in want
    ]
    for line in dest.read_text(encoding="utf-8").splitlines():
        assert len(line.split("\t")) == 6


def test_csv(case: dict[str, Any], tmp_path: Path) -> None:
    dest, writer = _write("csv", case, tmp_path)
    _, _, want = expected(case)
    got = writer.read(dest)
    assert [(g.frame, g.duration, g.name, g.color) for g in got] == [
        (m["frame"], m["duration_frames"], csv_cell(m["name"], True), m["color"]) for m in want
    ]


# ------------------------------------------------------- OTIO adapters as a second reader


def test_fcp_xml_adapter_reads_our_markers(case: dict[str, Any], tmp_path: Path) -> None:
    """The fcp_xml adapter places our clip markers right at every rate (it only loses colour)."""
    dest, _ = _write("fcp7", case, tmp_path)
    _, _, want = expected(case)
    timeline = otio.adapters.read_from_file(str(dest), "fcp_xml")
    (clip,) = timeline.video_tracks()[0].find_clips()
    assert len(timeline.audio_tracks()) == 2  # the stereo clip's two channels, each on its own track
    got = [(round(m.marked_range.start_time.value), m.name) for m in clip.markers]
    assert got == [(m["frame"], clean_text(m["name"])) for m in want]


@pytest.mark.parametrize("label", ["23.976", "24", "25", "29.97NDF", "50"])
def test_cmx_3600_adapter_reads_our_ndf_edl(label: str, tmp_path: Path) -> None:
    """At non-drop rates the cmx_3600 adapter reads our shots and locators like we do."""
    c = next(c for c in RATE_CASES if c.label == label)
    sc = case_sidecar(c)
    dest, _ = _write("edl", sc, tmp_path)
    _, start, want = expected(sc)
    tl = otio.adapters.read_from_file(str(dest), "cmx_3600", rate=float(c.rate))
    clips = list(tl.find_clips())
    cuts = sorted({0, *(m["frame"] for m in want if m["category"] == "shot" and m["frame"] > 0)})
    assert [round(cl.source_range.start_time.value) - start for cl in clips] == cuts
    locs = [(round(m.marked_range.start_time.value), m.name) for cl in clips for m in cl.markers]
    assert locs == [(start + m["frame"], loc_name(m["name"])) for m in want if m["category"] != "shot"]


@pytest.mark.parametrize("label", ["24", "25", "50"])
def test_fcpx_xml_adapter_reads_our_markers(label: str, tmp_path: Path) -> None:
    """At integer rates the fcpx_xml adapter reads our markers at our frames (it truncates NTSC rates)."""
    c = next(c for c in RATE_CASES if c.label == label)
    sc = case_sidecar(c)
    dest, _ = _write("fcpxml", sc, tmp_path)
    _, start, want = expected(sc)
    (clip,) = otio.adapters.read_from_file(str(dest), "fcpx_xml").find_clips()
    got = sorted((round(m.marked_range.start_time.value), m.name) for m in clip.markers)
    assert got == sorted((start + m["frame"], clean_text(m["name"])) for m in want)


# ---------------------------------------------------------------------- card timelines


def test_card_roundtrip_places_markers_on_record_timecode(tmp_path: Path) -> None:
    """Two clips with a time-of-day jump: markers land at each clip's record position."""
    c = next(c for c in RATE_CASES if c.label == "29.97DF")
    a = case_sidecar(c)
    b = make_sidecar(
        name="clip_29.97DF_b.mov",
        rate=c.rate,
        drop_frame=True,
        start_tc="00:13:00;02",
        frames=600,
        markers=acceptance_markers(RateCase("b", c.rate, True, "00:13:00;02", 600)),
    )
    tl = card_timeline([b, a], "card", max_gap_seconds=5)
    for fmt in ("resolve-edl", "fcp7", "fcpxml", "avid", "otio"):
        writer = get_writer(fmt)
        dest = writer.write(tl, tmp_path / ("card" + writer.suffix), OPTS)
        got = writer.read(dest, c.rate)
        start_a = a["timeline"]["start_tc_frames"]
        rec_b = start_a + c.frames + seconds_to_frame(5, c.rate)  # the jump is capped at 5 s
        want = [start_a + m["frame"] for m in a["markers"]] + [rec_b + m["frame"] for m in b["markers"]]
        assert [g.record_frame for g in got] == want, fmt
