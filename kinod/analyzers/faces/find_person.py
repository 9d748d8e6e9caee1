"""``kinod find-person PHOTO PATH...``: every range where the person in one photo is on screen.

The photo must hold exactly one face (an error lists the boxes otherwise). Each clip is
sampled once (:mod:`kinod.analyzers.faces.sampler`), its faces tracked exactly as the
daemon's analyzer does, and each track's mean embedding compared with the photo's:
at or above ``match_sure`` a range is "sure", between ``match_possible`` and
``match_sure`` "possible", and with five or more impostor tracks searched the score
normalised against them must also pass (:mod:`kinod.analyzers.faces.matching` says why).
Overlapping matched tracks of one clip merge into one range.
Written into the output folder: ``metadata.json``, ``clips/`` (one cut per range,
frame-accurate) and ``images/`` (the best face of each range, plus every detected face
at ``crops_fps``). Face images are private (0600): they are biometric data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import structlog

from kinod.analyzers.faces.analysis import ClipFaces, FaceTrack, analyse
from kinod.analyzers.faces.backends import FaceStack, build_stack, stack_model_info
from kinod.analyzers.faces.config import FacesConfig
from kinod.analyzers.faces.matching import MatchScore, fixed_cohort, score_tracks, verdict
from kinod.analyzers.faces.private import write_private_jpeg
from kinod.analyzers.faces.sampler import sample_frames
from kinod.analyzers.weights import sha256_file
from kinod.media.clipcut import CutError, cut, stream_index
from kinod.media.fsutil import atomic_write_json
from kinod.media.probe import Probe, ProbeError, probe
from kinod.media.timebase import TimeBase

log = structlog.get_logger(__name__)

#: Photos are analysed at most this wide: a reference face is large, and FaceNet sees 160 px.
PHOTO_WIDTH = 1280
METRIC = "cosine of track mean embedding; S-norm against the impostor tracks searched (never the person's own)"


class FindPersonError(RuntimeError):
    """The reference photo or a clip cannot be used; the message names the file and why."""


@dataclass
class Range:
    first: int
    last: int
    score: float
    tracks: list[FaceTrack] = field(default_factory=list)
    snorm: float | None = None
    confidence: str = "possible"


def reference_embedding(photo: Path, stack: FaceStack) -> tuple[np.ndarray, list[int]]:
    """The embedding of the one face in ``photo`` and its box [x, y, w, h] in the photo's pixels."""
    try:
        data = np.fromfile(photo, dtype=np.uint8)
    except OSError as e:
        raise FindPersonError(f"{photo}: cannot read the reference photo ({e.strerror})") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise FindPersonError(f"{photo}: not a readable image (corrupt, empty or an unknown format)")
    scale = min(1.0, PHOTO_WIDTH / max(image.shape[1], 1))
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    faces = stack.detect(small)
    boxes = [[round(v / scale) for v in f.xywh()] for f in faces]
    if not faces:
        raise FindPersonError(f"{photo}: no face found in the reference photo; use a photo with one clear face")
    if len(faces) > 1:
        listed = "; ".join(f"[x={b[0]}, y={b[1]}, w={b[2]}, h={b[3]}]" for b in boxes)
        raise FindPersonError(
            f"{photo}: {len(faces)} faces in the reference photo ({listed}); crop it to the one person to find"
        )
    return stack.embed(small, faces[0]), boxes[0]


def score(ref: np.ndarray, tracks: np.ndarray, cfg: FacesConfig, every: bool = False) -> list[MatchScore]:
    """Every track's score against the reference, as find-person and the library search give it."""
    return score_tracks(ref, tracks, cfg.match_possible, cfg.identity_threshold, fixed=fixed_cohort(cfg.backend),
                        every=every)  # fmt: skip


def match_ranges(tracks: list[FaceTrack], scores: list[MatchScore], cfg: FacesConfig) -> list[Range]:
    """Matched tracks as ranges, overlapping or touching ones merged (best score kept)."""
    hits = []
    for t, m in zip(tracks, scores, strict=True):
        v = verdict(m, cfg.match_possible, cfg.match_sure, cfg.match_snorm_possible, cfg.match_snorm_sure)
        if v is not None:
            hits.append((t.start, t.end, m, v, t))
    ranges: list[Range] = []
    for start, end, m, v, t in sorted(hits, key=lambda h: (h[0], h[1])):
        if ranges and start <= ranges[-1].last + 1:
            r = ranges[-1]
            r.last = max(r.last, end)
            if m.cosine > r.score:
                r.score, r.snorm = m.cosine, m.snorm
            r.confidence = "sure" if "sure" in (r.confidence, v) else "possible"
            r.tracks.append(t)
        else:
            ranges.append(Range(start, end, m.cosine, [t], m.snorm, v))
    return ranges


@dataclass
class _Clip:
    path: Path
    probe: Probe
    faces: ClipFaces


