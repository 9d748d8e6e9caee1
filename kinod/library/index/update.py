"""Keeping the index in step with the sidecars: one clip as it is finalized, or all of them.

The daemon calls :func:`index_sidecar` right after it writes a clip's sidecar (first
analysis, re-analysis, a clip found at a new path) and :func:`forget_clip` when a clip's
file is gone; ``kinod reindex`` calls :func:`reindex` to rebuild from the output tree.
None of these ever raise into the daemon: a broken index costs search, not analysis.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from kinod.export.sidecar import SIDECAR_SUFFIX, SidecarError, read_sidecar
from kinod.library.index.db import SearchIndex, index_path
from kinod.library.index.extract import ClipDoc, clip_doc
from kinod.library.index.semantic import attach_vectors

log = structlog.get_logger(__name__)


def open_index(state_dir: Path, *, readonly: bool = False) -> SearchIndex:
    return SearchIndex(index_path(state_dir), readonly=readonly)


def index_sidecar(
    state_dir: Path, sidecar_file: Path, data: dict[str, Any] | None = None, *, semantic: bool = False
) -> bool:
    """(Re)index one clip from its sidecar (with MiniLM vectors when ``semantic``); False (logged) on failure."""
    try:
        if data is None:
            data = read_sidecar(sidecar_file)
        doc = clip_doc(data, Path(sidecar_file).absolute())
        if semantic:
            attach_vectors(doc)
        mtime = Path(sidecar_file).stat().st_mtime
        n = open_index(state_dir).upsert(doc, mtime)
    except Exception as e:  # the daemon must keep analysing whatever the index does
        log.error("search index: clip not indexed", sidecar=str(sidecar_file), error=str(e))
        return False
    log.debug("search index: clip indexed", sidecar=str(sidecar_file), entries=n)
    return True


def forget_clip(state_dir: Path, source_path: Path | str) -> None:
    """Drop a clip whose original is gone (deleted, or renamed: the new path is indexed when finalized)."""
    try:
        open_index(state_dir).forget(path=str(source_path))
    except Exception as e:
        log.error("search index: clip not dropped", path=str(source_path), error=str(e))


def iter_sidecars(root: Path) -> Iterator[Path]:
    """Every clip sidecar under ``root`` (card reports are not clips), without following symlinks."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "keyframes")
        for name in sorted(filenames):
            if name.endswith(SIDECAR_SUFFIX) and name != "card" + SIDECAR_SUFFIX and not name.startswith("."):
                yield Path(dirpath) / name


@dataclass
class ReindexReport:
    indexed: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[str] = field(default_factory=list)


def reindex(state_dir: Path, output_root: Path, *, full: bool = True, semantic: bool = False) -> ReindexReport:
    """Rebuild from the sidecars under ``output_root``; ``full=False`` skips sidecars unchanged since indexed."""
    index = open_index(state_dir)
    report = ReindexReport()
    if full:
        index.clear()
    known = index.sidecar_mtimes()
    seen: set[str] = set()

    def changed() -> Iterator[tuple[ClipDoc, float]]:
        for f in iter_sidecars(Path(output_root).absolute()):
            seen.add(str(f))
            try:
                mtime = f.stat().st_mtime
            except OSError as e:
                report.failed.append(f"{f}: {e.strerror}")
                continue
            if not full and known.get(str(f)) == mtime:
                report.unchanged += 1
                continue
            try:
                doc = clip_doc(read_sidecar(f), f)
            except (SidecarError, ValueError) as e:
                report.failed.append(str(e))
                continue
            if semantic:
                attach_vectors(doc)
            yield doc, mtime

    report.indexed = index.upsert_many(changed())
    for gone in set(known) - seen:
        report.removed += index.forget(sidecar=gone)
    index.optimize()
    return report
