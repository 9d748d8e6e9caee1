"""Cameras that rolled together become one multicam group, each angle at its place.

Evidence, strongest first, as edges between two picture clips of different cameras:
both have timecode and their spans overlap (exact); both are synced to the same
recorder take (exact through the take's samples); or their scratch tracks correlate
(coarse then full rate). A group is a connected set of such edges; positions follow
the edges from one clip, and the earliest angle starts the group at 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from kinod.export.sync_model import Angle, MulticamGroup, PictureClip, SoundFile, SyncedClip
from kinod.sync.align import Aligner

#: Two cameras are grouped by their scratch sound alone only when they share this much of it:
#: a short overlap can be one line said alike in another take (the ends of a 10 s overlap can
#: both fall inside one sentence).
MIN_SCRATCH_OVERLAP_S = 20.0


@dataclass
class _Edge:
    a: int
    b: int
    #: Start of ``b`` minus start of ``a`` (seconds).
    delta: Fraction
    method: str
    confidence: float


def group_cameras(clips: list[SyncedClip], aligner: Aligner, min_confidence: float = 0.25) -> list[MulticamGroup]:
    pics = [c.picture for c in clips]
    edges = _timecode_edges(pics) + _shared_take_edges(clips)
    linked = {(e.a, e.b) for e in edges} | {(e.b, e.a) for e in edges}
    for i, a in enumerate(pics):
        for j in range(i + 1, len(pics)):
            b = pics[j]
            if a.camera == b.camera or (i, j) in linked or not (a.audio_channels and b.audio_channels):
                continue
            edge = _waveform_edge(aligner, i, a, j, b, min_confidence)
            if edge is not None:
                edges.append(edge)
    return _groups(clips, edges)


def _timecode_edges(pics: list[PictureClip]) -> list[_Edge]:
    out = []
    for i, a in enumerate(pics):
        for j in range(i + 1, len(pics)):
            b = pics[j]
            if a.camera == b.camera or not (a.has_timecode and b.has_timecode):
                continue
            if min(a.start_s + a.duration_s, b.start_s + b.duration_s) > max(a.start_s, b.start_s):
                out.append(_Edge(i, j, b.start_s - a.start_s, "timecode", 1.0))
    return out


def _shared_take_edges(clips: list[SyncedClip]) -> list[_Edge]:
    """Two cameras synced to one take: camera start = take start - offset, for both."""
    out = []
    for i, a in enumerate(clips):
        for j in range(i + 1, len(clips)):
            b = clips[j]
            if a.picture.camera == b.picture.camera:
                continue
            for ma in a.synced:
                for mb in b.synced:
                    if ma.sound.path == mb.sound.path:
                        conf = min(ma.confidence, mb.confidence)
                        method = "timecode" if ma.method == mb.method == "timecode" else "waveform"
                        out.append(_Edge(i, j, ma.offset_s - mb.offset_s, method, conf))
                        break
    return out


def _waveform_edge(aligner: Aligner, i: int, a: PictureClip, j: int, b: PictureClip, min_conf: float) -> _Edge | None:
    """Scratch against scratch: ``b`` played as if it were a recorder take of ``a``."""
    as_take = SoundFile(b.path, b.name, a.audio_rate or 48000, 1, int(float(b.duration_s) * (a.audio_rate or 48000)))
    coarse = aligner.coarse(a, as_take)
    if coarse is None or coarse.confidence < min_conf or coarse.peak < 0.2:
        return None
    placed = aligner.place(a, as_take, coarse)
    if placed is None:
        return None
    off_s = placed.offset_samples / as_take.sample_rate
    overlap = min(float(a.duration_s), off_s + float(b.duration_s)) - max(0.0, off_s)
    if overlap < MIN_SCRATCH_OVERLAP_S or not aligner.verify(a, as_take, placed.offset_samples)[0]:
        return None  # one stretch alike (the same line, the same music) does not make two cameras one scene
    return _Edge(i, j, Fraction(placed.offset_samples, as_take.sample_rate), "waveform", coarse.confidence)


def _groups(clips: list[SyncedClip], edges: list[_Edge]) -> list[MulticamGroup]:
    adjacency: dict[int, list[tuple[int, Fraction, _Edge]]] = {}
    for e in edges:
        adjacency.setdefault(e.a, []).append((e.b, e.delta, e))
        adjacency.setdefault(e.b, []).append((e.a, -e.delta, e))
    seen: set[int] = set()
    groups = []
    for root in sorted(adjacency):
        if root in seen:
            continue
        pos: dict[int, tuple[Fraction, _Edge | None]] = {root: (Fraction(0), None)}
        queue = [root]
        while queue:
            n = queue.pop(0)
            for m, delta, e in adjacency.get(n, []):
                if m not in pos:
                    pos[m] = (pos[n][0] + delta, e)
                    queue.append(m)
        seen |= set(pos)
        groups.append(_group(clips, pos, len(groups) + 1))
    return [g for g in groups if len({a.picture.camera for a in g.angles}) > 1]


def _group(clips: list[SyncedClip], pos: dict[int, tuple[Fraction, _Edge | None]], number: int) -> MulticamGroup:
    first = min(p for p, _e in pos.values())
    angles, sounds, seen_sounds = [], [], set()
    # The first clip has no edge of its own: it is placed by the edge that placed its neighbour.
    some_edge = next((e for _p, e in pos.values() if e is not None), None)
    for idx, (at, own_edge) in sorted(pos.items(), key=lambda kv: (kv[1][0], kv[0])):
        clip = clips[idx]
        edge = own_edge or some_edge
        method, conf = (edge.method, edge.confidence) if edge else ("timecode", 1.0)
        angles.append(Angle(clip.picture, at - first, method, conf))  # type: ignore[arg-type]
        for m in clip.synced:
            if m.sound.path not in seen_sounds:
                seen_sounds.add(m.sound.path)
                sounds.append((m.sound, at - first + m.offset_s))
    name = f"Multicam {number:03d} {angles[0].picture.name}"
    return MulticamGroup(name, angles, sounds)
