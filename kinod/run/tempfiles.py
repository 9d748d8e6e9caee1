"""kinod's own orphaned temp files: found and removed, never left in the output root.

WHY: :func:`kinod.media.fsutil.atomic_write_bytes` writes ``.<name>.<random>.tmp`` and
renames it into place; a ``kill -9`` (or a power cut) between the two leaves the temp
file for good (``.B002.mp4.fcp7.xml.k3j9x_2a.tmp`` was seen after a restart). Only
names of that exact shape, and proxy partials (``.<name>.kinod-partial*``), are
touched, and only in the output root, which belongs to kinod.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import structlog

from kinod.jobs.store import JobStore
from kinod.media.fsutil import TEMP_NAME, fit_name, name_max
from kinod.media.proxy import PARTIAL

log = structlog.get_logger(__name__)


def is_kinod_temp(name: str) -> bool:
    return bool(TEMP_NAME.match(name)) or (name.startswith(".") and PARTIAL in name)


def _remove(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
    except OSError as e:
        log.warning("cannot remove an orphaned temp file", path=str(path), error=e.strerror or str(e))
        return False


def sweep(root: Path, older_than: float | None = None) -> list[Path]:
    """Remove every kinod temp file below ``root``; returns what was removed. Never raises.

    ``older_than`` (a Unix time) spares files written since: the daemon's own writers
    start while the sweep still runs.
    """
    removed: list[Path] = []
    for dirpath, _dirs, files in os.walk(root, onerror=lambda e: None, followlinks=False):
        for name in files:
            if not is_kinod_temp(name):
                continue
            p = Path(dirpath) / name
            try:
                if older_than is not None and p.lstat().st_mtime >= older_than:
                    continue
            except OSError:
                continue
            if _remove(p):
                removed.append(p)
    return removed


def start_sweep(root: Path) -> threading.Thread:
    """Sweep the output root on a background thread (a big library must not delay start)."""

    started = time.time()

    def run() -> None:
        removed = sweep(root, older_than=started)
        log.info("orphaned temp files removed", root=str(root), files=len(removed),
                 examples=[str(p) for p in removed[:5]])

    t = threading.Thread(target=run, name="kinod-temp-sweep", daemon=True)
    t.start()
    return t


def clip_temp_prefix(out_dir: Path, clip_name: str) -> bytes:
    """The start shared by the temp names of every output of a clip (see ``fsutil.temp_prefix``)."""
    raw = os.fsencode("." + fit_name(clip_name, out_dir) + ".")
    return raw[: name_max(str(out_dir)) - (1 + 8 + 4)]


def remove_clip_temps(places: Iterable[tuple[Path, Path]]) -> list[Path]:
    """Before a clip's outputs are written again: remove its orphaned temp files.

    ``places`` are (clip path, output folder) pairs. Finalizing runs on one thread, so a
    temp file of this clip found now belongs to a writer that died.
    """
    removed: list[Path] = []
    for clip, out_dir in places:
        prefix = clip_temp_prefix(out_dir, clip.name)
        try:
            entries = list(os.scandir(out_dir))
        except OSError:
            continue
        for e in entries:
            if os.fsencode(e.name).startswith(prefix) and is_kinod_temp(e.name) and _remove(Path(e.path)):
                removed.append(Path(e.path))
    if removed:
        log.info("orphaned temp files of the clip removed", files=[str(p) for p in removed])
    return removed


def remove_temps_of(store: JobStore, fp: str) -> list[Path]:
    """:func:`remove_clip_temps` for every place the clip with fingerprint ``fp`` is known at."""
    places = [(r.path, r.out_dir) for r in store.clips.paths_of(fp) if r.out_dir]
    return remove_clip_temps(places)
