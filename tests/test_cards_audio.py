"""Sound recorder cards: Broadcast WAV with bext time reference and iXML; poly and split-mono takes."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from cardkit import bwf, ixml

from kinod.media.cards import detect_card
from kinod.media.cards.bwf import BwfError, read_bwf
from kinod.media.probe import probe

# 01:00:00:00 at 48 kHz: 3600 s since midnight.
ONE_HOUR = 3600 * 48000


def test_bwf_chunks_and_timecode(tmp_path: Path) -> None:
    wav = bwf(tmp_path / "T001.WAV", time_reference=ONE_HOUR + 48000 * 10 + 48000 // 2, ixml=ixml())
    info = read_bwf(wav)
    assert (info.channels, info.sample_rate, info.bits) == (2, 48000, 24)
    assert info.originator == "Sound Devices 833" and info.origination_date == "2026-01-01"
    assert (info.scene, info.take, info.tape, info.circled, info.note) == ("12A", "3", "DAY01", True, "good take")
    assert [t.name for t in info.tracks] == ["Boom", "Lav"]
    assert info.tc_rate == Fraction(25)
    assert info.start_tc() == ("01:00:10:12", 90262, False)
    assert info.duration_s == pytest.approx(0.5)


def test_bwf_at_29_97_drop_frame(tmp_path: Path) -> None:
    wav = bwf(tmp_path / "T002.WAV", time_reference=ONE_HOUR, ixml=ixml(rate="30000/1001", flag="DF"))
    label, frames, df = read_bwf(wav).start_tc()  # type: ignore[misc]
    assert (label, frames, df) == ("01:00:00;00", 107892, True)
    pr = probe(wav)
    got = (pr.start_tc, pr.tc_source, pr.drop_frame, pr.rate)
    assert got == ("01:00:00;00", "container", True, Fraction(30000, 1001))
    assert not pr.has_video and pr.audio_channels == 2
    assert pr.bwf is not None and pr.bwf["scene"] == "12A" and pr.bwf["track_names"] == ["Boom", "Lav"]
    assert pr.reel == "DAY01"


def test_description_speed_fallback(tmp_path: Path) -> None:
    wav = bwf(tmp_path / "T003.WAV", time_reference=ONE_HOUR, description="sSPEED=025.00-ND\nsTAKE=7\nsSCENE=4\n")
    info = read_bwf(wav)
    assert info.tc_rate == 25 and info.take == "7" and info.scene == "4"
    assert info.start_tc() == ("01:00:00:00", 90000, False)


def test_recorder_card_groups_split_mono_and_keeps_poly(tmp_path: Path) -> None:
    root = tmp_path / "SOUND_DAY01"
    # Split mono take: three files of one FILE_SET family.
    for i, name in enumerate(["Boom", "Lav1", "Lav2"], start=1):
        bwf(
            root / f"SC12A-T03_{i}.WAV",
            channels=1,
            time_reference=ONE_HOUR,
            ixml=ixml(tracks=(name,), family="FAM-1", total=3, index=i),
        )
    # Split mono by name and equal time reference, no FILE_SET.
    for i in (1, 2):
        bwf(root / f"220101_002_Tr{i}.WAV", channels=1, time_reference=ONE_HOUR * 2, ixml=ixml(tracks=(f"T{i}",)))
    # Same-looking name, different time reference: NOT the same take.
    bwf(root / "220101_003_Tr1.WAV", channels=1, time_reference=ONE_HOUR * 3)
    bwf(root / "220101_003_Tr2.WAV", channels=1, time_reference=ONE_HOUR * 3 + 4800)
    # A polyphonic take.
    bwf(root / "T004.WAV", channels=4, ixml=ixml(tracks=("Boom", "Lav1", "Lav2", "Mix"), take="4"))
    (root / "NOT_A_WAV.WAV").write_bytes(b"ID3 not a riff file")
    card = detect_card(root)
    assert card.families == ["audio"]
    names = [c.name for c in card.clips]
    # A .WAV that is not RIFF stays a clip (the probe says what it is) with the problem recorded.
    assert names == ["220101_002", "220101_003_Tr1", "220101_003_Tr2", "NOT_A_WAV", "SC12A-T03", "T004"]
    fam = card.clip("SC12A-T03")
    assert [(f.path.name, f.channel, f.track_name) for f in fam.files] == [
        ("SC12A-T03_1.WAV", 1, "Boom"),
        ("SC12A-T03_2.WAV", 2, "Lav1"),
        ("SC12A-T03_3.WAV", 3, "Lav2"),
    ]
    assert (fam.scene, fam.take, fam.tape, fam.start_tc, fam.rate) == ("12A", "3", "DAY01", "01:00:00:00", "25/1")
    assert fam.metadata["layout"] == "split-mono"
    assert len(card.clip("220101_002").files) == 2
    poly = card.clip("T004")
    assert poly.metadata["layout"] == "polyphonic" and poly.metadata["track_names"] == ["Boom", "Lav1", "Lav2", "Mix"]
    assert any(p.rel == "NOT_A_WAV.WAV" and "not a WAV" in p.message for p in card.problems)


def test_hostile_ixml_is_refused(tmp_path: Path) -> None:
    from cardkit import BILLION_LAUGHS

    wav = bwf(tmp_path / "T005.WAV", ixml=BILLION_LAUGHS)
    info = read_bwf(wav)
    assert not info.has_ixml and any("hostile" in p and "T005.WAV" in p for p in info.problems)


def test_truncated_and_foreign_files(tmp_path: Path) -> None:
    wav = bwf(tmp_path / "T006.WAV", seconds=1.0, ixml=ixml())
    cut = tmp_path / "T006_cut.WAV"
    cut.write_bytes(wav.read_bytes()[: wav.stat().st_size // 2])
    info = read_bwf(cut)
    assert any("runs past the end" in p for p in info.problems) and info.scene == "12A"
    with pytest.raises(BwfError, match="not a WAV"):
        read_bwf(_write(tmp_path / "x.wav", b"OggS"))


def _write(p: Path, data: bytes) -> Path:
    p.write_bytes(data)
    return p
