"""People in the NLE files: a people track (OTIO, FCP7 V2...), FCPXML keyword ranges, named markers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import opentimelineio as otio
from export_sidecars import make_sidecar, marker
from test_export_nle_samples import fcpxml_violations

from kinod.export.timeline import card_timeline, clip_timeline
from kinod.export.writers import ExportOptions, write_card_formats, write_formats


def _face(frame: int, duration: int, name: str, track: int) -> dict:
    return {**marker("face", frame, name, f"track {track}", duration), "analyzer": "faces"}


def _sidecars() -> list[dict]:
    faces = [_face(20, 50, "Barack Obama", 1), _face(40, 60, "person-2", 2), _face(150, 20, "face 3", 3)]
    a = make_sidecar(name="A001.mov", start_tc="10:00:00:00", frames=200, markers=faces)
    b = make_sidecar(name="A002.mov", start_tc="10:00:10:00", frames=100, markers=[_face(10, 30, "Barack Obama", 1)])
    return [a, b]  # fmt: skip


def test_clip_and_card_timelines_have_people_tracks() -> None:
    a, b = _sidecars()
    tl = clip_timeline(a)
    names = [t.name for t in tl.video_tracks()]
    assert names == ["V1", "People", "People 2"]  # Obama and person-2 overlap: two lanes
    people = [c for t in tl.video_tracks()[1:] for c in t.find_clips()]
    assert sorted((c.name, int(c.source_range.start_time.value) - 900000, int(c.source_range.duration.value))
                  for c in people) == [("Barack Obama", 20, 50), ("person-2", 40, 60)]  # fmt: skip
    card = card_timeline([a, b])
    obama = [c for t in card.video_tracks()[1:] for c in t.find_clips() if c.name == "Barack Obama"]
    assert len(obama) == 2
    record = [int(c.range_in_parent().start_time.value) for c in obama]
    assert record == [20, 200 + 50 + 10]  # A002 follows A001 after a 2 s timecode gap on V1


def test_written_files_name_people(tmp_path: Path) -> None:
    a, b = _sidecars()
    formats = ["otio", "fcp7", "fcpxml", "resolve-edl", "edl"]
    write_formats(a, tmp_path, formats, ExportOptions())
    write_card_formats([a, b], tmp_path, formats, ExportOptions())
    # OTIO: the people track survives the file.
    tl = otio.adapters.read_from_file(str(tmp_path / "card.otio"))
    assert [t.name for t in tl.video_tracks()][:2] == ["V1", "People"]
    # FCP7: V2 holds the person clip items, cut from the same file.
    root = ET.parse(tmp_path / "A001.mov.fcp7.xml").getroot()
    tracks = root.findall("./sequence/media/video/track")
    assert len(tracks) == 3
    items = tracks[1].findall("clipitem")
    assert [(i.findtext("name"), i.findtext("in"), i.findtext("out"), i.findtext("start")) for i in items] == [
        ("Barack Obama", "20", "70", "20")
    ]
    assert items[0].find("file").get("id") == "file-1"
    # FCPXML: a keyword range per known person, and still valid.
    for f in ("A001.mov.fcpxml", "card.fcpxml"):
        assert fcpxml_violations(tmp_path / f) == []
    kws = ET.parse(tmp_path / "A001.mov.fcpxml").getroot().findall(".//asset-clip/keyword")
    assert sorted(k.get("value") for k in kws) == ["Barack Obama", "person-2"]
    # Resolve and CMX EDLs: the markers carry the person's name.
    assert "Barack Obama" in (tmp_path / "A001.mov.resolve.edl").read_text()
    assert "Barack Obama" in (tmp_path / "card.fcp7.xml").read_text()
