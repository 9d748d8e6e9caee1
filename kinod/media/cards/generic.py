"""Everything else: MOV/MP4/MXF folders (Blackmagic, ARRI ProRes, Atomos, phones, exports).

Runs last, so it sees only what no camera family claimed: each remaining media file
is one clip. A same-named XML beside it is read for whatever is recognisable by
name; other non-media files are listed as unknown so the card report still
accounts for them.
"""

from __future__ import annotations

from kinod.media.cards.canon import apply_generic_xml
from kinod.media.cards.common import (
    AUDIO_EXTENSIONS,
    STILL_EXTENSIONS,
    UNDECODABLE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    CardBuilder,
    CardFiles,
    clip_file,
    role_for,
)
from kinod.media.cards.model import CardClip

NAME = "generic"

_SIDECARS = (".xml", ".xmp", ".srt", ".ale", ".cdl", ".cube", ".txt", ".json", ".csv", ".pdf", ".log")


def detect(files: CardFiles) -> bool:
    return True


def parse(files: CardFiles, out: CardBuilder) -> None:
    for f in sorted(files.unclaimed(), key=lambda f: f.rel):
        if f.suffix not in VIDEO_EXTENSIONS and f.suffix not in AUDIO_EXTENSIONS:
            continue
        clip = CardClip(name=f.path.stem, family=NAME, files=[clip_file(f, role_for(f))])
        members = [f]
        folder = f.rel.rsplit("/", 1)[0] if "/" in f.rel else ""
        xml = files.find_ci(folder, f.path.stem + ".XML")
        if xml is not None and xml.rel not in files.claimed:
            members.append(xml)
            clip.sidecars.append(xml.rel)
            apply_generic_xml(clip, xml.path)
        out.add_clip(clip, members)
    for f in list(files.unclaimed()):
        if f.suffix in STILL_EXTENSIONS:
            out.skip(f, "still image")
        elif f.suffix in UNDECODABLE_EXTENSIONS:
            out.skip(f, "camera raw part without a recognisable clip")
        elif f.suffix in _SIDECARS:
            out.skip(f, "sidecar or document (not media)")
