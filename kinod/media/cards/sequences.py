"""Numbered image sequences (DPX scans, EXR plates, TIFF/PNG/JPEG renders): one clip per run of frames.

Runs before the generic parser, so frames are claimed as one clip each run rather
than left as stills. Which names make a run is :func:`kinod.media.imageseq.find_sequences`;
a run's gaps and empty or truncated frames are problems of its clip, so the card
report names them.
"""

from __future__ import annotations

from kinod.media.cards.common import CardBuilder, CardFiles, clip_file
from kinod.media.cards.model import CardClip
from kinod.media.imageseq import SEQUENCE_EXTENSIONS, find_sequences

NAME = "sequence"


def detect(files: CardFiles) -> bool:
    return any(f.suffix in SEQUENCE_EXTENSIONS for f in files.unclaimed())


def parse(files: CardFiles, out: CardBuilder) -> None:
    pool = [(f.rel, f.size) for f in files.unclaimed() if f.suffix in SEQUENCE_EXTENSIONS]
    for seq, rels in find_sequences(files.root, pool):
        first = files.files[rels[0]]
        clip = CardClip(name=seq.clip_name, family=NAME, files=[clip_file(first, "video")], sequence=seq)
        clip.problems.extend(seq.problems())
        clip.metadata["pattern"] = seq.pattern
        out.add_clip(clip, (files.files[r] for r in rels))
