"""MHL verification: ASC MHL chains and legacy .mhl, read-only, failing loudly with file names."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import xxhash
from cardkit import BILLION_LAUGHS, tree_digest, write_ascmhl, xxh64

from kinod.media.mhl import c4_of_digest, hash_file, verify_card


@pytest.fixture
def card(tmp_path: Path) -> Path:
    root = tmp_path / "A002_CARD"
    (root / "Clip").mkdir(parents=True)
    (root / "Clip" / "C0001.MXF").write_bytes(b"essence one " * 5000)
    (root / "Clip" / "C0002.MXF").write_bytes(b"essence two " * 7000)
    (root / "Clip" / "C0001M01.XML").write_text("<NonRealTimeMeta/>")
    return root


def _entries(root: Path, algo: str = "xxh64") -> dict[str, dict[str, str]]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and "ascmhl" not in p.parts:
            out[p.relative_to(root).as_posix()] = {algo: hash_file(p, [algo])[algo]}
    return out


@pytest.mark.parametrize("algo", ["xxh64", "xxh128", "xxh3", "md5", "sha1", "c4"])
def test_correct_ascmhl_passes_and_card_is_untouched(card: Path, algo: str) -> None:
    write_ascmhl(card, _entries(card, algo))
    before = tree_digest(card)
    result = verify_card(card)
    assert result.status == "passed", result.failures
    assert result.ok and sorted(result.checked) == ["Clip/C0001.MXF", "Clip/C0001M01.XML", "Clip/C0002.MXF"]
    assert result.manifests == ["ascmhl/0001_A002_CARD_2026-01-01_100000Z.mhl"]
    assert result.hashes["Clip/C0001.MXF"]["xxh64"] == xxh64(card / "Clip/C0001.MXF")
    assert result.unlisted == []
    assert tree_digest(card) == before


def test_wrong_hash_fails_naming_the_file(card: Path) -> None:
    entries = _entries(card)
    entries["Clip/C0002.MXF"]["xxh64"] = "0123456789abcdef"
    write_ascmhl(card, entries)
    before = tree_digest(card)
    result = verify_card(card)
    assert result.status == "failed" and not result.ok
    assert [(f.rel, f.kind) for f in result.failures] == [("Clip/C0002.MXF", "mismatch")]
    assert "C0002.MXF" in result.failures[0].message and "0123456789abcdef" in result.failures[0].message
    assert "C0002.MXF" in result.summary()
    assert tree_digest(card) == before


def test_missing_file_and_size_mismatch(card: Path) -> None:
    write_ascmhl(card, _entries(card))
    (card / "Clip" / "C0001M01.XML").unlink()
    with open(card / "Clip" / "C0001.MXF", "ab") as fh:
        fh.write(b"!")
    (card / "Clip" / "C0009.MXF").write_bytes(b"added after offload")
    result = verify_card(card)
    kinds = {(f.rel, f.kind) for f in result.failures}
    assert ("Clip/C0001M01.XML", "missing") in kinds
    assert ("Clip/C0001.MXF", "size") in kinds and ("Clip/C0001.MXF", "mismatch") in kinds
    assert result.unlisted == ["Clip/C0009.MXF"]


def test_tampered_manifest_fails_the_chain(card: Path) -> None:
    gen = write_ascmhl(card, _entries(card))
    gen.write_text(gen.read_text().replace("<hostname>dit</hostname>", "<hostname>evil</hostname>"))
    result = verify_card(card)
    assert result.status == "failed"
    assert result.failures[0].kind == "manifest" and "changed after it was written" in result.failures[0].message


def test_hostile_and_escaping_manifests(card: Path) -> None:
    entries = _entries(card)
    entries["../../etc/passwd"] = {"xxh64": "00"}
    write_ascmhl(card, entries)
    result = verify_card(card)
    assert [(f.rel, f.kind) for f in result.failures] == [("../../etc/passwd", "unsafe-path")]
    (card / "old.mhl").write_text(BILLION_LAUGHS)
    result = verify_card(card)
    assert any(f.kind == "manifest" and "old.mhl" in f.message and "hostile" in f.message for f in result.failures)


def _legacy(root: Path, entries: list[tuple[str, str, str]]) -> Path:
    def size(rel: str) -> int:
        p = root / rel.removeprefix(root.name + "/")
        return p.stat().st_size if p.exists() else 0

    hashes = "".join(
        f"<hash><file>{rel}</file><size>{size(rel)}</size>"
        f"<lastmodificationdate>2026-01-01T10:00:00Z</lastmodificationdate><{tag}>{value}</{tag}>"
        "<hashdate>2026-01-01T10:00:00Z</hashdate></hash>"
        for rel, tag, value in entries
    )
    path = root / "A002_CARD_2026-01-01_100000.mhl"
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><hashlist version="1.1"><creatorinfo><name>DIT</name>'
        f"<tool>Silverstack</tool></creatorinfo>{hashes}</hashlist>"
    )
    return path


def test_legacy_mhl_formats(card: Path) -> None:
    one, two, xml = (card / "Clip" / n for n in ("C0001.MXF", "C0002.MXF", "C0001M01.XML"))
    le = bytes.fromhex(xxhash.xxh64(two.read_bytes()).hexdigest())[::-1].hex()
    _legacy(
        card,
        [
            ("Clip/C0001.MXF", "md5", hashlib.md5(one.read_bytes()).hexdigest().upper()),
            ("A002_CARD/Clip/C0002.MXF", "xxhash64", le),  # listed from the card's parent folder
            ("Clip/C0001M01.XML", "xxhash", str(xxhash.xxh32(xml.read_bytes()).intdigest())),
        ],
    )
    result = verify_card(card)
    assert result.status == "passed", result.failures
    assert result.hashes["Clip/C0002.MXF"]["xxh64"] == xxh64(two)
    _legacy(card, [("Clip/C0001.MXF", "xxhash64be", xxh64(one)), ("Clip/C0002.MXF", "sha1", "ff" * 20)])
    result = verify_card(card)
    assert [(f.rel, f.kind, f.algo) for f in result.failures] == [("Clip/C0002.MXF", "mismatch", "sha1")]


def test_no_manifest_records_xxh64_of_every_file(card: Path) -> None:
    result = verify_card(card)
    assert result.status == "none" and result.ok
    assert set(result.hashes) == {"Clip/C0001.MXF", "Clip/C0002.MXF", "Clip/C0001M01.XML"}
    assert all(h["xxh64"] == xxh64(card / rel) for rel, h in result.hashes.items())


def test_c4_matches_the_reference_encoding() -> None:
    # C4 id of the empty input (from the C4 spec's test vectors).
    expected = "c459dsjfscH38cYeXXYogktxf4Cd9ibshE3BHUo6a58hBXmRQdZrAkZzsWcbWtDg5oQstpDuni4Hirj75GEmTc1sFT"
    assert c4_of_digest(hashlib.sha512(b"").digest()) == expected


def test_recording_nothing_reads_nothing_without_a_manifest(card: Path) -> None:
    result = verify_card(card, record=())
    assert result.status == "none" and result.hashes == {} and result.bytes_read == 0
