"""Camera sidecar of a single media file, for the probe.

:func:`kinod.media.cards.detect_card` reads sidecars for a whole card; the probe is
often called on one file (``kinod scan`` of a loose clip, a re-probe), and should
still prefer the camera's XML timecode to the container's. This finds the sidecar
the camera wrote for that one file by its layout rules, without scanning the card.
"""

from __future__ import annotations

import re
from pathlib import Path

from kinod.media.cards import canon, p2, sony
from kinod.media.cards.model import CardClip


def _ci(folder: Path, name: str) -> Path | None:
    try:
        for p in folder.iterdir():
            if p.name.lower() == name.lower() and p.is_file():
                return p
    except OSError:
        return None
    return None


def sidecar_clip_for(media: Path) -> CardClip | None:
    """A CardClip holding what the camera sidecar of ``media`` says, or None if it has none.

    Sidecar problems (malformed, hostile XML) are in the clip's ``problems``; this never raises.
    """
    parent = media.parent
    upper = [p.upper() for p in media.parts]
    stem = media.stem
    clip = CardClip(name=stem, family="sidecar")
    if len(upper) >= 3 and upper[-3] == "CONTENTS" and upper[-2] in ("VIDEO", "AUDIO"):
        name = stem[:-2] if upper[-2] == "AUDIO" and re.fullmatch(r".+\d\d", stem) else stem
        xml = _ci(parent.parent / _real_name(parent.parent, "CLIP"), name + ".XML")
        if xml is not None:
            try:
                meta = p2.parse_clip_xml(xml)
            except ValueError as e:
                clip.problems.append(str(e))
            else:
                p2.apply_meta(clip, meta)
            clip.sidecars.append(str(xml))
            return clip
        return None
    xml = _ci(parent, stem + "M01.XML")
    if xml is not None:
        clip.family = "sony"
        sony.apply_nrt(clip, xml)
        clip.sidecars.append(str(xml))
        return clip
    if any(re.fullmatch(r"CLIPS\d{3}", p) or re.fullmatch(r"\d{3}CANON", p) for p in upper[:-1]):
        xml = _ci(parent, stem + ".XML")
        if xml is None and len(upper) >= 2 and re.fullmatch(r"CLIPS\d{3}", upper[-3] if len(upper) >= 3 else ""):
            xml = _ci(parent, parent.name + ".XML")
        if xml is not None:
            clip.family = "canon"
            canon.apply_generic_xml(clip, xml)
            clip.sidecars.append(str(xml))
            return clip
    return None


def _real_name(folder: Path, name: str) -> str:
    found = _ci_dir(folder, name)
    return found or name


def _ci_dir(folder: Path, name: str) -> str | None:
    try:
        for p in folder.iterdir():
            if p.name.lower() == name.lower() and p.is_dir():
                return p.name
    except OSError:
        return None
    return None
