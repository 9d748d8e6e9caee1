"""A spanned recording (GoPro chapters, spans): one clip over several files, in order.

Why one clip: the camera split one take at a file-size limit; editors and the NLEs
join the chapters again. So the decode pass reads them as one input (ffmpeg's concat
demuxer, no re-encode), frame numbers run over the whole recording, and each marker
also says which file it lies in and its frame there (:func:`place`), so per-file
markers land on the right frame when an editor relinks the chapter files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kinod.media.probe import Probe, ProbeError, probe


@dataclass(frozen=True)
class Part:
    """One file of a spanned recording and where it starts on the recording's timeline."""

    path: Path
    start_frame: int
    frames: int
    duration_s: float
    size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "name": self.path.name,
            "start_frame": self.start_frame,
            "frames": self.frames,
            "duration_s": round(self.duration_s, 6),
            "size": self.size,
        }


def probe_span(parts: Sequence[Path], audio: Sequence[Path] = (), **kwargs: Any) -> tuple[Probe, list[Part]]:
    """The recording's probe (the first file's facts, frames and duration over every file)
    and its parts. A single file is its own one part.

    ``audio``: separate audio essences (P2 OP-Atom); the clip's sound is theirs, one
    stream each in order, as the decode pass merges them.
    """
    first = probe(parts[0], **kwargs)
    if audio:
        streams = []
        for a in audio:
            pa = probe(a, camera_sidecar=False)
            if not pa.audio:
                raise ProbeError(f"{a}: audio essence of {parts[0].name} has no audio stream")
            streams.append(pa.audio[0])
        first = replace(first, audio=streams)
    out = [Part(Path(parts[0]), 0, first.frames, first.duration_s, first.size)]
    for p in parts[1:]:
        pr = probe(p, camera_sidecar=False)
        prev = out[-1]
        out.append(Part(Path(p), prev.start_frame + prev.frames, pr.frames, pr.duration_s, pr.size))
    if len(out) == 1:
        return first, out
    total = replace(
        first,
        frames=sum(x.frames for x in out),
        duration_s=sum(x.duration_s for x in out),
        size=sum(x.size for x in out),
    )
    return total, out


def place(frame: int, parts: Sequence[dict[str, Any]]) -> tuple[str, int] | None:
    """(file name, frame in that file) of a recording frame, from ``Part.to_json`` records."""
    for p in reversed(parts):
        if frame >= int(p["start_frame"]):
            return str(p["name"]), frame - int(p["start_frame"])
    return None
