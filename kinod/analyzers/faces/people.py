"""The people registry: stable "person-N" ids across clips and cards, names, forgetting.

Faces are biometric data, so everything here lives in the state dir with mode 0600:

* ``<state>/faces/people.json``: per person a name (or null), the centroid of its
  tracks' mean embeddings, and where it was seen (clip path, sidecar, track ids,
  best images);
* ``<state>/faces/tracks/<sha1 of path>.json``: each clip's track means, so a
  reference photo can be searched over the indexed library without decoding again.

Names come from ``kinod people name ID "Name"`` or from a ``people/<Name>/`` folder of
reference photos in the output root (:func:`sync_reference_folder`). ``kinod people
forget ID`` deletes the person's embeddings and face images and takes them out of the
sidecars' people lists.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from kinod.analyzers.faces.identities import centroid
from kinod.analyzers.faces.private import write_private_json
from kinod.analyzers.faces.track_matrix import TrackMatrix
from kinod.analyzers.faces.types import cosine


class PeopleError(RuntimeError):
    """A people command could not be done; the message says why."""


class PeopleRegistry:
    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir) / "faces"
        self.path = self.dir / "people.json"

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, Any]]:
        """The registry, read and written under an exclusive lock (workers run in parallel)."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.dir / "people.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._read()
            yield data
            write_private_json(self.path, data)

    def _read(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {"next": 1, "people": {}}
        try:
            data = json.loads(self.path.read_text())
            if not isinstance(data.get("people"), dict):
                raise ValueError("no people table")
            return data
        except (OSError, ValueError) as e:
            msg = f"{self.path}: the people registry is unreadable ({e}); move it aside to start anew"
            raise PeopleError(msg) from None

    def read(self) -> dict[str, Any]:
        return self._read()

    def assign(
        self, clip: str, sidecar: str, clusters: list[tuple[np.ndarray, list[int], list[str]]], threshold: float
    ) -> list[tuple[str, str | None]]:
        """Give each clip cluster (centroid, track ids, best images) a person id and name."""
        out: list[tuple[str, str | None]] = []
        with self.locked() as data:
            people = data["people"]
            for p in people.values():  # a clip analysed again replaces its old sightings
                p["seen"] = [s for s in p.get("seen", []) if s["clip"] != clip]
            taken: set[str] = set()
            for cent, tracks, images in clusters:
                best_id, best = None, threshold
                for pid, p in people.items():
                    if pid in taken or not p.get("centroid"):
                        continue
                    s = cosine(cent, np.asarray(p["centroid"], dtype=np.float32))
                    if s >= best:
                        best_id, best = pid, s
                if best_id is None:
                    best_id = f"person-{data['next']}"
                    data["next"] += 1
                    people[best_id] = {"name": None, "centroid": None, "count": 0, "seen": []}
                p = people[best_id]
                n = int(p.get("count", 0))
                old = np.asarray(p["centroid"], dtype=np.float32) if p.get("centroid") else None
                new = cent if old is None else centroid([old * n, cent]) if n else cent
                p["centroid"] = [round(float(v), 6) for v in new]
                p["count"] = n + 1
                p["seen"].append({"clip": clip, "sidecar": sidecar, "tracks": tracks, "images": images})
                taken.add(best_id)
                out.append((best_id, p.get("name")))
        return out

    def name(self, pid: str, name: str) -> list[str]:
        """Name a person here and in every sidecar it appears in (past clips; future ones read the registry)."""
        with self.locked() as data:
            if pid not in data["people"]:
                raise PeopleError(f"no person {pid!r} in {self.path} (see `kinod people`)")
            data["people"][pid]["name"] = name
            seen = list(data["people"][pid].get("seen", []))
        return [s["sidecar"] for s in seen if s.get("sidecar") and _rename_in_sidecar(Path(s["sidecar"]), pid, name)]

    def forget(self, pid: str) -> list[str]:
        """Remove a person everywhere; returns what was deleted or rewritten."""
        done: list[str] = []
        with self.locked() as data:
            p = data["people"].pop(pid, None)
            if p is None:
                raise PeopleError(f"no person {pid!r} in {self.path} (see `kinod people`)")
        for seen in p.get("seen", []):
            for img in seen.get("images", []):
                with contextlib.suppress(FileNotFoundError):
                    Path(img).unlink()
                    done.append(img)
            track_file = self.track_file(seen["clip"])
            if track_file.is_file():
                rec = json.loads(track_file.read_text())
                rec["tracks"] = [t for t in rec.get("tracks", []) if t.get("person") != pid]
                write_private_json(track_file, rec)
                done.append(str(track_file))
            if seen.get("sidecar") and _scrub_sidecar(Path(seen["sidecar"]), pid):
                done.append(seen["sidecar"])
        return done

    def track_file(self, clip: str) -> Path:
        return self.dir / "tracks" / (hashlib.sha1(clip.encode()).hexdigest() + ".json")

    def save_tracks(self, clip: str, rate: str, tracks: list[dict[str, Any]]) -> None:
        write_private_json(self.track_file(clip), {"path": clip, "rate": rate, "tracks": tracks})
        TrackMatrix(self.dir).invalidate()

    def indexed_tracks(self) -> Iterator[dict[str, Any]]:
        folder = self.dir / "tracks"
        for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            with contextlib.suppress(OSError, ValueError):
                yield json.loads(f.read_text())


def _scrub_sidecar(path: Path, pid: str) -> bool:
    from kinod.media.fsutil import atomic_write_json
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    faces = (data.get("analyses") or {}).get("faces")
    if not faces:
        return False
    summary = faces.get("summary") or {}
    summary["people"] = [p for p in summary.get("people", []) if p.get("id") != pid]
    for item in faces.get("items", []):
        if item.get("person") == pid:
            item["person"] = None
            item["person_name"] = None
            item["best_image"] = None
    atomic_write_json(path, data)
    return True


def _rename_in_sidecar(path: Path, pid: str, name: str) -> bool:
    from kinod.media.fsutil import atomic_write_json
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    faces = (data.get("analyses") or {}).get("faces")
    if not faces:
        return False
    for p in (faces.get("summary") or {}).get("people", []):
        if p.get("id") == pid:
            p["name"] = name
    for item in faces.get("items", []):
        if item.get("person") == pid:
            item["person_name"] = name
    atomic_write_json(path, data)
    return True


def sync_reference_folder(registry: PeopleRegistry, folder: Path, embed_photo: Any, threshold: float) -> list[str]:
    """Name people from ``folder/<Name>/*.jpg``: the person whose centroid best matches gets the name."""
    named: list[str] = []
    if not folder.is_dir():
        return named
    refs: dict[str, np.ndarray] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        vecs = []
        for photo in sorted(sub.iterdir()):
            if photo.suffix.lower() in (".jpg", ".jpeg", ".png"):
                with contextlib.suppress(Exception):
                    vecs.append(embed_photo(photo))
        if vecs:
            refs[sub.name] = centroid(vecs)
    with registry.locked() as data:
        cents = {
            pid: np.asarray(p["centroid"], dtype=np.float32) for pid, p in data["people"].items() if p.get("centroid")
        }
        # Each name goes to the one person it matches best (a weaker look-alike stays unnamed).
        for name, vec in refs.items():
            scored = sorted(((cosine(c, vec), pid) for pid, c in cents.items()), reverse=True)
            if scored and scored[0][0] >= threshold:
                data["people"][scored[0][1]]["name"] = name
                named.append(f"{scored[0][1]}={name}")
    return named
