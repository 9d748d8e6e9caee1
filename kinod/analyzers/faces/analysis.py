"""One clip's sampled frames in, face tracks out: detect, follow, embed, fill, pick the best image.

Shared by the ``faces`` analyzer (frames from the analysis cache) and ``kinod
find-person`` (frames it samples itself), so both see exactly the same tracks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from kinod.analyzers.faces.backends import FaceStack
from kinod.analyzers.faces.config import FacesConfig
from kinod.analyzers.faces.cuts import cut_score, signature
from kinod.analyzers.faces.edges import cut_frame, first_seen, last_seen
from kinod.analyzers.faces.quality import face_image, face_quality
from kinod.analyzers.faces.tracker import Sighting, Track, Tracker, fill


@dataclass
class FaceTrack:
    """A finished track: frames [start, end] inclusive on the clip's timeline."""

    id: int
    start: int
    end: int
    boxes: list[list[int]]
    interpolated: str
    detected: list[int]
    landmarks: list[list[Any]]
    embedding: np.ndarray | None
    quality: float
    best_frame: int
    best_image: np.ndarray | None
    #: Detected crops (frame, image) at ``crops_fps``, kept only when asked (find-person's images/).
    crops: list[tuple[int, np.ndarray]] = field(default_factory=list)


@dataclass
class ClipFaces:
    tracks: list[FaceTrack]
    frame_size: tuple[int, int]
    samples: int
    cuts: list[int]


def analyse(
    frames: Iterable[Any],
    stack: FaceStack,
    cfg: FacesConfig,
    total_frames: int,
    crops_fps: float = 0.0,
) -> ClipFaces:
    """Run the stack over sampled frames (objects with ``index``, ``seconds`` and a BGR ``image``).

    ``crops_fps`` > 0 keeps each track's face crops at that rate (find-person's images).
    """
    tracker = Tracker(same_face=cfg.same_face, max_gap=max(1, round(cfg.max_gap_s * cfg.sample_fps)))
    sample_frames: list[int] = []
    cut_at: dict[int, int] = {}  # sample number k -> estimated first frame of the new shot
    best: dict[int, tuple[float, int, np.ndarray]] = {}
    crops: dict[int, list[tuple[int, np.ndarray]]] = {}
    last_embedded: dict[int, int] = {}
    crop_period: dict[int, int] = {}
    edges = Edges()
    prev_sig = None
    size = (0, 0)
    for k, fr in enumerate(frames):
        image = _fit(fr.image, cfg.width)
        gap = [(i, _fit(g, cfg.width)) for i, g in getattr(fr, "between", ())]
        size = (image.shape[1], image.shape[0])
        sig = signature(image)
        cut = prev_sig is not None and cut_score(prev_sig, sig) >= cfg.cut_threshold
        if cut:
            tracker.cut()
            half_way = (sample_frames[-1] + fr.index + 1) // 2
            cut_at[k] = cut_frame(gap, prev_sig, cfg.cut_threshold, fr.index) if gap else half_way  # type: ignore[arg-type]
        prev_sig = sig
        sample_frames.append(fr.index)
        sightings = []
        for face in stack.detect(image):
            cands = tracker.candidates(face)
            need = (
                not cands
                or (len(cands) > 1 and cands[1][0] > 0.1)
                or k - last_embedded.get(cands[0][1].id, -(10**9)) >= cfg.embed_every
            )
            emb = stack.embed(image, face) if need else None
            sightings.append(Sighting(fr.index, face, emb, face_quality(image, face)))
        followed = tracker.update(sightings)
        if gap and not cut:
            edges.search(k, gap, followed, sample_frames, stack)
        edges.present = {t.id: t for t in followed}
        for s, t in zip(sightings, followed, strict=True):
            if s.embedding is not None:
                last_embedded[t.id] = k
            if t.id not in best or s.quality > best[t.id][0]:
                best[t.id] = (s.quality, s.frame, face_image(image, s.face))
            if crops_fps > 0:
                period = int(fr.seconds * crops_fps + 1e-9)
                if crop_period.get(t.id) != period:
                    crop_period[t.id] = period
                    crops.setdefault(t.id, []).append((s.frame, face_image(image, s.face)))
    tracks = []
    index_of = {f: k for k, f in enumerate(sample_frames)}
    last_frame = max(total_frames - 1, sample_frames[-1] if sample_frames else 0)
    for t in tracker.close():
        if len(t.sightings) < cfg.min_detections:
            continue
        tracks.append(_finish(t, index_of, sample_frames, cut_at, last_frame, best, crops, edges))
    return ClipFaces(tracks, size, len(sample_frames), sorted(cut_at.values()))


