"""A card that mixes countings, rates, sizes and an audio-only take, in every format.

The card: a 29.97 DF clip (320x180), a 29.97 NDF clip starting ``00:05:00:00``
(1280x720), a 25 fps clip and a four-channel BWF at 29.97 DF. The card timeline runs at
29.97 DF (most of its clips), the 25 fps clip is exported on its own. Whatever the
timeline counts in, every source timecode a file carries must be the clip's own label:
that is what a relink by source TC, or an editor reading the file, compares with the
camera. Record timecodes count in the timeline's counting.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
import pytest
from export_sidecars import make_sidecar, marker
from test_export_nle_samples import fcpxml_violations

from kinod.export.timeline import card_timeline, clip_timeline
from kinod.export.writers import ExportOptions, get_writer, write_card_formats, write_formats
from kinod.export.writers.fcpxml import parse_time
from kinod.media.timecode import frames_to_tc, tc_to_frames

NTSC = Fraction(30000, 1001)
FORMATS = ["otio", "edl", "resolve-edl", "fcp7", "fcpxml", "avid", "csv"]
_EVENT = re.compile(r"^(\d{3,})\s+(\S+)\s+(\S+)\s+C\s+(\S+) (\S+) (\S+) (\S+)\s*$")


def _sidecar(name: str, rate: Fraction, df: bool, start: str, **kw: Any) -> dict[str, Any]:
    frames = kw.pop("frames", 300)
    # Markers at the first frame, across a DF minute boundary (frame 60 from 00:00:58;00) and near the end.
    marks = [
        marker("shot", 0, f"{name} first"),
        marker("speech", 60, f"{name} minute"),
        marker("tag", frames - 2, "end"),
    ]
    return make_sidecar(name=name, rate=rate, drop_frame=df, start_tc=start, frames=frames, markers=marks, **kw)


@pytest.fixture(scope="module")
def card() -> list[dict[str, Any]]:
    df = _sidecar("A001C001.mov", NTSC, True, "00:00:58;00", width=320, height=180)
    ndf = _sidecar("A001C002.mov", NTSC, False, "00:05:00:00", width=1280, height=720)
    pal = _sidecar("A001C003.mov", Fraction(25), False, "01:00:00:00", frames=250, audio_channels=1)
    bwf = _sidecar("A001C004.wav", NTSC, True, "00:10:00;00", audio_channels=4)
    bwf["probe"].update(has_video=False, width=None, height=None)
    return [df, ndf, pal, bwf]


def _labels(sc: dict[str, Any]) -> tuple[str, set[str]]:
    """The clip's start label and its markers' labels, in its own counting (what the sidecar says)."""
    return sc["timeline"]["start_tc"], {m["tc"] for m in sc["markers"]}


def _card_files(card: list[dict[str, Any]], tmp_path: Path, opts: ExportOptions | None = None) -> dict[str, Path]:
    written = write_card_formats(card, tmp_path, FORMATS, opts or ExportOptions())
    return {p.name.removeprefix("card"): p for p in written}


def test_card_timeline_is_29_97_df_without_the_25_fps_clip(card: list[dict[str, Any]]) -> None:
    tl = card_timeline(card)
    assert tl.metadata["kinod"]["rate"] == "30000/1001" and tl.metadata["kinod"]["drop_frame"] is True
    assert [c.name for c in tl.find_clips()] == ["A001C001.mov", "A001C002.mov", "A001C004.wav"]
    assert [e["path"].rsplit("/", 1)[1] for e in tl.metadata["kinod"]["excluded"]] == ["A001C003.mov"]


def _edl_events(path: Path) -> list[tuple[str, ...]]:
    out, clip = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _EVENT.match(line)
        if m:
            out.append(m.groups())
        elif line.startswith("* FROM CLIP NAME:") and out:
            clip = line.split(":", 1)[1].strip()
            out[-1] = (*out[-1], clip)
    return out


def test_cmx_edl_source_tc_in_each_clips_counting(card: list[dict[str, Any]], tmp_path: Path) -> None:
    events = _edl_events(_card_files(card, tmp_path)[".edl"])
    by_name = {sc["source"]["name"]: sc for sc in card}
    firsts = {}
    for *_, src_in, src_out, rec_in, rec_out, clip in events:
        firsts.setdefault(clip, src_in)
        sc = by_name[clip]
        assert (";" in src_in) == (";" in src_out) == sc["timeline"]["drop_frame"], (clip, src_in)
        assert ";" in rec_in and ";" in rec_out  # the timeline is DF
    # The NDF clip keeps 00:05:00:00 (it came out as 00:05:00;10 when written in the timeline's counting).
    assert firsts == {n: by_name[n]["timeline"]["start_tc"] for n in ("A001C001.mov", "A001C002.mov", "A001C004.wav")}
    edl = get_writer("edl").read(_card_files(card, tmp_path)[".edl"], NTSC)
    assert {m.clip for m in edl} == set(firsts)  # our reader reads the mixed counting back


def test_every_clip_file_carries_its_own_source_labels(card: list[dict[str, Any]], tmp_path: Path) -> None:
    for sc in card:
        start, marks = _labels(sc)
        df = sc["timeline"]["drop_frame"]
        rate = Fraction(sc["timeline"]["rate"])
        files = {p.name.removeprefix(sc["source"]["name"]): p for p in write_formats(sc, tmp_path, FORMATS)}
        # EDL: the first event's source in; Resolve EDL: every marker's source in.
        (first, *_) = _edl_events(files[".edl"])
        assert first[3] == start
        resolve = {e[3] for e in _edl_events(files[".resolve.edl"])}
        assert resolve == marks
        # FCP7: the file's timecode string and counting.
        root = ET.parse(files[".fcp7.xml"]).getroot()
        assert {t.text for t in root.iter("string")} >= {start}
        assert root.find(".//file/timecode/displayformat").text == ("DF" if df else "NDF")
        # FCPXML: the asset-clip's start, labelled in its tcFormat.
        assert _fcpxml_starts(files[".fcpxml"]) == [start]
        # OTIO: the clip's source range and every marker.
        assert _otio_labels(files[".otio"]) == (start, marks)
        # CSV: the source_tc column.
        assert {row["source_tc"] for row in _csv(files[".markers.csv"])} == marks
        assert tc_to_frames(start, rate, df) == sc["timeline"]["start_tc_frames"]


def test_card_files_carry_each_clips_own_source_labels(card: list[dict[str, Any]], tmp_path: Path) -> None:
    files = _card_files(card, tmp_path)
    placed = [sc for sc in card if sc["source"]["name"] != "A001C003.mov"]
    starts = [sc["timeline"]["start_tc"] for sc in placed]
    marks = set().union(*(_labels(sc)[1] for sc in placed))
    assert {e[3] for e in _edl_events(files[".resolve.edl"])} == marks
    assert _fcpxml_starts(files[".fcpxml"]) == starts
    timeline = otio.adapters.read_from_file(str(files[".otio"]))
    assert [c.metadata["kinod"]["start_tc"] for c in timeline.find_clips()] == starts
    assert {row["source_tc"] for row in _csv(files[".markers.csv"])} == marks
    root = ET.parse(files[".fcp7.xml"]).getroot()
    file_tcs = [(f.findtext("timecode/string"), f.findtext("timecode/displayformat")) for f in root.iter("file")]
    file_tcs = [t for t in file_tcs if t[0]]  # later items refer to the file by id only
    assert file_tcs == [
        (s, "DF" if sc["timeline"]["drop_frame"] else "NDF") for s, sc in zip(starts, placed, strict=True)
    ]


def _fcpxml_starts(path: Path) -> list[str]:
    """Each asset-clip's start as the label Final Cut shows: its frames in its tcFormat."""
    root = ET.parse(path).getroot()
    fds = {f.get("id"): parse_time(f.get("frameDuration")) for f in root.iter("format")}
    seq_fd = fds[root.find(".//sequence").get("format")]
    assets = {a.get("id"): a for a in root.iter("asset")}
    out = []
    for ac in root.iter("asset-clip"):
        fd = fds.get(assets[ac.get("ref")].get("format"), seq_fd)
        frames = parse_time(ac.get("start")) / fd
        assert frames.denominator == 1
        out.append(frames_to_tc(int(frames), 1 / fd, ac.get("tcFormat") == "DF"))
    return out


