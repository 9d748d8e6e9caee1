"""Our files against the real NLE-written samples in ../shared/fixtures/nle/, field by field.

FCP7: same document type, element names and element order as Premiere's export, and
our reader reads Premiere's markers where the fixture README says they are. CMX3600:
the same header and fixed event columns as the sample, and our reader reads its
locators like the OTIO tests assert. FCPXML: Apple's DTD cannot be shipped (it is
Apple's and no package carries it), so our files are checked against the constraints
of the FCPXML 1.10 DTD for the elements we write plus the rules the samples show:
rational ``N/Ds`` times, times that are whole frames, attribute order as FCP writes it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from export_sidecars import FIXTURES, RATE_CASES, case_sidecar, make_sidecar, marker

from kinod.export.timeline import card_timeline, clip_timeline
from kinod.export.writers import ExportOptions, get_writer
from kinod.export.writers.fcpxml import parse_time

NLE = FIXTURES / "nle"
OPTS = ExportOptions()

pytestmark = pytest.mark.skipif(not NLE.is_dir(), reason=f"NLE samples not found at {NLE}")


def _write(fmt: str, sidecar: dict, tmp_path: Path, opts: ExportOptions = OPTS) -> Path:
    w = get_writer(fmt)
    return w.write(clip_timeline(sidecar), tmp_path / (sidecar["source"]["name"] + w.suffix), opts)


def _in_order(ours: list[str], theirs: list[str]) -> bool:
    """True when ``ours`` uses only names from ``theirs``, in ``theirs``' order (repeats allowed)."""
    pos = 0
    for tag in ours:
        try:
            pos = theirs.index(tag, pos)
        except ValueError:
            return False
    return True


def _tags(el: ET.Element) -> list[str]:
    return [c.tag for c in el]


# ------------------------------------------------------------------------- FCP7 XML


@pytest.fixture(scope="module")
def premiere() -> ET.Element:
    return ET.parse(NLE / "fcp7" / "premiere_example.xml").getroot()


@pytest.mark.parametrize("label", [c.label for c in RATE_CASES])
def test_fcp7_structure_matches_premiere(label: str, premiere: ET.Element, tmp_path: Path) -> None:
    case = next(c for c in RATE_CASES if c.label == label)
    path = _write("fcp7", case_sidecar(case), tmp_path)
    head = path.read_text(encoding="utf-8").splitlines()[:3]
    sample_head = (NLE / "fcp7" / "premiere_example.xml").read_text(encoding="utf-8").splitlines()[:3]
    assert head[:2] == sample_head[:2]  # XML declaration, <!DOCTYPE xmeml>
    assert head[2] == sample_head[2]  # <xmeml version="4">
    ours = ET.parse(path).getroot()
    seq, their_seq = ours.find("sequence"), premiere.find("sequence")
    assert _in_order(_tags(seq), _tags(their_seq))
    assert _tags(seq.find("rate")) == _tags(their_seq.find("rate")) == ["timebase", "ntsc"]
    their_clip = premiere.find(".//clipitem[@id='clipitem-4']")
    their_linked = premiere.find(".//clipitem[@id='clipitem-1']")  # a picture item linked to its sound
    clip = seq.find("./media/video/track/clipitem")
    assert _in_order([t for t in _tags(clip) if t != "marker"], _tags(their_linked))
    # Sound: the same layout as Premiere's audio (format, outputs, then one track per channel).
    audio, their_audio = seq.find("./media/audio"), their_seq.find("./media/audio")
    assert _in_order(_tags(audio), _tags(their_audio))
    their_item = their_audio.find("track/clipitem")
    for item in audio.findall("track/clipitem"):
        assert _in_order(_tags(item), _tags(their_item))
    assert _tags(clip).index("marker") > _tags(clip).index("file")
    assert _tags(clip.find("marker"))[:4] == _tags(their_clip.find("marker")) == ["comment", "name", "in", "out"]
    assert _in_order(_tags(clip.find("file")), _tags(their_clip.find("file")))
    assert _tags(clip.find("file/timecode")) == _tags(their_clip.find("file/timecode"))
    assert _in_order(_tags(seq.find("timecode")), _tags(their_seq.find("timecode")))
    track = seq.find("./media/video/track")
    assert _tags(track)[-2:] == _tags(premiere.find(".//video/track"))[-2:] == ["enabled", "locked"]
    # What the fcp_xml adapter loses, we write: DF label, NTSC flag, comments, colours.
    df = "DF" if case.drop_frame else "NDF"
    assert clip.findtext("file/timecode/displayformat") == seq.findtext("timecode/displayformat") == df
    assert seq.findtext("rate/ntsc") == ("TRUE" if case.rate.denominator == 1001 else "FALSE")
    assert all(m.findtext("pproColor") for m in clip.findall("marker"))