def find_person(
    photo: Path,
    clips: list[Path],
    out: Path,
    cfg: FacesConfig,
    ffmpeg: str = "",
    crops_fps: float = 1.0,
    cut_clips: bool = True,
) -> dict[str, Any]:
    stack = build_stack(cfg)
    ref, ref_box = reference_embedding(photo, stack)
    out.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "reference": {"photo": str(photo.resolve()), "box": ref_box, "sha256": sha256_file(photo)},
        "model": {**_model(cfg), "licence": getattr(stack, "licence", "")},
        "thresholds": {
            "possible": cfg.match_possible,
            "sure": cfg.match_sure,
            "snorm_possible": cfg.match_snorm_possible,
            "snorm_sure": cfg.match_snorm_sure,
            "metric": METRIC,
        },
        "frames": "start_frame is the first frame, end_frame the frame after the last (as in the sidecars)",
        "clips": [],
        "errors": [],
    }
    analysed: list[_Clip] = []
    for clip in clips:
        try:
            analysed.append(_analyse(clip, cfg, stack, ffmpeg, crops_fps))
        except (FindPersonError, ProbeError, OSError, ValueError) as e:
            log.error("find-person: clip skipped", path=str(clip), error=str(e))
            meta["errors"].append({"path": str(clip), "message": str(e)})
    # The impostors among the tracks searched are the cohort scores are normalised against.
    tracks = [t for c in analysed for t in c.faces.tracks if t.embedding is not None]
    scores = score(ref, np.stack([t.embedding for t in tracks]), cfg) if tracks else []
    by_track = {id(t): m for t, m in zip(tracks, scores, strict=True)}
    meta["cohort_tracks"] = len(tracks)
    for c in analysed:
        mine = [t for t in c.faces.tracks if id(t) in by_track]
        ranges = match_ranges(mine, [by_track[id(t)] for t in mine], cfg)
        try:
            meta["clips"].append(_write_clip(c, ranges, out, crops_fps, ffmpeg, cut_clips))
        except (CutError, OSError, ValueError) as e:
            log.error("find-person: clip not written", path=str(c.path), error=str(e))
            meta["errors"].append({"path": str(c.path), "message": str(e)})
    atomic_write_json(out / "metadata.json", meta)
    return meta


def _analyse(clip: Path, cfg: FacesConfig, stack: FaceStack, ffmpeg: str, crops_fps: float) -> _Clip:
    pr = probe(clip)
    if not pr.has_video or not pr.width or not pr.height:
        raise FindPersonError(f"{clip}: has no picture to search")
    frames = sample_frames(clip, pr.timeline_rate, pr.width, pr.height, cfg.width, cfg.sample_fps, ffmpeg)
    return _Clip(clip, pr, analyse(frames, stack, cfg, pr.frames, crops_fps=crops_fps))


def _write_clip(
    c: _Clip, ranges: list[Range], out: Path, crops_fps: float, ffmpeg: str, cut_clips: bool
) -> dict[str, Any]:
    clip, pr = c.path, c.probe
    rate = pr.timeline_rate
    tb = TimeBase.from_probe(pr)
    index = stream_index(clip) if ranges and cut_clips else None
    rows = []
    for n, r in enumerate(ranges, 1):
        name = f"{clip.stem}_{n:03d}_{r.first}-{r.last}"
        row: dict[str, Any] = {
            "range": n,
            "start_frame": r.first,
            "end_frame": r.last + 1,
            "start_s": tb.seconds(r.first),
            "end_s": tb.seconds(r.last + 1),
            "start_tc": tb.tc(r.first),
            "end_tc": tb.tc(r.last + 1),
            "confidence": r.confidence,
            "score": round(r.score, 4),
            "snorm": None if r.snorm is None else round(r.snorm, 2),
            "tracks": [t.id for t in r.tracks],
            "images": _write_images(out / "images", name, r, crops_fps),
            "clip": None,
        }
        if index is not None:
            suffix = clip.suffix if clip.suffix.lower() in (".mp4", ".mov") else ".mp4"
            dst = out / "clips" / f"{name}{suffix}"
            row["cut"] = cut(clip, dst, r.first, r.last, rate, index, ffmpeg)
            row["clip"] = str(dst.relative_to(out))
        rows.append(row)
    return {"path": str(clip.resolve()), "rate": str(rate), "frames": pr.frames, "tracks": len(c.faces.tracks),
            "ranges": rows}  # fmt: skip


def _write_images(folder: Path, name: str, r: Range, crops_fps: float) -> dict[str, Any]:
    best = max(r.tracks, key=lambda t: t.quality)
    files: dict[str, Any] = {"best": None, "crops": []}
    if best.best_image is not None and best.best_image.size:
        write_private_jpeg(folder / f"{name}_best.jpg", best.best_image)
        files["best"] = f"images/{name}_best.jpg"
    if crops_fps > 0:
        for t in r.tracks:
            for frame, img in t.crops:
                if img.size:
                    write_private_jpeg(folder / f"{name}_f{frame:06d}.jpg", img)
                    files["crops"].append(f"images/{name}_f{frame:06d}.jpg")
    return files


def _model(cfg: FacesConfig) -> dict[str, Any]:
    m = stack_model_info(cfg)
    return {"name": m.name, "sha256": m.sha256, "source": m.source, "backend": cfg.backend}
