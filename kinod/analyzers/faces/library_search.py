"""``kinod find-person PHOTO --library``: the stored tracks of every indexed clip, nothing decoded.

The tracks come packed as one float32 matrix (:mod:`.track_matrix`) and are scored
exactly as a search over decoded clips scores them (the same impostor cohort rules and
thresholds: :func:`.matching.candidate_scores`, as :func:`.find_person.score` does), so
a photo finds the same ranges either way. Only the cuts read the originals (when they
are still there); images are the tracks' best images kept beside the sidecars.
"""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from kinod.analyzers.faces.backends import build_stack
from kinod.analyzers.faces.config import FacesConfig
from kinod.analyzers.faces.find_person import METRIC, _model, reference_embedding
from kinod.analyzers.faces.matching import MatchScore, candidate_scores, fixed_cohort, verdict
from kinod.analyzers.faces.track_matrix import TrackMatrix, Tracks
from kinod.analyzers.weights import sha256_file
from kinod.media.clipcut import CutError, cut, stream_index
from kinod.media.fsutil import atomic_write_json

Hit = tuple[dict[str, Any], MatchScore, str]


def search_library(ref: np.ndarray, state_dir: Path, cfg: FacesConfig) -> tuple[dict[str, list[Hit]], int]:
    """Matching tracks by clip path (each row with its score and verdict), and how many tracks were searched."""
    tracks: Tracks = TrackMatrix(Path(state_dir) / "faces").load()
    s, idx, z = candidate_scores(ref, tracks.emb, cfg.match_possible, cfg.identity_threshold,
                                 fixed=fixed_cohort(cfg.backend))  # fmt: skip
    by_clip: dict[str, list[Hit]] = {}
    for k, i in enumerate(idx.tolist()):
        m = MatchScore(float(s[i]), None if z is None else float(z[k]))
        v = verdict(m, cfg.match_possible, cfg.match_sure, cfg.match_snorm_possible, cfg.match_snorm_sure)
        if v is not None:
            row = tracks.row(i)
            by_clip.setdefault(row["path"], []).append((row, m, v))
    return by_clip, len(tracks.emb)


def find_person_in_library(
    photo: Path, state_dir: Path, out: Path, cfg: FacesConfig, ffmpeg: str = "", cut_clips: bool = True
) -> dict[str, Any]:
    stack = build_stack(cfg)
    ref, ref_box = reference_embedding(photo, stack)
    by_clip, searched = search_library(ref, state_dir, cfg)
    meta: dict[str, Any] = {
        "reference": {"photo": str(photo.resolve()), "box": ref_box, "sha256": sha256_file(photo)},
        "model": {**_model(cfg), "licence": getattr(stack, "licence", "")},
        "thresholds": {"possible": cfg.match_possible, "sure": cfg.match_sure, "metric": METRIC,
                       "snorm_possible": cfg.match_snorm_possible, "snorm_sure": cfg.match_snorm_sure},
        "source": "indexed library (stored track embeddings; nothing decoded)",
        "frames": "start_frame is the first frame, end_frame the frame after the last (as in the sidecars)",
        "cohort_tracks": searched,
        "clips": [],
        "errors": [],
    }  # fmt: skip
    for path, hits in sorted(by_clip.items()):
        meta["clips"].append(_clip_entry(path, hits, out, ffmpeg, cut_clips, meta["errors"]))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "metadata.json", meta)
    return meta


def _clip_entry(
    path: str, hits: list[Hit], out: Path, ffmpeg: str, cut_clips: bool, errors: list[dict[str, Any]]
) -> dict[str, Any]:
    rate = Fraction(hits[0][0]["rate"])
    clip = Path(path)
    entry: dict[str, Any] = {"path": path, "rate": str(rate), "ranges": []}
    index = None
    if cut_clips and clip.is_file():
        try:
            index = stream_index(clip)
        except CutError as e:
            errors.append({"path": path, "message": str(e)})
    for n, (t, m, v) in enumerate(sorted(hits, key=lambda h: h[0]["start"]), 1):
        first, last = t["start"], t["end"]
        name = f"{clip.stem}_{n:03d}_{first}-{last}"
        best = None
        if t.get("best_image") and Path(t["best_image"]).is_file():
            best = f"images/{name}_best.jpg"
            (out / "images").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(t["best_image"], out / best)
            (out / best).chmod(0o600)
        row: dict[str, Any] = {
            "range": n, "start_frame": first, "end_frame": last + 1,
            "start_s": round(float(first / rate), 6), "end_s": round(float((last + 1) / rate), 6),
            "confidence": v, "score": round(m.cosine, 4), "snorm": None if m.snorm is None else round(m.snorm, 2),
            "person": t["person"], "tracks": [t["track"]], "images": {"best": best, "crops": []}, "clip": None,
        }  # fmt: skip
        if index is not None:
            dst = out / "clips" / f"{name}{clip.suffix or '.mp4'}"
            try:
                row["cut"] = cut(clip, dst, first, last, rate, index, ffmpeg)
                row["clip"] = str(dst.relative_to(out))
            except CutError as e:
                errors.append({"path": path, "message": str(e)})
        entry["ranges"].append(row)
    return entry
