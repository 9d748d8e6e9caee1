"""The daemon's eye on ``<output root>/people/<Name>/``: a dropped reference photo starts a search.

A photo dropped into a person's folder is searched for over the already indexed library
(the faces analyzer's stored track embeddings: nothing is decoded again); the result goes
to ``people/<Name>/matches/<photo stem>/metadata.json`` with the best images, and the
best-matching person in the registry takes the folder's name. Polling (every
``analyzers.faces.people_poll_s``) rather than inotify: the folder usually sits on the
same NAS share as the footage, where events are unreliable, and photos are rare.
Seen photos (path, size, mtime) are remembered in ``<state>/faces/reference-photos.json``.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import structlog

from kinod.analyzers.faces.private import write_private_json

log = structlog.get_logger(__name__)
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


class PeopleFolderWatch:
    def __init__(self, folder: Path, state_dir: Path, cfg: Any, ffmpeg: str = "", config: Any = None) -> None:
        self.folder = folder
        #: The daemon's config: with it, a name is carried to sidecars, index and exports at once.
        self.config = config
        self.state_dir = state_dir
        self.cfg = cfg
        self.ffmpeg = ffmpeg
        self.seen_path = state_dir / "faces" / "reference-photos.json"

    def _seen(self) -> dict[str, list[float]]:
        try:
            return json.loads(self.seen_path.read_text())
        except (OSError, ValueError):
            return {}

    def scan_once(self) -> list[Path]:
        """Search for every new or changed photo; returns the metadata files written."""
        from kinod.analyzers.faces.backends import build_stack
        from kinod.analyzers.faces.find_person import reference_embedding
        from kinod.analyzers.faces.library_search import find_person_in_library
        from kinod.analyzers.faces.people import PeopleRegistry, sync_reference_folder

        if not self.folder.is_dir():
            return []
        seen = self._seen()
        written: list[Path] = []
        for sub in sorted(p for p in self.folder.iterdir() if p.is_dir()):
            for photo in sorted(sub.iterdir()):
                if not photo.is_file() or photo.suffix.lower() not in PHOTO_SUFFIXES:
                    continue
                st = photo.stat()
                stamp = [float(st.st_size), st.st_mtime]
                if seen.get(str(photo)) == stamp:
                    continue
                seen[str(photo)] = stamp
                out = sub / "matches" / photo.stem
                try:
                    meta = find_person_in_library(photo, self.state_dir, out, self.cfg, self.ffmpeg, cut_clips=False)
                    written.append(out / "metadata.json")
                    log.info("reference photo searched", photo=str(photo), clips=len(meta["clips"]))
                except Exception as e:  # a bad photo is reported, never the end of the daemon
                    log.error("reference photo not searched", photo=str(photo), error=str(e))
        if written:
            stack = build_stack(self.cfg)
            embed = lambda p: reference_embedding(p, stack)[0]  # noqa: E731
            if self.config is not None:  # named everywhere at once: sidecars, index, exports
                from kinod.run.people_names import names_from_folder
                names_from_folder(self.config, embed, self.cfg.identity_threshold)
            else:
                sync_reference_folder(PeopleRegistry(self.state_dir), self.folder, embed, self.cfg.identity_threshold)
        write_private_json(self.seen_path, seen)
        return written

    def loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.cfg.people_poll_s):
            try:
                self.scan_once()
            except Exception as e:
                log.error("people folder scan failed", folder=str(self.folder), error=str(e))


def start_people_watch(config: Any, stop: threading.Event) -> threading.Thread | None:
    """Start polling when the faces analyzer is enabled and ``people_poll_s`` > 0."""
    if "faces" not in config.enabled_analyzers:
        return None
    cfg = config.analyzer_config("faces")
    if cfg is None or not getattr(cfg, "people_poll_s", 0):
        return None
    watch = PeopleFolderWatch(config.output.root / "people", config.state.dir, cfg, config.media.ffmpeg, config)
    t = threading.Thread(target=watch.loop, args=(stop,), name="kinod-people", daemon=True)
    t.start()
    return t