def _finish(
    t: Track,
    index_of: dict[int, int],
    samples: list[int],
    cut_at: dict[int, int],
    last_frame: int,
    best: dict[int, tuple[float, int, np.ndarray]],
    crops: dict[int, list[tuple[int, np.ndarray]]],
    edges: Edges,
) -> FaceTrack:
    k0 = index_of[t.sightings[0].frame]
    k1 = index_of[t.sightings[-1].frame]
    # A track seen in the first sample, or in the first sample after a cut, started with
    # its shot; one seen in the last sample, or the last before a cut, lasts to its end.
    # Otherwise the face came or went somewhere between two samples: where the frames
    # between were searched (:mod:`.edges`), on the frame found; else half-way, the
    # estimate with the smallest worst error (half a sample interval: 1.25 frames at
    # 25 fps and 10 samples/s), where the last sample seen would be a whole interval early.
    if k0 == 0:
        start = 0
    elif k0 in cut_at:
        start = cut_at[k0]
    else:
        start = edges.start.get((t.id, k0), (samples[k0 - 1] + samples[k0] + 1) // 2)
    if k1 == len(samples) - 1:
        end = last_frame
    elif k1 + 1 in cut_at:
        end = cut_at[k1 + 1] - 1
    else:
        end = edges.end.get((t.id, k1), (samples[k1] + samples[k1 + 1]) // 2)
    boxes, flags = fill(t, start, end)
    marks = [
        [s.frame, [round(float(v), 1) for v in s.face.landmarks.reshape(-1)]]
        for s in t.sightings
        if s.face.landmarks is not None
    ]
    q, bf, img = best.get(t.id, (0.0, start, None))
    return FaceTrack(
        t.id,
        start,
        end,
        boxes,
        flags,
        [s.frame for s in t.sightings],
        marks,
        t.mean_embedding(),
        q,
        bf,
        img,
        crops.get(t.id, []),
    )


class Edges:
    """Track edges found by the local search between two samples, by (track id, sample number)."""

    def __init__(self) -> None:
        self.start: dict[tuple[int, int], int] = {}
        self.end: dict[tuple[int, int], int] = {}
        self.present: dict[int, Track] = {}  # the tracks of the previous sample

    def search(self, k: int, gap: list[tuple[int, np.ndarray]], followed: list[Track], samples: list[int],
               stack: FaceStack) -> None:  # fmt: skip
        """Tracks that left after sample k-1 or came by sample k: the frames between say when."""
        now = {t.id: t for t in followed}
        for tid, t in self.present.items():
            if tid not in now:
                found = last_seen(gap, t.last.face.box, stack.detect)
                self.end[(tid, k - 1)] = samples[k - 1] if found is None else found
        for tid, t in now.items():
            if tid not in self.present:
                found = first_seen(gap, t.last.face.box, stack.detect)
                self.start[(tid, k)] = samples[k] if found is None else found


def _fit(image: np.ndarray, width: int) -> np.ndarray:
    """The picture at most ``width`` wide (the cache may hold a wider one for another analyzer)."""
    h, w = image.shape[:2]
    if w <= width:
        return image
    return cv2.resize(image, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)
