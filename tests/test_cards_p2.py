"""Panasonic P2: OP-Atom video + one MXF per audio channel + clip XML form one clip."""

from __future__ import annotations

from pathlib import Path

import pytest
from cardkit import copy, p2_card, p2_xml

from kinod.media.cards import detect_card
from kinod.media.probe import probe


@pytest.fixture(scope="module")
def p2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return p2_card(tmp_path_factory.mktemp("p2") / "P2_CARD_01", channels=2)


def test_video_and_split_audio_are_one_clip(p2: Path) -> None:
    card = detect_card(p2)
    assert card.families == ["p2"]
    assert len(card.clips) == 1
    clip = card.clips[0]
    assert clip.name == "0001AB"
    assert [(f.rel, f.role, f.channel) for f in clip.files] == [
        ("CONTENTS/VIDEO/0001AB.MXF", "video", None),
        ("CONTENTS/AUDIO/0001AB00.MXF", "audio", 1),
        ("CONTENTS/AUDIO/0001AB01.MXF", "audio", 2),
    ]
    assert clip.primary == p2 / "CONTENTS/VIDEO/0001AB.MXF"
    assert (clip.start_tc, clip.drop_frame, clip.tc_source, clip.rate) == (
        "01:00:00;00",
        True,
        "camera-xml",
        "30000/1001",
    )
    assert clip.user_clip_name == "Interview A"
    assert (clip.camera.make, clip.camera.model, clip.camera.serial) == ("Panasonic", "AJ-PX800G", "P2SN0042")
    assert [m.name for m in clip.marks] == ["Shot mark"]
    assert clip.problems == []
    skipped = {s.rel: s for s in card.skipped}
    assert skipped["CONTENTS/ICON/0001AB.BMP"].clip == "0001AB"
    assert skipped["LASTCLIP.TXT"].reason == "P2 card housekeeping"
    assert card.unknown == []


def test_probe_of_the_essences_uses_the_clip_xml(p2: Path) -> None:
    v = probe(p2 / "CONTENTS/VIDEO/0001AB.MXF")
    # The essence itself says 00:00:00;00; the clip XML says 01:00:00;00.
    assert (v.start_tc, v.tc_source, v.drop_frame) == ("01:00:00;00", "camera-xml", True)
    assert v.clip_name == "Interview A" and v.camera_serial == "P2SN0042"
    assert v.has_video and v.audio_channels == 0
    a = probe(p2 / "CONTENTS/AUDIO/0001AB01.MXF")
    assert not a.has_video and a.audio_channels == 1 and a.audio[0].sample_rate == 48000
    assert a.clip_name == "Interview A"


def test_audio_count_mismatch_and_missing_xml(tmp_path: Path, p2: Path) -> None:
    root = tmp_path / "P2B"
    for rel in ("CONTENTS/VIDEO/0001AB.MXF", "CONTENTS/AUDIO/0001AB00.MXF"):
        copy(p2 / rel, root / rel)
    p2_xml(root / "CONTENTS/CLIP/0001AB.XML", name="0001AB", audio_channels=4)
    copy(p2 / "CONTENTS/VIDEO/0001AB.MXF", root / "CONTENTS/VIDEO/0002CD.MXF")
    card = detect_card(root)
    a, b = card.clip("0001AB"), card.clip("0002CD")
    assert any("lists 4 audio channels, 1 found" in p for p in a.problems)
    assert any("no clip XML" in p for p in b.problems) and b.start_tc is None


def test_spanned_shot_is_joined(tmp_path: Path, p2: Path) -> None:
    root = tmp_path / "P2C"
    for name, offset in (("0003EF", 0), ("0004EF", 15)):
        copy(p2 / "CONTENTS/VIDEO/0001AB.MXF", root / f"CONTENTS/VIDEO/{name}.MXF")
        copy(p2 / "CONTENTS/AUDIO/0001AB00.MXF", root / f"CONTENTS/AUDIO/{name}00.MXF")
        p2_xml(
            root / f"CONTENTS/CLIP/{name}.XML",
            name=name,
            audio_channels=1,
            global_shot_id="SHOT-42",
            offset_in_shot=offset,
        )
    card = detect_card(root)
    assert [c.name for c in card.clips] == ["0003EF"]
    clip = card.clips[0]
    assert clip.spanned
    assert [f.rel for f in clip.files if f.role == "part"] == ["CONTENTS/VIDEO/0003EF.MXF", "CONTENTS/VIDEO/0004EF.MXF"]
    assert clip.metadata["spanned_clips"] == ["0003EF", "0004EF"]
    assert clip.duration_frames == 30


def test_malformed_clip_xml_keeps_the_essences(tmp_path: Path, p2: Path) -> None:
    root = tmp_path / "P2D"
    copy(p2 / "CONTENTS/VIDEO/0001AB.MXF", root / "CONTENTS/VIDEO/0001AB.MXF")
    (root / "CONTENTS/CLIP").mkdir(parents=True)
    (root / "CONTENTS/CLIP/0001AB.XML").write_text("<P2Main><ClipContent><ClipName>0001AB</ClipName>")
    card = detect_card(root)
    clip = card.clip("0001AB")
    assert [f.role for f in clip.files] == ["video"]
    assert any("0001AB.XML" in p and "malformed" in p for p in clip.problems)
    v = probe(root / "CONTENTS/VIDEO/0001AB.MXF")
    assert v.tc_source == "container" and any("malformed" in w for w in v.warnings)
