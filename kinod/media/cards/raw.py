"""Camera raw that ffmpeg cannot decode: RED ``.RDC``/``.R3D``, ARRI ``.ari`` sequences, Blackmagic ``.braw``.

These are recorded as clips (so the card report lists every recording with its
parts and sizes, and hashes verify them) but marked not analysed, with the reason.
RED spans one recording over ``<clip>_001.R3D``, ``_002.R3D`` ... inside a ``.RDC``
folder; ARRIRAW writes one ``.ari`` file per frame inside a folder per clip. Each
becomes one clip. ARRIRAW or X-OCN in MXF cannot be told from ProRes MXF by name:
those stay with the generic parser and the integrity check's decode test decides.
"""

from __future__ import annotations

import re

from kinod.media.cards.common import CardBuilder, CardFile, CardFiles, clip_file
from kinod.media.cards.model import Camera, CardClip

NAME = "raw"

_R3D_PART = re.compile(r"(.+)_(\d{3})", re.IGNORECASE)
_ARI_FRAME = re.compile(r"(.+?)[._](\d{4,8})", re.IGNORECASE)

_REASONS = {
    ".r3d": ("RED", "RED R3D: ffmpeg has no decoder; recorded only"),
    ".ari": ("ARRI", "ARRIRAW (.ari): ffmpeg has no decoder; recorded only"),
    ".braw": ("Blackmagic Design", "Blackmagic RAW (.braw): ffmpeg has no decoder; recorded only"),
}


def detect(files: CardFiles) -> bool:
    return any(f.suffix in _REASONS for f in files.files.values())


def parse(files: CardFiles, out: CardBuilder) -> None:
    groups: dict[tuple[str, str, str], list[CardFile]] = {}
    for f in files.unclaimed():
        if f.suffix not in _REASONS:
            continue
        folder = f.rel.rsplit("/", 1)[0] if "/" in f.rel else ""
        stem = f.path.stem
        pattern = _R3D_PART if f.suffix == ".r3d" else _ARI_FRAME if f.suffix == ".ari" else None
        if pattern is not None and (m := pattern.fullmatch(stem)):
            stem = m.group(1)
        groups.setdefault((folder, stem, f.suffix), []).append(f)
    for (folder, stem, suffix), members in sorted(groups.items()):
        members.sort(key=lambda f: f.rel)
        make, reason = _REASONS[suffix]
        role = "part" if len(members) > 1 else "av"
        clip = CardClip(name=stem, family=NAME, files=[clip_file(f, role) for f in members], camera=Camera(make=make))
        clip.analysable = False
        clip.not_analysed_reason = reason
        if suffix == ".ari":
            clip.duration_frames = len(members)
            clip.metadata["frame_files"] = len(members)
        else:
            clip.metadata["parts"] = [f.name for f in members]
        out.add_clip(clip, members)
        for f in list(files.unclaimed()):
            f_folder = f.rel.rsplit("/", 1)[0] if "/" in f.rel else ""
            if (
                f_folder == folder
                and f.suffix in (".rmd", ".rtn", ".sidecar", ".xml", ".ale")
                and (f.path.stem.upper().startswith(stem.upper()))
            ):
                out.skip(f, "camera metadata sidecar", clip.name)
