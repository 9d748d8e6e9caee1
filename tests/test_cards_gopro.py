"""GoPro chapters: one recording split over several files is one logical clip."""

from __future__ import annotations

from pathlib import Path

import pytest
from cardkit import copy, video

from kinod.media.cards import detect_card


@pytest.fixture(scope="module")
def chapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return video(tmp_path_factory.mktemp("gp") / "chapter.mp4", rate="60000/1001", seconds=0.3)


def _card(root: Path, chapter: Path, names: list[str]) -> Path:
    for n in names:
        copy(chapter, root / "DCIM" / "100GOPRO" / n)
    return root


def test_hero6_chapters_are_joined_in_order(tmp_path: Path, chapter: Path) -> None:
    root = _card(
        tmp_path / "GOPRO",
        chapter,
        ["GH030123.MP4", "GH010123.MP4", "GH020123.MP4", "GL010123.LRV", "GH010123.THM", "GX010124.MP4"],
    )
    (root / "DCIM" / "100GOPRO" / "GOPR0125.JPG").write_bytes(b"\xff\xd8\xff\xd9")
    (root / "MISC").mkdir()
    (root / "MISC" / "version.txt").write_text("HERO9")
    card = detect_card(root)
    assert card.families == ["gopro"]
    assert [c.name for c in card.clips] == ["GH010123", "GX010124"]
    clip = card.clip("GH010123")
    assert [f.path.name for f in clip.files] == ["GH010123.MP4", "GH020123.MP4", "GH030123.MP4"]
    assert clip.spanned and all(f.role == "part" for f in clip.files)
    assert clip.camera.make == "GoPro"
    assert clip.camera_proxies == ["DCIM/100GOPRO/GL010123.LRV"]
    skipped = {s.rel: (s.reason, s.clip) for s in card.skipped}
    assert skipped["DCIM/100GOPRO/GL010123.LRV"] == ("camera low-res proxy (.LRV)", "GH010123")
    assert skipped["DCIM/100GOPRO/GH010123.THM"] == ("thumbnail (.THM)", "GH010123")
    assert skipped["DCIM/100GOPRO/GOPR0125.JPG"][0] == "still photo"
    single = card.clip("GX010124")
    assert not single.spanned and single.files[0].role == "av"
    assert clip.problems == []


def test_old_naming_and_missing_chapter(tmp_path: Path, chapter: Path) -> None:
    root = _card(
        tmp_path / "HERO5",
        chapter,
        ["GOPR0042.MP4", "GP010042.MP4", "GP020042.MP4", "GOPR0042.LRV", "GOPR0043.MP4", "GP020043.MP4"],
    )
    card = detect_card(root)
    a, b = card.clip("GOPR0042"), card.clip("GOPR0043")
    assert [f.path.name for f in a.files] == ["GOPR0042.MP4", "GP010042.MP4", "GP020042.MP4"]
    assert a.camera_proxies == ["DCIM/100GOPRO/GOPR0042.LRV"]
    assert [f.path.name for f in b.files] == ["GOPR0043.MP4", "GP020043.MP4"]
    assert any("not consecutive" in p for p in b.problems)