def test_our_fcp7_reader_reads_premiere_markers() -> None:
    """README §D2: sequence markers at 113, 492, 298 and a clip marker at 73 on sc01_sh030_anim.mov."""
    got = get_writer("fcp7").read(NLE / "fcp7" / "premiere_example.xml")
    seq = [(g.record_frame, g.name, g.comment) for g in got if g.clip is None]
    assert seq == [(113, "My MArker 1", "so, this happened"), (492, "dsf", "fsfsfs"), (298, "", "")]
    clip = [(g.frame, g.clip, g.duration) for g in got if g.clip]
    assert clip == [(73, "sc01_sh030_anim.mov", 0)]


# ------------------------------------------------------------------------ CMX3600


def test_cmx_layout_matches_sample(tmp_path: Path) -> None:
    sample = (NLE / "cmx3600" / "screening_example.edl").read_text().splitlines()
    case = next(c for c in RATE_CASES if c.label == "24")
    ours = _write("edl", case_sidecar(case), tmp_path).read_text().splitlines()
    assert ours[0].startswith("TITLE: ") and sample[0].startswith("TITLE: ")
    assert ours[1] == sample[1] == "FCM: NON-DROP FRAME"
    tc = re.compile(r"\d\d:\d\d:\d\d:\d\d")
    their_event = next(line for line in sample if line.startswith("001"))
    our_event = next(line for line in ours if line.startswith("001"))
    assert [m.start() for m in tc.finditer(our_event)] == [m.start() for m in tc.finditer(their_event)]
    assert our_event.split()[2:4] == their_event.split()[2:4] == ["V", "C"]
    assert any(line.startswith("* FROM CLIP NAME:  ") for line in ours)
    their_loc = next(line for line in sample if line.startswith("* LOC:"))
    our_loc = next(line for line in ours if line.startswith("* LOC:"))
    assert our_loc[:7] == their_loc[:7] and tc.match(our_loc[7:18])


@pytest.mark.parametrize("name", ["screening_example.edl", "no_spaces_test.edl"])
def test_our_edl_reader_reads_sample_locators(name: str) -> None:
    """README §D1: 9 events; LOCs at 86438 RED, 86462 PINK ("ANIM FIX NEEDED"), 86773 GREEN ("")."""
    got = get_writer("edl").read(NLE / "cmx3600" / name, Fraction(24))
    assert len([g for g in got if not g.color]) == 9
    locs = [(g.record_frame, g.color, g.name) for g in got if g.color]
    assert locs == [(86438, "RED", "ANIM FIX NEEDED"), (86462, "PINK", "ANIM FIX NEEDED"), (86773, "GREEN", "")]


# ------------------------------------------------------------------------- FCPXML