def _otio_labels(path: Path) -> tuple[str, set[str]]:
    (clip,) = otio.adapters.read_from_file(str(path)).find_clips()
    df = clip.metadata["kinod"]["drop_frame"]
    rate = Fraction(clip.metadata["kinod"]["rate"])
    start = frames_to_tc(round(clip.source_range.start_time.value), rate, df)
    marks = {frames_to_tc(round(m.marked_range.start_time.value), rate, df) for m in clip.markers}
    assert start == clip.metadata["kinod"]["start_tc"]
    return start, marks


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))


def test_fcpxml_one_format_per_picture_and_audio_only_asset(card: list[dict[str, Any]], tmp_path: Path) -> None:
    path = _card_files(card, tmp_path)[".fcpxml"]
    assert fcpxml_violations(path) == []
    root = ET.parse(path).getroot()
    formats = {f.get("id"): f for f in root.iter("format")}
    sizes = sorted((f.get("width"), f.get("height"), f.get("frameDuration")) for f in formats.values())
    assert sizes == [("1280", "720", "1001/30000s"), ("320", "180", "1001/30000s")]
    assert root.find(".//sequence").get("format") == next(
        i for i, f in formats.items() if f.get("width") == "320"
    )  # the first clip's picture
    assets = {a.get("name"): a for a in root.iter("asset")}
    for name, (w, h) in {"A001C001.mov": ("320", "180"), "A001C002.mov": ("1280", "720")}.items():
        fmt = formats[assets[name].get("format")]
        assert (fmt.get("width"), fmt.get("height")) == (w, h)
    bwf = assets["A001C004.wav"]
    assert bwf.get("format") is None and bwf.get("hasVideo") == "0"
    assert (bwf.get("hasAudio"), bwf.get("audioChannels"), bwf.get("audioRate")) == ("1", "4", "48000")
    # Our reader still places every marker, the audio-only asset's included.
    read = get_writer("fcpxml").read(path)
    assert {m.clip for m in read} == {"A001C001.mov", "A001C002.mov", "A001C004.wav"}


