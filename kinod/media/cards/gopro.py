"""GoPro: ``DCIM/100GOPRO`` with one recording split into ~4 GB chapters.

Naming (the chapter number comes before the file number, which is what groups them):

* HERO6 and later: ``GH010123.MP4``, ``GH020123.MP4`` ... (``GX`` for HEVC, ``GS`` for
  360); the low-res copy is ``GL010123.LRV``, the thumbnail ``GH010123.THM``.
* HERO5 and earlier: ``GOPR0123.MP4`` is chapter 1, then ``GP010123.MP4``, ``GP020123.MP4``.

Chapters of one file number are one logical clip, in chapter order. ``.LRV`` and
``.THM`` are the camera's own proxy and thumbnail: skipped, but recorded against
the clip so the card report accounts for them.
"""

from __future__ import annotations

import re

from kinod.media.cards.common import STILL_EXTENSIONS, CardBuilder, CardFile, CardFiles, clip_file
from kinod.media.cards.model import Camera, CardClip

NAME = "gopro"

_NEW = re.compile(r"G([HXSL])(\d{2})(\d{4})", re.IGNORECASE)  # GH010123
_OLD_FIRST = re.compile(r"GOPR(\d{4})", re.IGNORECASE)  # GOPR0123
_OLD_NEXT = re.compile(r"GP(\d{2})(\d{4})", re.IGNORECASE)  # GP010123
_DIR = re.compile(r"(^|/)DCIM/\d{3}GOPRO/", re.IGNORECASE)


def _key(f: CardFile) -> tuple[str, str, int] | None:
    """(series, file number, chapter) for a GoPro file name, or None."""
    stem = f.path.stem
    if m := _NEW.fullmatch(stem):
        kind = m.group(1).upper()
        series = "new-hevc" if kind == "X" else "new-360" if kind == "S" else "new"
        if kind == "L":  # GL = LRV of either H or X recordings
            series = "new-lrv"
        return series, m.group(3), int(m.group(2))
    if m := _OLD_FIRST.fullmatch(stem):
        return "old", m.group(1), 0
    if m := _OLD_NEXT.fullmatch(stem):
        return "old", m.group(2), int(m.group(1))
    return None


def detect(files: CardFiles) -> bool:
    return any(_DIR.search(rel) for rel in files.files) or any(
        _key(f) is not None and f.suffix in (".mp4", ".lrv") for f in files.files.values()
    )


def parse(files: CardFiles, out: CardBuilder) -> None:
    groups: dict[tuple[str, str, str], list[tuple[int, CardFile]]] = {}
    companions: list[tuple[tuple[str, str, str], CardFile]] = []
    for f in sorted(files.unclaimed(), key=lambda f: f.rel):
        key = _key(f)
        if key is None:
            continue
        series, number, chapter = key
        folder = f.rel.rsplit("/", 1)[0] if "/" in f.rel else ""
        if f.suffix in (".mp4", ".360"):
            groups.setdefault((folder, series, number), []).append((chapter, f))
        elif f.suffix in (".lrv", ".thm"):
            companions.append(((folder, series, number), f))
    names: dict[tuple[str, str], str] = {}
    for (folder, _series, number), chapters in sorted(groups.items()):
        chapters.sort(key=lambda c: c[0])
        files_ = [f for _, f in chapters]
        role = "part" if len(files_) > 1 else "av"
        clip = CardClip(name=files_[0].path.stem, family=NAME, files=[clip_file(f, role) for f in files_])
        clip.camera = Camera(make="GoPro")
        clip.metadata["chapters"] = [f.name for f in files_]
        numbers = [c for c, _ in chapters]
        expected = list(range(numbers[0], numbers[0] + len(numbers)))
        if numbers != expected:
            clip.problems.append(f"{clip.name}: chapters {numbers} are not consecutive; a chapter may be missing")
        out.add_clip(clip, files_)
        names[(folder, number)] = clip.name
    for (folder, _series, number), f in companions:
        owner = names.get((folder, number))
        reason = "camera low-res proxy (.LRV)" if f.suffix == ".lrv" else "thumbnail (.THM)"
        out.skip(f, reason, owner)
        if owner is not None:
            clip = out.card.clip(owner)
            if f.suffix == ".lrv":
                clip.camera_proxies.append(f.rel)
    for f in list(files.unclaimed()):
        if _DIR.search(f.rel) and f.suffix in STILL_EXTENSIONS:
            out.skip(f, "still photo")