_TIME = re.compile(r"^(0|[1-9][0-9]*)(/[1-9][0-9]*)?s$")
_ANCHORS = {"audio", "video", "clip", "title", "caption", "mc-clip", "ref-clip", "sync-clip", "asset-clip", "spine"}
_ANCHORS |= {"audition"}
#: Child content allowed by the FCPXML 1.10 DTD for the elements kinod writes.
_CHILDREN = {
    "fcpxml": {"import-options", "resources", "library", "event", "project", "asset-clip", "clip"},
    "resources": {"asset", "effect", "format", "media", "locator"},
    "asset": {"media-rep", "metadata"},
    "event": {"clip", "audition", "mc-clip", "ref-clip", "sync-clip", "asset-clip", "project"},
    "project": {"sequence"},
    "sequence": {"note", "spine", "metadata"},
    "spine": {"audio", "video", "clip", "title", "mc-clip", "ref-clip", "sync-clip", "asset-clip", "audition", "gap"}
    | {"transition"},
    "asset-clip": {"note", "marker", "chapter-marker", "rating", "keyword", "metadata", "audio-channel-source"}
    | _ANCHORS,
    "gap": {"note", "marker", "chapter-marker", "rating", "keyword", "metadata"} | _ANCHORS,
    "format": set(),
    "media-rep": set(),
    "marker": set(),
    "chapter-marker": set(),
    # Synced and multicam clips (kinod sync).
    "media": {"multicam", "sequence"},
    "multicam": {"mc-angle"},
    "mc-angle": {"audio", "video", "clip", "title", "mc-clip", "ref-clip", "sync-clip", "asset-clip", "gap"},
    "sync-clip": {"note", "conform-rate", "timeMap", "spine", "sync-source", "metadata", "marker", "chapter-marker"}
    | {"rating", "keyword"}
    | _ANCHORS,
    "mc-clip": {"note", "conform-rate", "timeMap", "mc-source", "metadata", "marker", "chapter-marker", "rating"}
    | {"keyword"}
    | _ANCHORS,
    "sync-source": {"audio-role-source"},
    "mc-source": {"audio-role-source"},
    "audio-role-source": set(),
    "audio-channel-source": set(),
}
_REQUIRED = {
    "format": {"id"},
    "asset": {"id"},
    "media-rep": {"src"},
    "asset-clip": {"ref"},
    "gap": {"duration"},
    "marker": {"start", "value"},
    "chapter-marker": {"start", "value"},
    "media": {"id", "name"},
    "mc-angle": {"name", "angleID"},
    "mc-clip": {"ref"},
    "mc-source": {"angleID"},
    "sync-source": {"sourceID"},
    "audio-role-source": {"role"},
    "audio-channel-source": {"srcCh"},
}
_TIME_ATTRS = {"start", "duration", "offset", "tcStart", "frameDuration"}


def fcpxml_violations(path: Path, whole_frames: bool = True, versions: tuple[str, ...] = ("1.9", "1.10")) -> list[str]:
    """What breaks the DTD constraints above, or FCP's rule that times are whole frames."""
    root = ET.parse(path).getroot()
    problems: list[str] = []
    text = path.read_text(encoding="utf-8")
    if "<!DOCTYPE fcpxml>" not in text:
        problems.append("no <!DOCTYPE fcpxml>")
    if root.tag != "fcpxml" or root.get("version") not in versions:
        problems.append(f"root {root.tag} version {root.get('version')}")
    for el in root.iter():
        if el.tag in _CHILDREN:
            bad = [c.tag for c in el if c.tag not in _CHILDREN[el.tag]]
            if bad:
                problems.append(f"<{el.tag}> may not hold {bad}")
        missing = _REQUIRED.get(el.tag, set()) - set(el.attrib)
        if missing:
            problems.append(f"<{el.tag}> lacks {sorted(missing)}")
        for attr in _TIME_ATTRS & set(el.attrib):
            if not _TIME.match(el.get(attr, "")):
                problems.append(f"<{el.tag} {attr}={el.get(attr)!r}> is not an FCPXML time")
        if el.get("tcFormat") not in (None, "DF", "NDF"):
            problems.append(f"<{el.tag}> tcFormat {el.get('tcFormat')}")
    if problems or not whole_frames:
        return problems
    fds = {f.get("id"): parse_time(f.get("frameDuration")) for f in root.iter("format")}
    assets = {a.get("id"): a for a in root.iter("asset")}
    ids = [el.get("id") for el in root.iter() if el.get("id")]
    if len(ids) != len(set(ids)):
        problems.append("duplicate ids")

    def check(el: ET.Element, fd: Fraction, attrs: tuple[str, ...]) -> None:
        for attr in attrs:
            if el.get(attr) is not None and (parse_time(el.get(attr)) / fd).denominator != 1:
                problems.append(f"<{el.tag} {attr}={el.get(attr)}> is not a whole number of {fd}s frames")

    for seq in root.iter("sequence"):
        fd = fds[seq.get("format")]
        check(seq, fd, ("duration", "tcStart"))
        for item in seq.find("spine"):
            check(item, fd, ("offset", "duration"))
    # An audio-only asset has no format (the DTD makes it optional); its times count in sequence frames.
    seq_fd = next((fds[seq.get("format")] for seq in root.iter("sequence")), None)
    for asset in assets.values():
        if asset.get("format") is not None and asset.get("format") not in fds:
            problems.append(f"asset {asset.get('id')} refers to missing format {asset.get('format')}")
            continue
        check(asset, fds.get(asset.get("format"), seq_fd), ("start", "duration"))
    for ac in root.iter("asset-clip"):
        if ac.get("ref") not in assets:
            problems.append(f"asset-clip refers to missing {ac.get('ref')}")
            continue
        fd = fds.get(assets[ac.get("ref")].get("format"), seq_fd)
        check(ac, fd, ("start",))
        for m in ac:
            check(m, fd, ("start", "duration"))
    return problems


