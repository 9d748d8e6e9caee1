"""Finalize: the sidecar rebuilt from every stored result, its derived files written, the
old outputs of a renamed clip removed, the analysis cache dropped when nothing needs it.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Any

import structlog

from kinod.config import Config
from kinod.export.layout import clip_out_dir, clip_outputs, remove_outputs
from kinod.export.sidecar import (
    build_sidecar,
    sidecar_path,
    write_sidecar,
)
from kinod.export.writers import ExportError, write_formats
from kinod.jobs.pathcodec import printable
from kinod.jobs.rows import JobRow
from kinod.jobs.store import JobStore, PathRecord
from kinod.library.index.update import forget_clip, index_sidecar
from kinod.media.probe import Probe
from kinod.media.span import place
from kinod.run.common import (
    ClipError,
    ClipOutcome,
    _err,
    cache_dir_for,
)
from kinod.run.integrity import cut_at_break
from kinod.run.people_names import relabel_records
from kinod.run.space import is_disk_full

log = structlog.get_logger("kinod.run.processor")


class Finalizer:
    """Writes what a settled clip's stored results add up to (coordinator side: it reads the store)."""

    def __init__(self, config: Config, store: JobStore) -> None:
        self.config = config
        self.store = store

    def finalize(self, fp: str, only: str | None = None) -> ClipOutcome:
        """Write the clip's sidecar and derived files, from everything stored, wherever the clip is.

        The same content found at several paths (a copy on two cards) was analysed once
        and gets a sidecar beside each; ``only`` limits the writing to one path (a clip
        that was just found somewhere new).
        """
        clip = self.store.clips.get(fp)
        if clip is None:
            raise ClipError(f"{fp}: no such clip in the state file")
        places: list[tuple[Path, PathRecord | None]] = [(r.path, r) for r in self.store.clips.paths_of(fp)]
        places = places or [(clip.path, None)]
        self._remove_renamed(places)
        if only is not None:
            places = [pl for pl in places if str(pl[0]) == only] or [(Path(only), None)]
        path = places[0][0]
        keys: dict[str, str] = clip.plan or {}
        rows = {r.key: r for r in self.store.queue.jobs_of(fp)}
        records, failed, stopped = self._stored_results(fp, keys, rows, path)
        if stopped is not None:
            return stopped
        relabel_records(self.config, records)  # names given, people merged or forgotten since the analysis
        present = [(p, r) for p, r in places if p.exists()]
        if not present:
            msg = f"{path}: the file is gone (deleted, moved or its share unmounted); no sidecar written"
            log.error("clip vanished", error=msg)
            self.store.clips.set_state(fp, "missing", msg)
            return ClipOutcome(path, ok=False, error=msg)
        errors: list[dict[str, Any]] = list(clip.errors or [])
        errors += [_err("analyze", m, n) for n, m in failed.items()]
        pr = Probe.from_json(clip.probe) if clip.probe else None
        cut_at_break(records, clip.decode, pr)  # model results of a broken file end at the break, too
        outcome = ClipOutcome(path, ok=False)
        first: ClipOutcome | None = None
        for p, row in present:
            outcome = self._write_place(fp, clip, p, row, pr, records, failed, errors)
            if p == clip.path:
                first = outcome
        first = first or outcome
        self._drop_cache(fp, keys, rows)
        state = "failed" if (pr is None or failed) else "done"
        self.store.clips.set_state(fp, state, first.error, sidecar=str(first.sidecar))
        log.info("clip done", sidecar=str(first.sidecar), failed=sorted(failed) or None, places=len(present))
        return first

    def _stored_results(
        self, fp: str, keys: dict[str, str], rows: dict[str, JobRow], path: Path
    ) -> tuple[dict[str, dict[str, Any]], dict[str, str], ClipOutcome | None]:
        """Each planned analyzer's stored record or failure; a cancelled job stops the clip (third item)."""
        records: dict[str, dict[str, Any]] = {}
        failed: dict[str, str] = {}
        for name, key in keys.items():
            row = rows.get(key)
            if row is not None and row.state == "cancelled":
                self.store.clips.set_state(fp, "cancelled", row.last_error)
                return records, failed, ClipOutcome(path, ok=False, error=row.last_error or "cancelled")
            if row is not None and row.state == "done" and row.record:
                records[name] = row.record
            elif row is not None and row.state == "failed":
                failed[name] = row.last_error or "failed"
        return records, failed, None

    def _write_place(
        self,
        fp: str,
        clip: Any,
        p: Path,
        row: PathRecord | None,
        pr: Probe | None,
        records: dict[str, dict[str, Any]],
        failed: dict[str, str],
        errors: list[dict[str, Any]],
    ) -> ClipOutcome:
        """The sidecar and derived files at one path of the clip (an error sidecar when it was not probed)."""
        out_dir = clip_out_dir(row.out_dir if row is not None else None, p, self.config)
        card = row.card if row is not None else clip.card
        side = sidecar_path(out_dir, p.name)
        if pr is None:
            msg = next((e["message"] for e in errors), None) or self._pass_error(fp) or f"{p}: could not be probed"
            self.write_error_sidecar(p, out_dir, msg, card, fp)
            outcome = ClipOutcome(p, ok=False, sidecar=side, error=msg)
        else:
            markers = [m for rec in records.values() for m in rec.get("markers", [])]
            decode = clip.decode
            spans = (decode or {}).get("parts") or []
            if spans:  # per-file NLE markers land on the right frame after a relink
                markers = [_placed(m, spans) for m in markers]
            analyses = {n: {k: v for k, v in r.items() if k != "markers"} for n, r in records.items()}
            data = build_sidecar(
                source_path=p,
                fingerprint=fp,
                probe=pr,
                analyses=analyses,
                markers=markers,
                errors=errors,
                decode=decode,
                card=card,
            )
            write_sidecar(side, data)
            self.write_outputs(side, data, out_dir)
            problem = "; ".join(failed.values()) or None
            outcome = ClipOutcome(
                p, ok=not failed, sidecar=side, error=problem, media_seconds=pr.duration_s, ran=sorted(records)
            )
        if row is not None:
            self.store.clips.set_path_sidecar(str(p), str(side))
        return outcome

    def _remove_renamed(self, places: list[tuple[Path, PathRecord | None]]) -> None:
        """Outputs of a path that is gone while the same content is at another path (a rename
        or a move): removed, with the path's record, so no stale sidecar names a file that
        is not there. A plain deletion (no other copy) keeps its outputs."""
        here = [p for p, _ in places if p.exists()]
        if not here:
            return
        for p, row in places:
            if row is None or not row.sidecar or p.exists():
                continue
            out_dir = clip_out_dir(row.out_dir, p, self.config)
            removed = remove_outputs(clip_outputs(p, out_dir, self.config))
            self.store.clips.drop_path(str(p))
            forget_clip(self.config.state.dir, p)  # the search index follows the rename
            log.info("renamed clip: old outputs removed", old=str(p), new=str(here[0]), removed=len(removed))

    def write_outputs(self, sidecar_file: Path, sidecar: dict[str, Any], out_dir: Path) -> None:
        """The one place files derived from a finished sidecar are written (search index; OTIO; NLE formats)."""
        index_sidecar(self.config.state.dir, sidecar_file, sidecar, semantic=self.config.search.semantic)
        if not sidecar.get("timeline"):
            return  # a clip that failed to probe has no time axis to put markers on
        try:
            write_formats(printable(sidecar), out_dir, self.config.output.formats, self.config.export)
        except ExportError as e:
            if is_disk_full(str(e)):
                raise OSError(errno.ENOSPC, f"{out_dir}: {e}") from None  # written again once there is space
            log.error("export failed", error=str(e), written=[str(p) for p in e.written])

    def _pass_error(self, fp: str) -> str | None:
        return self.store.queue.pass_error(fp)

    def _drop_cache(self, fp: str, keys: dict[str, str], rows: dict[str, JobRow]) -> None:
        if self.config.media.keep_cache:
            return
        pending = [k for k in keys.values() if rows.get(k) is not None and rows[k].state in ("queued", "running")]
        cache = cache_dir_for(self.config, fp)
        if not pending and cache.exists():
            shutil.rmtree(cache, ignore_errors=True)
            clip = self.store.clips.get(fp)
            if clip is not None:
                self.store.clips.set_state(fp, clip.state, clip.last_error, cache="deleted")

    def write_error_sidecar(self, path: Path, out_dir: Path, message: str, card: str | None, fp: str | None) -> None:
        try:
            size = os.path.getsize(path)
        except OSError:
            size = None
        data = build_sidecar(
            source_path=path,
            fingerprint=fp,
            probe=None,
            analyses={},
            markers=[],
            errors=[_err("probe", message)],
            card=card,
            size=size,
        )
        try:
            write_sidecar(sidecar_path(out_dir, path.name), data)
        except OSError as e:
            log.error("cannot write error sidecar", error=str(e))
            return
        index_sidecar(self.config.state.dir, sidecar_path(out_dir, path.name), data)  # problems are searchable too


def _placed(marker: dict[str, Any], spans: list[dict[str, Any]]) -> dict[str, Any]:
    """The marker with the file of a spanned recording it lies in and its frame there."""
    where = place(int(marker["frame"]), spans)
    return {**marker, "file": where[0], "file_frame": where[1]} if where else marker
