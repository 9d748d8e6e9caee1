"""Sidecars -> OTIO: clip and card timelines, colours, categories, conformed rates, registry."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from export_sidecars import make_sidecar, marker
from pydantic import ValidationError

from kinod.export.timeline import (
    CATEGORY_COLORS,
    MARKER_CATEGORIES,
    camera_order_key,
    card_timeline,
    clip_timeline,
    conform_rate,
    marker_note,
    resolve_colors,
)
from kinod.export.writers import (
    BUILTIN_WRITERS,
    ExportError,
    ExportOptions,
    get_writer,
    write_card_formats,
    write_formats,
    writer_classes,
)
from kinod.export.writers.base import timeline_facts


def test_every_category_has_a_colour() -> None:
    assert set(CATEGORY_COLORS) == set(MARKER_CATEGORIES)
    assert len(set(CATEGORY_COLORS.values())) == len(CATEGORY_COLORS)


def test_colours_are_configurable_and_checked() -> None:
    sc = make_sidecar(markers=[marker("shot", 3, "Cut"), marker("speech", 9, "Talk")])
    tl = clip_timeline(sc, colors={"shot": "magenta"})
    assert [m.color for m in tl.find_clips()[0].markers] == ["MAGENTA", "GREEN"]
    with pytest.raises(ValueError, match="unknown marker colour 'teal'"):
        resolve_colors({"shot": "teal"})
    with pytest.raises(ValueError, match="unknown marker category 'cuts'"):
        resolve_colors({"cuts": "RED"})
    with pytest.raises(ValidationError):
        ExportOptions(colors={"shot": "teal"})
    assert ExportOptions(colors={"shot": "red"}).colors == {"shot": "RED"}


def test_categories_filter() -> None:
    sc = make_sidecar(markers=[marker("shot", 3, "Cut"), marker("speech", 9, "Talk"), marker("black", 20, "Blk")])
    tl = clip_timeline(sc, categories=["speech", "black"])
    assert [m.name for m in tl.find_clips()[0].markers] == ["Talk", "Blk"]
    with pytest.raises(ValidationError):
        ExportOptions(categories=("speach",))


def test_marker_comment_says_why_who_and_how_sure() -> None:
    m = {"category": "black", "comment": "black for 1.2 s", "analyzer": "black", "confidence": 0.875}
    assert marker_note(m) == "black for 1.2 s [confidence 0.88, black]"
    m = {"category": "shot", "comment": "cut score 31", "analyzer": "shots", "confidence": None}
    assert marker_note(m) == "cut score 31 [shots, shot]"
    m = {"category": "silence", "comment": "quiet", "analyzer": "silence", "confidence": None}
    assert marker_note(m) == "quiet [silence]"


def test_clip_timeline_is_on_the_source_timecode_axis() -> None:
    sc = make_sidecar(rate=Fraction(30000, 1001), drop_frame=True, start_tc="01:00:00;00", frames=300)
    tl = clip_timeline(sc)
    clip = tl.find_clips()[0]
    assert clip.source_range.start_time.value == 107892
    assert otio.opentime.to_timecode(clip.source_range.start_time, 30000 / 1001, True) == "01:00:00;00"
    assert clip.media_reference.target_url == "file:///mnt/nas/footage/A001/A001C003_230101_R1AB.mov"
    facts = timeline_facts(tl)
    assert facts.drop_frame and facts.record_tc(0) == "01:00:00;00"


def test_no_timeline_is_an_error_naming_the_file() -> None:
    sc = make_sidecar()
    sc["timeline"] = None
    with pytest.raises(ValueError, match=r"A001C003_230101_R1AB\.mov: sidecar has no timeline"):
        clip_timeline(sc)


@pytest.mark.parametrize(
    ("rate", "nle"),
    [
        (Fraction(2997, 100), Fraction(30000, 1001)),
        (Fraction(600, 29), Fraction(24000, 1001)),
        (Fraction(25), Fraction(25)),
        (Fraction(30), Fraction(30)),
        (Fraction(120), Fraction(60)),
    ],
)
def test_conform_rate(rate: Fraction, nle: Fraction) -> None:
    assert conform_rate(rate) == nle


def test_camera_order_is_natural() -> None:
    names = ["C0010.MP4", "C0002.MP4", "A001C010.mov", "A001C002.mov", "clip 2.mov", "clip 10.mov"]
    ordered = sorted((make_sidecar(name=n) for n in names), key=camera_order_key)
    assert [s["source"]["name"] for s in ordered] == [
        "A001C002.mov",
        "A001C010.mov",
        "C0002.MP4",
        "C0010.MP4",
        "clip 2.mov",
        "clip 10.mov",
    ]


def test_card_timeline_gaps_order_and_exclusions() -> None:
    a = make_sidecar(name="C0001.MP4", start_tc="10:00:00:00", frames=250, markers=[marker("shot", 10, "a")])
    b = make_sidecar(name="C0002.MP4", start_tc="10:00:12:00", frames=250, markers=[marker("black", 0, "b")])
    c = make_sidecar(name="C0003.MP4", start_tc="11:00:00:00", frames=100)
    d = make_sidecar(name="C0004.MP4", start_tc="09:00:00:00", frames=100)  # TC goes back: butted
    odd = make_sidecar(name="C0005.MP4", rate=Fraction(30), start_tc="12:00:00:00", frames=100)
    broken = make_sidecar(name="C0006.MP4")
    broken["timeline"] = None
    tl = card_timeline([d, c, odd, broken, b, a], "A001", max_gap_seconds=60)
    items = list(tl.video_tracks()[0])
    kinds = [(type(i).__name__, i.name, round(i.duration().value)) for i in items]
    assert kinds == [
        ("Clip", "C0001.MP4", 250),
        ("Gap", "TC jump 00:00:02:00", 50),
        ("Clip", "C0002.MP4", 250),
        ("Gap", "TC jump 00:59:38:00", 1500),
        ("Clip", "C0003.MP4", 100),
        ("Clip", "C0004.MP4", 100),
    ]
    assert items[3].metadata["kinod"] == {"jump_frames": 89450, "capped": True}
    assert tl.global_start_time.value == 10 * 3600 * 25
    excluded = {Path(e["path"]).name: e["why"] for e in tl.metadata["kinod"]["excluded"]}
    assert set(excluded) == {"C0005.MP4", "C0006.MP4"}
    assert "30/1" in excluded["C0005.MP4"]
    facts = timeline_facts(tl)
    assert [c.record_start for c in facts.clips] == [0, 300, 2050, 2150]
    with pytest.raises(ValueError, match="no clip with a timeline"):
        card_timeline([broken], "empty")


# ------------------------------------------------------------------------- registry


def test_builtin_writers_are_registered_with_distinct_suffixes() -> None:
    classes = writer_classes()
    assert {"otio", "edl", "resolve-edl", "fcp7", "fcpxml", "avid", "srt", "vtt", "csv"} <= set(classes)
    suffixes = [cls.suffix for cls in BUILTIN_WRITERS]
    assert len(suffixes) == len(set(suffixes))
    with pytest.raises(ValueError, match="unknown export format 'aaf'"):
        get_writer("aaf")


def test_write_formats_names_files_after_the_clip(tmp_path: Path) -> None:
    sc = make_sidecar(name="A001C003.mov", markers=[marker("shot", 3, "Cut")])
    paths = write_formats(sc, tmp_path, ["json", "otio", "resolve-edl", "fcp7", "csv"])
    assert [p.name for p in paths] == [
        "A001C003.mov.otio",
        "A001C003.mov.resolve.edl",
        "A001C003.mov.fcp7.xml",
        "A001C003.mov.markers.csv",
    ]
    with pytest.raises(ValueError, match="unknown export format"):
        write_formats(sc, tmp_path, ["otio", "nope"])
    failed = make_sidecar()
    failed["timeline"] = None
    assert write_formats(failed, tmp_path, ["otio"]) == []


def test_write_formats_reports_a_failing_format_and_keeps_the_others(tmp_path: Path) -> None:
    sc = make_sidecar(name="A001C003.mov")
    (tmp_path / "A001C003.mov.fcp7.xml").mkdir()  # a folder where the file should go
    with pytest.raises(ExportError, match="fcp7") as err:
        write_formats(sc, tmp_path, ["otio", "fcp7", "csv"])
    assert [p.name for p in err.value.written] == ["A001C003.mov.otio", "A001C003.mov.markers.csv"]


def test_write_card_formats(tmp_path: Path) -> None:
    a = make_sidecar(name="C0001.MP4", markers=[marker("shot", 10, "a")])
    b = make_sidecar(name="C0002.MP4", start_tc="01:00:30:00", markers=[marker("shot", 10, "b")])
    paths = write_card_formats([b, a], tmp_path, ["otio", "fcp7", "srt", "json"])
    assert [p.name for p in paths] == ["card.otio", "card.fcp7.xml"]
    tl = otio.adapters.read_from_file(str(paths[0]))
    assert [c.name for c in tl.find_clips()] == ["C0001.MP4", "C0002.MP4"]


def test_pipeline_sidecar_exports(tmp_path: Path) -> None:
    """A sidecar as the pipeline writes it (shots analyzer on real media) exports in every format."""
    from kinod.config import load_config
    from kinod.jobs.store import JobStore
    from kinod.run.processor import ClipProcessor
    media = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "media" / "counter.mp4"
    if not media.is_file():
        pytest.skip(f"fixture media missing: {media}")
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text(f'[output]\nroot = "{tmp_path / "out"}"\n[state]\ndir = "{tmp_path / "var"}"\n')
    config = load_config(cfg_file)
    store = JobStore(config.state.dir / "kinod.sqlite")
    try:
        outcome = ClipProcessor(config, store).process(media, tmp_path / "out")
    finally:
        store.close()
    sidecar = json.loads(outcome.sidecar.read_text())
    paths = write_formats(sidecar, tmp_path / "exp", sorted(writer_classes()))
    assert {p.suffix for p in paths} >= {".otio", ".edl", ".xml", ".fcpxml", ".txt", ".csv"}


def test_entry_points_add_formats_and_broken_plugins_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    import kinod.export.writers as registry
    from kinod.export.writers.otio import OtioWriter

    class Json2(OtioWriter):
        format = "otio2"
        suffix = ".otio2"

    class EP:
        def __init__(self, name: str, target: object) -> None:
            self.name, self.target = name, target

        def load(self) -> object:
            if isinstance(self.target, Exception):
                raise self.target
            return self.target

    eps = [EP("otio2", Json2), EP("broken", ImportError("no module named x")), EP("junk", object())]
    monkeypatch.setattr(registry, "entry_points", lambda group: eps if group == "kinod.exporters" else [])
    registry.writer_classes.cache_clear()
    try:
        classes = registry.writer_classes()
        assert classes["otio2"] is Json2 and "broken" not in classes and "junk" not in classes
        assert classes["fcp7"].__name__ == "Fcp7XmlWriter"
    finally:
        registry.writer_classes.cache_clear()
