"""Every stored track of the library as one float32 matrix, for find-person at library scale.

The faces analyzer keeps each clip's track means in ``<state>/faces/tracks/*.json``
(readable, one file per clip, rewritten by a re-analysis or a forget). Reading 100,000
tracks from JSON takes far longer than the 1 s a search may take, so they are packed
once into ``tracks.npy``, read whole by the search (float32: 100,000 x 512 is
200 MB; float16 would halve that, but numpy converts float16 at ~15 ns a value, 0.7 s
a pass over 100,000 tracks, where BLAS multiplies float32 in place) and
``tracks-rows.npz`` (clip, track, frames, person per row). The pack is dropped by
whatever changes a track file (:meth:`TrackMatrix.invalidate`: a new analysis, a
forget) and rebuilt by the next search, so a forgotten track is never searched again.
Both files are private (0600) like every face file.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kinod.analyzers.faces.private import write_private

MATRIX = "tracks.npy"
ROWS = "tracks-rows.npz"


@dataclass
class Tracks:
    """The packed library: ``emb`` (N, D) float32 and, per row, where the track is."""

    emb: np.ndarray
    clip: np.ndarray  # index into ``clips``
    track: np.ndarray
    start: np.ndarray
    end: np.ndarray
    person: np.ndarray  # index into ``people``, -1 for none
    clips: list[str]
    rates: list[str]
    people: list[str]
    best_images: dict[int, str]

    def row(self, i: int) -> dict[str, Any]:
        p = int(self.person[i])
        return {"path": self.clips[int(self.clip[i])], "rate": self.rates[int(self.clip[i])],
                "track": int(self.track[i]), "start": int(self.start[i]), "end": int(self.end[i]),
                "person": self.people[p] if p >= 0 else None, "best_image": self.best_images.get(i)}  # fmt: skip


class TrackMatrix:
    def __init__(self, faces_dir: Path) -> None:
        self.dir = faces_dir

    def invalidate(self) -> None:
        for name in (MATRIX, ROWS):
            with contextlib.suppress(FileNotFoundError):
                (self.dir / name).unlink()

    def load(self) -> Tracks:
        """The packed tracks (built from the track files first when there is no pack)."""
        if not (self.dir / MATRIX).is_file() or not (self.dir / ROWS).is_file():
            self.build()
        emb = np.load(self.dir / MATRIX)  # read whole: faster than faulting in a mapping, and 200 MB at most
        with np.load(self.dir / ROWS) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            cols = {k: z[k] for k in ("clip", "track", "start", "end", "person")}
        images = {int(k): v for k, v in meta["best_images"].items()}
        return Tracks(emb, **cols, clips=meta["clips"], rates=meta["rates"], people=meta["people"],
                      best_images=images)  # fmt: skip

    def build(self) -> None:
        clips: list[str] = []
        rates: list[str] = []
        people: dict[str, int] = {}
        cols: dict[str, list[int]] = {k: [] for k in ("clip", "track", "start", "end", "person")}
        vecs: list[list[float]] = []
        images: dict[int, str] = {}
        folder = self.dir / "tracks"
        for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                rec = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            for t in rec.get("tracks", []):
                if not t.get("embedding"):
                    continue
                if not clips or clips[-1] != rec["path"]:
                    clips.append(rec["path"])
                    rates.append(str(rec.get("rate", "25")))
                if t.get("best_image"):
                    images[len(vecs)] = t["best_image"]
                pid = t.get("person")
                for k, v in (
                    ("clip", len(clips) - 1),
                    ("track", t["track"]),
                    ("start", t["start"]),
                    ("end", t["end"]),
                    ("person", people.setdefault(pid, len(people)) if pid else -1),
                ):
                    cols[k].append(int(v))  # fmt: skip
                vecs.append(t["embedding"])
        emb = np.asarray(vecs, dtype=np.float32).reshape(len(vecs), -1)
        if len(emb):
            emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)
        self.save(emb, {k: np.asarray(v, np.int32) for k, v in cols.items()},
                  {"clips": clips, "rates": rates, "people": list(people), "best_images": images})  # fmt: skip

    def save(self, emb: np.ndarray, cols: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Write a pack (also how the benchmark stores 100,000 tracks without 100,000 JSON files)."""
        buf = io.BytesIO()
        np.save(buf, emb)
        write_private(self.dir / MATRIX, buf.getvalue())
        buf = io.BytesIO()
        np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **cols)
        write_private(self.dir / ROWS, buf.getvalue())
