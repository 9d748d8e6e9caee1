"""The people registry: stable "person-N" ids across clips and cards, names, forgetting.

Faces are biometric data, so everything here lives in the state dir with mode 0600:

* ``<state>/faces/people.json``: per person a name (or null), the centroid of its
  tracks' mean embeddings, and where it was seen (clip path, sidecar, track ids,
  best images);
* ``<state>/faces/tracks/<sha1 of path>.json``: each clip's track means, so a
  reference photo can be searched over the indexed library without decoding again.

Names come from ``kinod people name ID "Name"`` or from a ``people/<Name>/`` folder of
reference photos in the output root (:func:`sync_reference_folder`); ``kinod people
merge A B`` joins two; ``kinod people forget ID`` deletes the person's embeddings and
face images. Carrying a change into sidecars, job store, search index and exports is
:mod:`kinod.run.people_names`' job (this floor must not write those).
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

#: One clip's cluster of tracks: centroid, track ids, best images, [start, end) frame ranges.
Cluster = tuple[np.ndarray, list[int], list[str], list[list[int]]]


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
        self, clip: str, sidecar: str, clusters: list[Cluster], threshold: float
    ) -> list[tuple[str, str | None]]:
        """Give each clip cluster (centroid, track ids, best images, frame ranges) a person id and name.

        The registry is one for the whole library, so a person seen on two cards gets one id.
        """
        out: list[tuple[str, str | None]] = []
        with self.locked() as data:
            people = data["people"]
            for p in people.values():  # a clip analysed again replaces its old sightings
                p["seen"] = [s for s in p.get("seen", []) if s["clip"] != clip]
            taken: set[str] = set()
            for cent, tracks, images, ranges in clusters:
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
                conf = cosine(cent, new)
                p["seen"].append({"clip": clip, "sidecar": sidecar, "tracks": tracks, "images": images,
                                  "ranges": ranges, "confidence": round(conf, 3)})  # fmt: skip
                taken.add(best_id)
                out.append((best_id, p.get("name")))
        return out

    def name(self, pid: str, name: str) -> list[str]:
        """Name a person; returns the sidecars it is in (their rewriting is :mod:`kinod.run.people_names`)."""
        with self.locked() as data:
            p = self._person(data, pid)
            p["name"] = name
            return _sidecars(p)

    def merge(self, src: str, dst: str) -> list[str]:
        """``src`` joins ``dst`` (one person found as two); its id points at ``dst`` from now on."""
        if src == dst:
            raise PeopleError(f"{src!r} cannot be merged with itself")
        with self.locked() as data:
            a, b = self._person(data, src), self._person(data, dst)
            na, nb = int(a.get("count", 0)), int(b.get("count", 0))
            if a.get("centroid") and b.get("centroid") and na + nb:
                mix = np.asarray(a["centroid"]) * na + np.asarray(b["centroid"]) * nb
                b["centroid"] = [round(float(v), 6) for v in centroid([mix])]
            b["count"] = na + nb
            b["name"] = b.get("name") or a.get("name")
            b["seen"] = b.get("seen", []) + a.get("seen", [])
            del data["people"][src]
            data.setdefault("aliases", {})[src] = dst
            for seen in a.get("seen", []):
                self._retag_tracks(seen["clip"], {src: dst})
            return _sidecars(b)

    def split(self, pid: str, clips: list[str]) -> tuple[str, list[str]]:
        """The sightings of ``pid`` in ``clips`` become a new person (two people found as one).

        Returns the new id and the sidecars of those clips, whose tracks of ``pid`` now carry it.
        """
        with self.locked() as data:
            p = self._person(data, pid)
            moving = [s for s in p.get("seen", []) if s["clip"] in set(clips)]
            if not moving or len(moving) == len(p.get("seen", [])):
                raise PeopleError(f"{pid}: name some but not all of its clips to split off (see `kinod people`)")
            new = f"person-{data['next']}"
            data["next"] += 1
            p["seen"] = [s for s in p["seen"] if s not in moving]
            data["people"][new] = {"name": None, "centroid": None, "count": len(moving), "seen": moving}
            for person, seen in ((new, moving), (pid, p["seen"])):
                vecs = [np.asarray(t["embedding"], np.float32) for s in seen for t in self._tracks(s["clip"])
                        if t.get("person") == pid and t.get("embedding")]  # fmt: skip
                if vecs:
                    data["people"][person]["centroid"] = [round(float(v), 6) for v in centroid(vecs)]
            p["count"] = len(p["seen"])
        for s in moving:
            self._retag_tracks(s["clip"], {pid: new})
        return new, _sidecars({"seen": moving})

    def _tracks(self, clip: str) -> list[dict[str, Any]]:
        try:
            return list(json.loads(self.track_file(clip).read_text()).get("tracks", []))
        except (OSError, ValueError):
            return []

    def forget(self, pid: str) -> tuple[list[str], list[str]]:
        """Remove a person everywhere in the state dir: (their sidecars, the files deleted or rewritten).

        Embeddings (centroid, track means) and face images go; only the id stays, in
        ``forgotten``, so a record analysed before (the job store's) never shows it again.
        """
        done: list[str] = []
        with self.locked() as data:
            p = self._person(data, pid)
            del data["people"][pid]
            data.setdefault("forgotten", []).append(pid)
            for other, target in list(data.get("aliases", {}).items()):
                if target == pid:  # people merged into the forgotten one are forgotten with it
                    data["forgotten"].append(other)
        for seen in p.get("seen", []):
            for img in seen.get("images", []):
                with contextlib.suppress(FileNotFoundError):
                    Path(img).unlink()
                    done.append(img)
            if self._retag_tracks(seen["clip"], {pid: None}):
                done.append(str(self.track_file(seen["clip"])))
        TrackMatrix(self.dir).invalidate()
        return _sidecars(p), done

    def _person(self, data: dict[str, Any], pid: str) -> dict[str, Any]:
        if pid not in data["people"]:
            raise PeopleError(f"no person {pid!r} in {self.path} (see `kinod people`)")
        return data["people"][pid]

    def _retag_tracks(self, clip: str, change: dict[str, str | None]) -> bool:
        """Give a clip's stored tracks of a person another id; None deletes them (embedding and all)."""
        track_file = self.track_file(clip)
        try:
            rec = json.loads(track_file.read_text())
        except (OSError, ValueError):
            return False
        kept = []
        for t in rec.get("tracks", []):
            if t.get("person") in change:
                if change[t["person"]] is None:
                    continue
                t["person"] = change[t["person"]]
            kept.append(t)
        rec["tracks"] = kept
        write_private_json(track_file, rec)
        TrackMatrix(self.dir).invalidate()
        return True

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


def _sidecars(person: dict[str, Any]) -> list[str]:
    return sorted({s["sidecar"] for s in person.get("seen", []) if s.get("sidecar")})


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
