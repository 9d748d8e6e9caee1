"""Issue 13: property-based fuzzing of every parser kinod owns.

Each parser is fed valid seeds with random damage (flipped, cut, repeated and
inserted bytes) and plain random bytes. It must return, or raise its own clear
error (a ValueError subclass that names the file) — never anything else, never hang
(a per-example alarm), never expand entities. Derandomized: the same examples every run.
"""

from __future__ import annotations

import signal
import struct
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from cardkit import BILLION_LAUGHS, EXTERNAL_ENTITY, bwf, ixml, p2_xml, sony_xml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinod.config import ConfigError, load_config
from kinod.export.readers import MarkerReadError, read_markers
from kinod.export.writers import writer_classes
from kinod.media.cards import CardError, detect_card
from kinod.media.cards.bwf import BwfError, read_bwf
from kinod.media.cards.dji import TelemetryError, parse_srt
from kinod.media.mhl import MHLError, find_manifests
from kinod.media.timecode import parse_rate, tc_to_frames

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
#: Seconds one example may take before it counts as a hang.
HANG_S = 10
FUZZ = settings(
    max_examples=60,
    deadline=None,  # the alarm below is the per-example limit; a slow CI core must not flake
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class Hang(Exception):
    pass


@contextmanager
def bounded(seconds: float = HANG_S) -> Iterator[None]:
    def alarm(*_: Any) -> None:
        raise Hang(f"parser ran for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@st.composite
def damaged(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with up to 6 random edits, or random bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=2048))
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 4))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == 0 and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == 1:
            del data[pos:]
        elif op == 2:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=32))
        elif op == 3:
            end = min(len(data), pos + draw(st.integers(1, 64)))
            data[pos:pos] = data[pos:end] * draw(st.integers(1, 8))
        else:
            data[pos:pos] = draw(st.sampled_from([b"<", b">", b"&", b"]]>", b"\x00", b"\xff\xfe", b"<!DOCTYPE x [",
                                                  b"&lol9;", b"-->", b"\r\n", b"99999999999999999999"]))
    return bytes(data)


def check(fn: Callable[[], Any], allowed: tuple[type[BaseException], ...], name: str | None) -> None:
    """Run ``fn`` under the alarm; only ``allowed`` errors, naming ``name``, may come out."""
    try:
        with bounded():
            fn()
    except allowed as e:
        assert str(e).strip(), f"{type(e).__name__} without a message"
        if name is not None:
            assert name in str(e), f"{type(e).__name__} does not name the file: {e}"


def _seed_texts(tmp: Path) -> dict[str, list[bytes]]:
    sony = sony_xml(tmp / "s.xml", ltc="40000001", marks=(("_ShotMark1", 7),)).read_bytes()
    p2 = p2_xml(tmp / "p.xml", name="0001AB").read_bytes()
    return {"sony": [sony, BILLION_LAUGHS.encode(), EXTERNAL_ENTITY.encode()],
            "p2": [p2, BILLION_LAUGHS.encode()]}


SEEDS = _seed_texts(Path(tempfile.mkdtemp(prefix="kinod-fuzz-seeds-")))


