"""Content fingerprints: recognise a clip by what it contains, not where it lives.

Hashing a whole 200 GB camera original over SMB would take longer than analysing it,
so the fingerprint is the size plus xxh3-128 of the first and last MiB (and one in
the middle for files over 1 GiB). Camera files carry unique headers and trailers
(timestamps, UMIDs, moov atoms), so two different clips practically never collide,
and a renamed or moved clip keeps its fingerprint and is not analysed again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import xxhash

from kinod.media.imageseq import ImageSequence
from kinod.media.imageseq_probe import sequence_fingerprint

BLOCK = 1 << 20
LARGE = 1 << 30


def fingerprint(path: Path) -> str:
    size = os.path.getsize(path)
    h = xxhash.xxh3_128()
    h.update(str(size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(BLOCK))
        if size > LARGE:
            fh.seek(size // 2)
            h.update(fh.read(BLOCK))
        if size > BLOCK:
            fh.seek(max(BLOCK, size - BLOCK))
            h.update(fh.read(BLOCK))
    return f"{size:x}-{h.hexdigest()}"


def clip_fingerprint(parts: Sequence[Path], sequence: ImageSequence | None = None) -> str:
    """The content identity of a clip: its file's fingerprint, or for a spanned recording
    one made of every chapter's in order (cheap: each reads only head and tail blocks);
    an image sequence's from its listing and sampled frames (:func:`sequence_fingerprint`)."""
    if sequence is not None:
        return sequence_fingerprint(sequence)
    if len(parts) == 1:
        return fingerprint(parts[0])
    h = xxhash.xxh3_128()
    total = 0
    for p in parts:
        f = fingerprint(p)
        total += int(f.split("-", 1)[0], 16)
        h.update(f.encode())
    return f"{total:x}-{h.hexdigest()}"
