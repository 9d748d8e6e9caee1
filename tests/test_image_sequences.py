"""Image sequences as clips: DPX, EXR, TIFF, PNG and JPEG frame runs, their rate, timecode and gaps.

Real frames written by ffmpeg (the DPX TV/film header and the EXR attributes set as a
scanner or compositor writes them), scanned by ``kinod scan`` with the shots analyzer:
each run is one clip, its cuts land on the right frames, a deleted frame is a gap.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from fractions import Fraction
from pathlib import Path

import av
import jsonschema
import opentimelineio as otio
import pytest
from seqkit import bcd_time, dpx_headers, exr_attributes, frames

from kinod.cli.main import main
from kinod.export.sidecar import json_schema
from kinod.media.cards import detect_card
from kinod.media.imageseq import ImageSequence, find_sequences
from kinod.media.imageseq_headers import dpx_header
from kinod.media.imageseq_probe import concat_list, sequence_fingerprint

CUTS = [20, 40]  # seqkit.CUT_SEGMENTS: three shots of 20 frames


def _config(tmp: Path, extra: str = "") -> Path:
    cfg = tmp / "kinod.toml"
    cfg.write_text(
        '[output]\nroot = "out"\nformats = ["json", "otio", "fcp7", "fcpxml"]\n[state]\ndir = "var"\n'
        f'[analyzers]\nenabled = ["shots"]\n{extra}'
    )
    return cfg


def _scan(tmp: Path, card: Path, extra: str = "") -> Path:
    assert main(["--config", str(_config(tmp, extra)), "scan", str(card)]) == 0
    return tmp / "out" / card.name


def _sidecar(path: Path) -> dict:
    data = json.loads(path.read_text())
    jsonschema.validate(data, json_schema(), format_checker=jsonschema.FormatChecker())
    return data


def _dpx(folder: Path) -> None:
    for p in frames(folder, "A001C003.%07d.dpx", 86400, args=["-pix_fmt", "gbrp10le"]):
        dpx_headers(p, tc="10:00:00:00", tv_rate=25.0, keycode=("KU", "22", "12", "123456", "7890"), device="Scanity")


def _dpx_film_rate(folder: Path) -> None:
    for p in frames(folder, "R01_%06d.dpx", 86400, args=["-pix_fmt", "rgb48le"]):
        dpx_headers(p, film_rate=24.0)


def _exr(folder: Path) -> None:
    for p in frames(folder, "plate_v002.%04d.exr", 1001, args=["-pix_fmt", "gbrpf32le", "-format", "half"]):
        exr_attributes(p, (24000, 1001), "01:02:03:04")


FORMATS = {
    # name: (make, first frame name, first number, rate, start TC, tc source, rate source)
    "dpx": (_dpx, "A001C003.0086400.dpx", 86400, "25/1", "10:00:00:00", "dpx-header", "dpx-tv-header"),
    "dpx-film": (_dpx_film_rate, "R01_086400.dpx", 86400, "24/1", "01:00:00:00", "frame-number", "dpx-film-header"),
    "tiff16": (lambda f: frames(f, "shot_v002.%04d.tif", 1001, args=["-pix_fmt", "rgb48le"]), "shot_v002.1001.tif",
               1001, "24/1", "00:00:41:17", "frame-number", "cards.sequence_rate"),
    "png": (lambda f: frames(f, "render_%d.png", 1), "render_1.png", 1, "24/1", "00:00:00:01", "frame-number",
            "cards.sequence_rate"),
    "jpeg": (lambda f: frames(f, "plate 01_%05d.jpg", 0), "plate 01_00000.jpg", 0, "24/1", "00:00:00:00",
             "frame-number", "cards.sequence_rate"),
    "exr": (_exr, "plate_v002.1001.exr", 1001, "24000/1001", "01:02:03:04", "exr-header", "exr-header"),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_sequence_is_one_clip_with_rate_tc_cuts_and_gaps(tmp_path: Path, kind: str) -> None:
    make, first_name, first, rate, start_tc, tc_source, rate_source = FORMATS[kind]
    card = tmp_path / "CARD"
    make(card / "SEQ")
    out = _scan(tmp_path, card)
    report = json.loads((out / "card.kino.json").read_text())
    assert [c["family"] for c in report["clips"]] == ["sequence"]
    side = _sidecar(out / "SEQ" / f"{first_name}.kino.json")
    seq = side["sequence"]
    assert (seq["first"], seq["last"], seq["count"], seq["frames"], seq["gaps"]) == (first, first + 59, 60, 60, [])
    assert seq["rate_source"] == rate_source
    tl = side["timeline"]
    assert (tl["rate"], tl["frames"], tl["start_tc"], tl["tc_source"]) == (rate, 60, start_tc, tc_source)
    assert side["decode"]["frames"] == 60
    shots = sorted(m["frame"] for m in side["markers"] if m["category"] == "shot")
    assert [f for f in shots if f > 0] == CUTS

    # A frame deleted in the middle: a gap, reported, the frames after it keep their numbers' places.
    gone = next(p for p in (card / "SEQ").iterdir() if str(first + 30) in p.name)
    gone.unlink()
    out = _scan(tmp_path, card)
    side = _sidecar(out / "SEQ" / f"{first_name}.kino.json")
    seq = side["sequence"]
    assert (seq["count"], seq["frames"], seq["missing"]) == (59, 60, 1)
    assert [(g["first"], g["last"]) for g in seq["gaps"]] == [(first + 30, first + 30)]
    assert side["timeline"]["frames"] == 60 and side["decode"]["frames"] == 60
    assert any("missing" in e["message"] for e in side["errors"])
    shots = sorted(m["frame"] for m in side["markers"] if m["category"] == "shot")
    assert [f for f in shots if f > 0] == CUTS
    report = json.loads((out / "card.kino.json").read_text())
    assert any("missing" in p["message"] for p in report["problems"])


def test_exports_reference_the_frames(tmp_path: Path) -> None:
    card = tmp_path / "CARD"
    _dpx(card / "SCAN")
    out = _scan(tmp_path, card, "[proxy]\nenabled = true\nheight = 240\n")
    side = _sidecar(out / "SCAN" / "A001C003.0086400.dpx.kino.json")
    with av.open(str(out / "SCAN" / "Proxies" / "A001C003.0086400_Proxy.mov")) as proxy:  # from the same pass
        stream = proxy.streams.video[0]
        assert sum(1 for _ in proxy.decode(stream)) == 60
        assert stream.metadata.get("timecode") == "10:00:00:00"
    assert side["sequence"]["header"]["keycode"] == "KU 22 123456 7890+12"
    assert side["sequence"]["header"]["device"] == "Scanity"
    tl = otio.adapters.read_from_file(str(out / "SCAN" / "A001C003.0086400.dpx.otio"))
    clip = next(iter(tl.find_clips()))
    ref = clip.media_reference
    assert isinstance(ref, otio.schema.ImageSequenceReference)
    assert ref.number_of_images_in_sequence() == 60
    assert ref.target_url_for_image_number(0).endswith("/SCAN/A001C003.0086400.dpx")
    assert ref.frame_for_time(clip.source_range.start_time) == 86400
    marks = sorted(m.marked_range.start_time.to_timecode() for m in clip.markers)
    assert "10:00:00:20" in marks and "10:00:01:15" in marks  # frames 20 and 40 at 25 fps
    fcp7 = (out / "SCAN" / "A001C003.0086400.dpx.fcp7.xml").read_text()
    assert "A001C003.0086400.dpx</pathurl>" in fcp7 and "<string>10:00:00:00</string>" in fcp7
    fcpxml = (out / "SCAN" / "A001C003.0086400.dpx.fcpxml").read_text()
    assert 'start="36000s"' in fcpxml and "A001C003.0086400.dpx" in fcpxml


def test_names_make_runs() -> None:
    def runs(names: list[str], size: int = 10) -> list[tuple[str, int, int, int]]:
        found = find_sequences(Path("/c"), [(n, size) for n in names])
        return [(s.pattern, s.first, s.last, s.count) for s, _ in found]

    assert runs(["a.0001.exr", "a.0002.exr", "b.0001.exr", "b.0002.exr"]) == [
        ("a.%04d.exr", 1, 2, 2), ("b.%04d.exr", 1, 2, 2)]  # fmt: skip
    assert runs(["plate_v002.1001.exr", "plate_v002.1002.exr", "plate_v003.1001.exr", "plate_v003.1002.exr"]) == [
        ("plate_v002.%04d.exr", 1001, 1002, 2), ("plate_v003.%04d.exr", 1001, 1002, 2)]  # fmt: skip
    assert runs(["poster.0001.png", "cover_v002.png"]) == []  # single stills stay stills
    assert runs(["f_1.png", "f_2.png", "f_10.png"]) == [("f_%d.png", 1, 10, 3)]
    assert runs(["big.999998.dpx", "big.999999.dpx", "big.1000000.dpx", "big.1000001.dpx"]) == [
        ("big.%d.dpx", 999998, 1000001, 4)]  # fmt: skip
    assert runs(["s-0001.tif", "s-0002.tif", "s-01.tif"]) == [("s-%04d.tif", 1, 2, 2)]
    assert runs(["DCIM/100CANON/IMG_0001.JPG", "DCIM/100CANON/IMG_0002.JPG"]) == []  # a camera's photos
    # a frame of another format in the middle: a still beside the run, its number a gap of the run
    assert runs(["m.0001.dpx", "m.0002.tif", "m.0003.dpx"]) == [("m.%04d.dpx", 1, 3, 2)]
    (seq, _), = find_sequences(Path("/c"), [("x.0001.dpx", 100), ("x.0002.dpx", 0), ("x.0003.dpx", 60),
                                             ("x.0004.dpx", 100), ("x.0007.dpx", 100)])  # fmt: skip
    assert seq.gaps == ((5, 6),) and seq.bad == (2, 3)
    assert any("empty or truncated" in p for p in seq.problems())


def test_frame_list_keeps_every_number_in_its_place() -> None:
    seq = ImageSequence(Path("/f"), "s.", ".dpx", 4, 1, 10, gaps=((4, 5),), bad=(1, 8))
    lines = concat_list(seq, Fraction(24)).splitlines()
    files = [ln.split("/f/")[1].rstrip("'") for ln in lines if ln.startswith("file")]
    durations = [round(float(ln.split()[1]) * 24, 6) for ln in lines if ln.startswith("duration")]
    assert files == ["s.0002.dpx", "s.0003.dpx", "s.0006.dpx", "s.0007.dpx", "s.0009.dpx", "s.0010.dpx"]
    assert durations == [2, 3, 1, 2, 1, 1]  # 0002 also holds the empty 0001; 0003 the gap; 0007 the bad 0008


def test_a_million_frames_stay_small() -> None:
    names = [(f"huge.{n:07d}.dpx", 1000) for n in range(0, 1_000_001) if n != 500_000]
    ((seq, rels),) = find_sequences(Path("/c"), names)
    assert (seq.first, seq.last, seq.count, seq.gaps) == (0, 1_000_000, 1_000_000, ((500_000, 500_000),))
    assert len(rels) == 1_000_000 and len(json.dumps(seq.to_json())) < 1000


def test_fingerprint_samples_frames_and_sees_every_listing_change(tmp_path: Path) -> None:
    folder = tmp_path / "A" / "SEQ"
    frames(folder, "f.%04d.dpx", 1, args=["-pix_fmt", "rgb48le"])
    card = detect_card(tmp_path / "A")
    seq = card.clips[0].sequence
    assert seq is not None and seq.count == 60
    fp = sequence_fingerprint(seq)
    sampled = set(seq.samples(16))
    quiet = next(n for n in seq.numbers() if n not in sampled)
    victim = seq.path(quiet)
    st = victim.stat()
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, same mtime: not read, so not seen (only sampled frames are read)
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert sequence_fingerprint(seq) == fp
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # replaced: a new mtime
    assert sequence_fingerprint(seq) != fp
    moved = tmp_path / "B"
    shutil.move(str(tmp_path / "A"), moved)
    shutil.copy2(moved / "SEQ" / "f.0060.dpx", moved / "SEQ" / "f.0061.dpx")
    grown = detect_card(moved).clips[0].sequence
    assert grown is not None and grown.count == 61 and sequence_fingerprint(grown) != fp


def test_bad_frames_never_stop_the_card(tmp_path: Path) -> None:
    card = tmp_path / "CARD"
    seq = card / "bad seq"
    # take 1 is read frame by frame (it has empty frames; its JPEG is a sampled frame, so named);
    # take 2 by the image2 demuxer, its JPEG unseen until the decode fails on it.
    for take, alien in (("take 1", 18), ("take 2", 12)):
        frames(seq, f"{take}.%04d.png", 1)
        frames(seq / "big", "x.%04d.png", 1, [("testsrc2", 1)], size="640x480")
        shutil.move(str(seq / "big" / "x.0001.png"), seq / f"{take}.0010.png")  # another resolution
        frames(seq / "j", "y.%04d.jpg", 1, [("testsrc2", 1)])
        shutil.move(str(seq / "j" / "y.0001.jpg"), seq / f"{take}.{alien:04d}.png")  # a JPEG named as a frame
    shutil.rmtree(seq / "big")
    shutil.rmtree(seq / "j")
    (seq / "take 1.0030.png").write_bytes(b"")  # zero bytes
    trunc = seq / "take 1.0031.png"
    trunc.write_bytes(trunc.read_bytes()[:200])  # truncated
    raw = os.fsencode(card / "odd") + b"/caf\xe9 "
    os.makedirs(os.fsencode(card / "odd"))
    for p in frames(tmp_path / "src", "o.%03d.png", 1, [("testsrc2", 3)]):
        shutil.copy(p, raw + p.name.encode())
    frames(card / "STILL", "poster.jpg", 1, [("testsrc2", 1)], args=["-update", "1"])
    out = _scan(tmp_path, card)
    for take, how in (("take 1", "concat"), ("take 2", "image2")):
        side = _sidecar(out / "bad seq" / f"{take}.0001.png.kino.json")
        assert side["sequence"]["input"] == how
        assert side["timeline"]["frames"] == 60 and side["decode"]["frames"] == 60
        shots = sorted(m["frame"] for m in side["markers"] if m["category"] == "shot")
        assert [f for f in shots if f > 0] == CUTS  # frames that cannot be decoded keep their places
        assert any("decode errors" in e["message"] for e in side["errors"])  # and are named
    side = _sidecar(out / "bad seq" / "take 1.0001.png.kino.json")
    assert any("mjpeg picture in a png sequence" in p for p in side["sequence"]["problems"])
    assert side["sequence"]["bad"] == [30] and "empty or truncated" in " ".join(side["sequence"]["problems"])
    report = json.loads((out / "card.kino.json").read_text())
    assert sorted(c["family"] for c in report["clips"]) == ["sequence"] * 3
    assert any(s["reason"] == "still image" for s in report["skipped"])
    odd = [c for c in report["clips"] if not c["name"].startswith("take")]
    assert odd and odd[0]["duration_frames"] == 3


def test_big_endian_dpx_header_and_drop_frame_timecode() -> None:
    head = bytearray(b"\xff" * 2048)
    head[0:4] = b"SDPX"
    struct.pack_into(">I", head, 4, 2048)
    struct.pack_into(">II", head, 772, 4096, 3112)
    head[801], head[803] = 3, 10  # logarithmic, 10 bit
    struct.pack_into(">I", head, 1920, bcd_time("01:00:00;02", drop=True))
    struct.pack_into(">f", head, 1940, 29.97)
    facts = dpx_header(bytes(head))
    assert (facts.rate, facts.rate_source) == (Fraction(30000, 1001), "dpx-tv-header")
    assert (facts.start_tc, facts.drop_frame, facts.tc_source) == ("01:00:00;02", True, "dpx-header")
    assert facts.facts["transfer"] == "logarithmic" and facts.facts["bit_depth"] == 10
    assert "keycode" not in facts.facts  # the film header is all 0xFF: not filled in
    assert dpx_header(bytes(head[:4]) + b"\0" * 2044).rate is None  # a header of zeros says nothing