def test_fcp7_audio_tracks_with_the_probed_channels(card: list[dict[str, Any]], tmp_path: Path) -> None:
    path = _card_files(card, tmp_path)[".fcp7.xml"]
    seq = ET.parse(path).getroot().find("sequence")
    tracks = seq.findall("media/audio/track")
    assert len(tracks) == 4  # the BWF's four channels; the stereo clips fill A1 and A2
    per_track = [[ci.findtext("name") for ci in t.findall("clipitem")] for t in tracks]
    assert per_track == [["A001C001.mov", "A001C002.mov", "A001C004.wav"]] * 2 + [["A001C004.wav"]] * 2
    for n, t in enumerate(tracks, 1):
        assert [ci.findtext("sourcetrack/trackindex") for ci in t.findall("clipitem")] == [str(n)] * len(
            per_track[n - 1]
        )
    video = [ci.findtext("name") for ci in seq.findall("media/video/track/clipitem")]
    assert video == ["A001C001.mov", "A001C002.mov"]  # the BWF has no picture item
    counts = {
        f.findtext("name"): f.findtext("media/audio/channelcount")
        for f in seq.iter("file")
        if f.find("name") is not None
    }
    assert counts == {"A001C001.mov": "2", "A001C002.mov": "2", "A001C004.wav": "4"}
    assert seq.findtext("media/audio/format/samplecharacteristics/samplerate") == "48000"
    # Picture and sound are linked, so Premiere moves them together.
    first = seq.find("media/video/track/clipitem")
    assert [ln.findtext("mediatype") for ln in first.findall("link")] == ["video", "audio", "audio"]
    # The fcp_xml adapter sees the same tracks; markers stay on the clip's first item.
    timeline = otio.adapters.read_from_file(str(path), "fcp_xml")
    assert len(timeline.audio_tracks()) == 4
    read = get_writer("fcp7").read(path)
    assert sorted({m.clip for m in read}) == ["A001C001.mov", "A001C002.mov", "A001C004.wav"]
    assert len(read) == 9


