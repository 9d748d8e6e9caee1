"""Following faces from sample to sample, and filling every frame of a track.

Detection runs on sampled frames only. Between samples a face is followed by box
overlap (IoU) and, where an embedding is at hand, by appearance: the same face in
nearby frames had cosine >= 0.83 (5th percentile) with FaceNet, two people in one
frame <= 0.65, so ``same_face`` = 0.6 rejects a swap without splitting a turning
head. Tracks end at shot cuts and after ``max_gap`` samples without their face.
:func:`fill` then gives a box to every frame from a track's first to its last sample,
linearly interpolated and flagged as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kinod.analyzers.faces.types import Face, cosine, iou


@dataclass
class Sighting:
    frame: int
    face: Face
    embedding: np.ndarray | None = None
    quality: float = 0.0


@dataclass
class Track:
    id: int
    sightings: list[Sighting] = field(default_factory=list)
    missed: int = 0
    #: Frame of the first picture of the track's shot when it starts right after a cut.
    start_hint: int | None = None
    end_hint: int | None = None

    @property
    def last(self) -> Sighting:
        return self.sightings[-1]

    def embeddings(self) -> list[np.ndarray]:
        return [s.embedding for s in self.sightings if s.embedding is not None]

    def mean_embedding(self) -> np.ndarray | None:
        embs = self.embeddings()
        if not embs:
            return None
        m = np.mean(embs, axis=0)
        n = float(np.linalg.norm(m))
        return m / n if n > 0 else m

    def last_embedding(self) -> np.ndarray | None:
        for s in reversed(self.sightings):
            if s.embedding is not None:
                return s.embedding
        return None


class Tracker:
    """Greedy frame-to-frame association; call :meth:`cut` at shot boundaries."""

    def __init__(self, min_iou: float = 0.2, same_face: float = 0.6, max_gap: int = 3) -> None:
        self.min_iou = min_iou
        self.same_face = same_face
        self.max_gap = max_gap
        self.active: list[Track] = []
        self.finished: list[Track] = []
        self._next = 1

    def candidates(self, face: Face) -> list[tuple[float, Track]]:
        """Active tracks this face may continue, best first.

        Overlap (IoU) serves faces that move less than their size between samples; a
        small face moving fast (20 px, 9 px per sample) overlaps too little, so nearness
        of the centres, relative to the face size, counts too (at half weight).
        """
        found = []
        for t in self.active:
            other = t.last.face
            v = iou(face.box, other.box)
            size = max(face.width, face.height, other.width, other.height, 1.0)
            d = float(np.hypot(*(np.subtract(_centre(face), _centre(other)))))
            near = 0.5 * (1.0 - d / (1.5 * size * (1 + t.missed)))
            found.append((max(v, near), t))
        return sorted([(v, t) for v, t in found if v >= self.min_iou], key=lambda p: -p[0])

    def update(self, sightings: list[Sighting]) -> list[Track]:
        """Assign this sample's sightings; returns the track of each, in order."""
        pairs: list[tuple[float, int, Track]] = []
        for i, s in enumerate(sightings):
            for v, t in self.candidates(s.face):
                emb = t.last_embedding()
                if s.embedding is not None and emb is not None and cosine(s.embedding, emb) < self.same_face:
                    continue
                pairs.append((v, i, t))
        taken: dict[int, Track] = {}
        used: set[int] = set()
        for _v, i, t in sorted(pairs, key=lambda p: -p[0]):
            if i in taken or t.id in used:
                continue
            taken[i] = t
            used.add(t.id)
        out: list[Track] = []
        for i, s in enumerate(sightings):
            t = taken.get(i)
            if t is None:
                t = Track(self._next)
                self._next += 1
                self.active.append(t)
            t.sightings.append(s)
            t.missed = 0
            out.append(t)
        for t in list(self.active):
            if t.id not in used and t not in out:
                t.missed += 1
                if t.missed > self.max_gap:
                    self.active.remove(t)
                    self.finished.append(t)
        return out

    def cut(self) -> list[Track]:
        """A shot boundary: every active track ends here; returns them."""
        ended, self.active = self.active, []
        self.finished += ended
        return ended

    def close(self) -> list[Track]:
        self.cut()
        return sorted(self.finished, key=lambda t: (t.sightings[0].frame, t.id))


def _centre(face: Face) -> tuple[float, float]:
    return ((face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2)


def fill(track: Track, start: int, end: int) -> tuple[list[list[int]], str]:
    """Boxes [x, y, w, h] for every frame of [start, end] and a '0'/'1' string of interpolated flags.

    Frames before the first or after the last sighting (up to a cut or the clip's end)
    hold the nearest sighting's box, flagged as interpolated.
    """
    seen = {s.frame: np.array(s.face.box, dtype=np.float64) for s in track.sightings}
    frames = sorted(seen)
    boxes: list[list[int]] = []
    flags: list[str] = []
    j = 0
    for f in range(start, end + 1):
        while j + 1 < len(frames) and frames[j + 1] <= f:
            j += 1
        if f in seen:
            b = seen[f]
            flags.append("0")
        else:
            a = frames[j]
            if f < a or j + 1 >= len(frames):
                b = seen[a]
            else:
                nxt = frames[j + 1]
                w = (f - a) / (nxt - a)
                b = seen[a] * (1 - w) + seen[nxt] * w
            flags.append("1")
        boxes.append([round(b[0]), round(b[1]), round(b[2] - b[0]), round(b[3] - b[1])])
    return boxes, "".join(flags)