@pytest.mark.parametrize("version", ["1.10", "1.9"])
@pytest.mark.parametrize("label", [c.label for c in RATE_CASES])
def test_our_fcpxml_meets_the_constraints(label: str, version: str, tmp_path: Path) -> None:
    case = next(c for c in RATE_CASES if c.label == label)
    opts = ExportOptions(fcpxml_version=version, fcpxml_chapter_categories=("tag",))
    path = _write("fcpxml", case_sidecar(case), tmp_path, opts)
    assert fcpxml_violations(path) == []
    root = ET.parse(path).getroot()
    assert root.get("version") == version
    assert root.find(".//chapter-marker") is not None and root.find(".//marker[@completed='0']") is not None


def test_card_fcpxml_with_gaps_meets_the_constraints(tmp_path: Path) -> None:
    a = make_sidecar(name="A.mov", start_tc="10:00:00:00", frames=100, markers=[marker("shot", 5, "a")])
    b = make_sidecar(name="B.mov", start_tc="10:00:10:00", frames=100, markers=[marker("shot", 5, "b")])
    w = get_writer("fcpxml")
    path = w.write(card_timeline([a, b], "card"), tmp_path / "card.fcpxml", OPTS)
    assert fcpxml_violations(path) == []
    spine = ET.parse(path).getroot().find(".//spine")
    assert _tags(spine) == ["asset-clip", "gap", "asset-clip"]


def test_fcpx_sample_is_accepted_by_the_syntax_checks() -> None:
    """The checker agrees with what Final Cut wrote (its audio-sample marker durations aside)."""
    path = NLE / "fcpx" / "fcpx_project.fcpxml"
    assert fcpxml_violations(path, whole_frames=False, versions=("1.8",)) == []


def test_fcpxml_attribute_order_follows_final_cut(tmp_path: Path) -> None:
    sample = ET.parse(NLE / "fcpx" / "fcpx_project.fcpxml").getroot()
    case = next(c for c in RATE_CASES if c.label == "29.97DF")
    ours = ET.parse(_write("fcpxml", case_sidecar(case), tmp_path)).getroot()
    their_marker = next(m for m in sample.iter("marker") if m.get("completed"))
    for tag, theirs in (
        ("format", sample.find(".//format")),
        ("asset", sample.find(".//asset")),
        ("marker", their_marker),
    ):
        assert _in_order([a for a in ours.find(f".//{tag}").attrib if a != "note"], list(theirs.attrib)), tag
    our_marker = ours.find(".//marker[@completed]")
    assert list(our_marker.attrib)[:4] == list(their_marker.attrib)[:4] == ["start", "duration", "value", "completed"]


def test_fcpx_adapter_output_fails_the_checks(tmp_path: Path) -> None:
    """Why FCPXML is written by hand: the adapter leaves frameDuration empty (and writes 1.8)."""
    case = next(c for c in RATE_CASES if c.label == "29.97NDF")
    path = tmp_path / "adapter.fcpxml"
    path.write_text(otio.adapters.write_to_string(clip_timeline(case_sidecar(case)), "fcpx_xml"), encoding="utf-8")
    problems = fcpxml_violations(path)
    assert any("frameDuration" in p for p in problems)


# --------------------------------------------------------------------------- OTIO


def test_otio_markers_match_the_released_schema(tmp_path: Path) -> None:
    """Our markers serialise as Marker.2 with a string colour, like the v0.18.1 sample."""
    import json

    sample = json.loads((NLE / "otio" / "v0.18.1" / "screening_example.otio").read_text())
    their = next(iter(_markers(sample)))
    case = next(c for c in RATE_CASES if c.label == "29.97DF")
    ours = next(iter(_markers(json.loads(_write("otio", case_sidecar(case), tmp_path).read_text()))))
    assert ours["OTIO_SCHEMA"] == their["OTIO_SCHEMA"] == "Marker.2"
    assert isinstance(ours["color"], str) and set(their) <= set(ours)


def _markers(node: object) -> list[dict]:
    out: list[dict] = []
    if isinstance(node, dict):
        if str(node.get("OTIO_SCHEMA", "")).startswith("Marker."):
            out.append(node)
        for v in node.values():
            out += _markers(v)
    elif isinstance(node, list):
        for v in node:
            out += _markers(v)
    return out