def test_mono_clip_gets_one_audio_track(card: list[dict[str, Any]], tmp_path: Path) -> None:
    pal = card[2]
    (path,) = write_formats(pal, tmp_path, ["fcp7"])
    seq = ET.parse(path).getroot().find("sequence")
    assert len(seq.findall("media/audio/track")) == 1
    assert seq.findtext(".//file/media/audio/channelcount") == "1"


@pytest.mark.parametrize("record_start", ["source", "01:00:00:00"])
def test_resolve_record_start(card: list[dict[str, Any]], record_start: str, tmp_path: Path) -> None:
    opts = ExportOptions(resolve_record_start=record_start)
    for sc in (card[0], card[1]):
        (path,) = write_formats(sc, tmp_path, ["resolve-edl"], opts)
        df = sc["timeline"]["drop_frame"]
        origin = sc["timeline"]["start_tc_frames"] if record_start == "source" else tc_to_frames(record_start, NTSC, df)
        read = get_writer("resolve-edl").read(path, NTSC)
        assert [m.record_frame for m in read] == [origin + m["frame"] for m in sc["markers"]]
        # The source columns keep the clip's own labels either way.
        assert [e[3] for e in _edl_events(path)] == [m["tc"] for m in sc["markers"]]
    if record_start != "source":
        (path,) = write_formats(card[0], tmp_path, ["resolve-edl"], opts)
        assert _edl_events(path)[0][5] == "01:00:00;00"  # read in the timeline's counting


def test_bad_resolve_record_start_is_refused() -> None:
    with pytest.raises(ValueError, match="resolve_record_start"):
        ExportOptions(resolve_record_start="1:00:00")


# ------------------------------------------------------------------ OTIO target version


def test_otio_downgraded_to_0_14_reads_back(card: list[dict[str, Any]], tmp_path: Path) -> None:
    current = write_formats(card[1], tmp_path / "now", ["otio"])[0]
    old = write_formats(card[1], tmp_path / "old", ["otio"], ExportOptions(otio_target_version="0.14.0"))[0]
    assert '"OTIO_SCHEMA": "Clip.2"' in current.read_text()
    text = old.read_text()
    assert '"OTIO_SCHEMA": "Clip.1"' in text and '"Clip.2"' not in text
    assert '"media_reference"' in text and '"media_references"' not in text  # Clip.1's single reference
    w = get_writer("otio")
    assert w.read(old) == w.read(current)  # OTIO upgrades it on read: same markers, same places
    (clip,) = otio.adapters.read_from_file(str(old)).find_clips()
    assert clip.media_reference.target_url.endswith("A001C002.mov")
    assert clip.metadata["kinod"]["start_tc"] == "00:05:00:00"


def test_card_otio_downgrade(card: list[dict[str, Any]], tmp_path: Path) -> None:
    opts = ExportOptions(otio_target_version="0.14.0")
    path = _card_files(card, tmp_path, opts)[".otio"]
    assert path.read_text().count('"Clip.1"') == 3
    timeline = otio.adapters.read_from_file(str(path))
    assert [c.name for c in timeline.find_clips()] == ["A001C001.mov", "A001C002.mov", "A001C004.wav"]


def test_unknown_otio_target_version_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"otio_target_version '0\.9\.0'.*0\.14\.0"):
        ExportOptions(otio_target_version="0.9.0")


def test_clip_timeline_of_the_bwf_has_no_picture(card: list[dict[str, Any]]) -> None:
    (clip,) = clip_timeline(card[3]).find_clips()
    assert clip.metadata["kinod"]["has_video"] is False and clip.metadata["kinod"]["audio_channels"] == 4