@FUZZ
@given(data=damaged(SEEDS["sony"]))
def test_sony_xml_sidecar(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    card = tmp_path_factory.mktemp("sony")
    clip = card / "XDROOT" / "Clip"
    clip.mkdir(parents=True)
    (clip / "C0001.MXF").write_bytes(b"\x06\x0e\x2b\x34" + bytes(60))
    (clip / "C0001M01.XML").write_bytes(data)
    check(lambda: detect_card(card), (CardError,), None)


@FUZZ
@given(data=damaged(SEEDS["p2"]))
def test_p2_clip_xml(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    card = tmp_path_factory.mktemp("p2")
    contents = card / "CONTENTS"
    for sub in ("VIDEO", "AUDIO", "CLIP"):
        (contents / sub).mkdir(parents=True)
    (contents / "VIDEO" / "0001AB.MXF").write_bytes(b"\x06\x0e\x2b\x34" + bytes(60))
    (contents / "CLIP" / "0001AB.XML").write_bytes(data)
    check(lambda: detect_card(card), (CardError,), None)


SRT_SEED = (
    b"1\r\n00:00:00,000 --> 00:00:00,033\r\n<font size=\"28\">FrameCnt: 1, DiffTime: 33ms\r\n"
    b"2026-01-01 12:00:00.123\r\n[iso: 100] [shutter: 1/500.0] [fnum: 2.8] [latitude: 47.376887] "
    b"[longitude: 8.541694] [rel_alt: 10.000 abs_alt: 500.123] </font>\r\n\r\n"
    b"2\r\n00:00:01,000 --> 00:00:02,000\r\nF/2.8, SS 500.0, ISO 200, EV 0, GPS (8.5418, 47.3770, 19), D 13.00m\r\n"
)


@FUZZ
@given(data=damaged([SRT_SEED]))
def test_dji_srt(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("dji") / "DJI_0001.SRT"
    path.write_bytes(data)
    check(lambda: parse_srt(path), (TelemetryError,), "DJI_0001.SRT")


def _bwf_seeds() -> list[bytes]:
    tmp = Path(tempfile.mkdtemp(prefix="kinod-fuzz-bwf-"))
    a = bwf(tmp / "a.wav", seconds=0.01, ixml=ixml()).read_bytes()
    b = bwf(tmp / "b.wav", seconds=0.01, ixml=BILLION_LAUGHS).read_bytes()
    rf64 = b"RF64" + struct.pack("<I", 0xFFFFFFFF) + b"WAVEds64" + struct.pack("<IQQQI", 28, 2**40, 2**40, 0, 0)
    return [a, b, rf64]


@FUZZ
@given(data=damaged(_bwf_seeds()))
def test_bwf_bext_ixml(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("bwf") / "T001.WAV"
    path.write_bytes(data)
    check(lambda: read_bwf(path), (BwfError,), "T001.WAV")


LEGACY_MHL = (
    b'<?xml version="1.0" encoding="UTF-8"?><hashlist version="1.1"><creatorinfo><name>dit</name></creatorinfo>'
    b"<hash><file>A001/C001.MOV</file><size>4</size><xxhash64be>0123456789abcdef</xxhash64be>"
    b"<md5>d41d8cd98f00b204e9800998ecf8427e</md5></hash></hashlist>"
)
ASC_MHL = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<hashlist version="2.0" xmlns="urn:ASC:MHL:v2.0"><hashes>'
    b'<hash><path size="4">C001.MOV</path><xxh64 action="original">0123456789abcdef</xxh64></hash>'
    b"</hashes></hashlist>"
)


@FUZZ
@given(data=damaged([LEGACY_MHL, ASC_MHL, BILLION_LAUGHS.encode()]), asc=st.booleans())
def test_mhl(tmp_path_factory: pytest.TempPathFactory, data: bytes, asc: bool) -> None:
    card = tmp_path_factory.mktemp("mhl")
    (card / "C001.MOV").write_bytes(b"abcd")
    if asc:
        (card / "ascmhl").mkdir()
        (card / "ascmhl" / "0001_card.mhl").write_bytes(data)
        (card / "ascmhl" / "ascmhl_chain.xml").write_bytes(
            b'<ascmhldirectory xmlns="urn:ASC:MHL:DIRECTORY:v2.0"><hashlist sequencenr="1">'
            b"<path>0001_card.mhl</path><c4>c4</c4></hashlist></ascmhldirectory>"
        )
    else:
        (card / "card.mhl").write_bytes(data)
    check(lambda: find_manifests(card), (MHLError,), None)


def _nle_seeds() -> list[bytes]:
    seeds = [p.read_bytes() for p in sorted((FIXTURES / "nle").rglob("*")) if p.is_file()] if FIXTURES.is_dir() else []
    seeds.append(
        b"TITLE: A001\nFCM: NON-DROP FRAME\n\n001  AX       V     C        01:00:00:00 01:00:01:00 "
        b"00:00:00:00 00:00:01:00\n |C:ResolveColorBlue |M:shot 1 |D:1\n* FROM CLIP NAME: C001.MOV\n"
    )
    seeds.append(b"Name,Start TC,Duration TC,Color,Description\nshot,01:00:00:00,00:00:01:00,Red,x\n")
    seeds.append(BILLION_LAUGHS.encode())
    return seeds


NLE_SEEDS = _nle_seeds()
READERS = sorted(writer_classes())


@pytest.mark.parametrize("fmt", READERS)
def test_nle_readers(fmt: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    cls = writer_classes()[fmt]

    @FUZZ
    @given(data=damaged(NLE_SEEDS))
    def run(data: bytes) -> None:
        path = tmp_path_factory.mktemp("nle") / ("in" + cls.suffix)
        path.write_bytes(data)
        check(lambda: read_markers(fmt, path, Fraction(25)), (MarkerReadError,), str(path))

    run()


CONFIG_SEED = (REPO / "config.toml").read_bytes()


@FUZZ
@given(data=damaged([CONFIG_SEED, b'[watch]\nsettle_seconds = 5\n[[watch.roots]]\npath = "/x"\n']))
def test_config_loader(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("cfg") / "kinod.toml"
    path.write_bytes(data)
    check(lambda: load_config(path), (ConfigError,), "kinod.toml")


TC_TEXT = st.one_of(
    st.text(max_size=24),
    st.from_regex(r"\A-?[0-9]{1,3}[:;.,][0-9]{1,3}[:;.,][0-9]{1,3}[:;.,][0-9]{1,4}\Z"),
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(tc=TC_TEXT, rate=st.sampled_from([Fraction(24000, 1001), Fraction(25), Fraction(30000, 1001), Fraction(60)]),
       drop=st.sampled_from([None, True, False]), rate_text=st.text(max_size=16))
def test_timecode_strings(tc: str, rate: Fraction, drop: bool | None, rate_text: str) -> None:
    check(lambda: tc_to_frames(tc, rate, drop), (ValueError,), None)
    check(lambda: parse_rate(rate_text), (ValueError,), None)
