"""Job planning: a clip's files -> one job per enabled analyzer (keyed by content, analyzer,
version, model and config) and the pass that feeds its stream analyzers.

Also planning again after a config change (:meth:`Planner.replan_known`).
"""

from __future__ import annotations

import os
from pathlib import Path

import structlog

from kinod.config import Config
from kinod.export.layout import clip_out_dir
from kinod.export.sidecar import (
    sidecar_path,
)
from kinod.jobs.scheduler import PASS_PRIORITY
from kinod.jobs.store import ClipRecord, JobSpec, JobStore
from kinod.media.cache import AnalysisCache
from kinod.media.cards.model import ClipFiles
from kinod.media.fingerprint import clip_fingerprint
from kinod.run.analyzer_set import AnalyzerSet
from kinod.run.common import (
    ClipError,
    ClipPlan,
    _os_message,
    cache_dir_for,
)

log = structlog.get_logger("kinod.run.processor")


class Planner:
    """Plans clips into the job store: one job per enabled analyzer, and the pass that feeds them."""

    def __init__(self, config: Config, store: JobStore, analyzers: AnalyzerSet) -> None:
        self.config = config
        self.store = store
        self.analyzers = analyzers

    def specs(self, fp: str, path: Path) -> dict[str, JobSpec]:
        return self.analyzers.specs(fp, path)

    def cache_dir(self, fp: str) -> Path:
        return cache_dir_for(self.config, fp)

    def _cache_ready(self, fp: str) -> bool:
        """A finished cache that also holds the frames today's model analyzers want."""
        try:
            return AnalysisCache.open(self.cache_dir(fp)).covers(self.analyzers.cache_frame_spec())
        except (OSError, ValueError, KeyError):
            return False

    def enqueue_clip(
        self,
        clip: ClipFiles,
        out_dir: Path,
        *,
        card_rank: float = 0.0,
        force: bool = False,
        retry_failed: bool = False,
        owner: str | None = None,
        fp: str | None = None,
    ) -> ClipPlan:
        """Queue what this clip still needs. Raises ClipError for a file that cannot be read.

        ``clip`` is the whole clip as its card layout grouped it (a spanned recording's
        chapters, a P2 clip's audio essences, the camera's facts, its card): one
        fingerprint, one pass and one sidecar. It is stored with the clip's row, where
        planning again, resuming and retrying read it back.
        """
        clip = clip.with_paths(lambda p: str(Path(p).absolute()))
        path = clip.first
        every = list(clip.files)
        try:
            st = os.stat(path)
            size = clip.sequence.size if clip.sequence else sum(os.stat(p).st_size for p in every)
            fp = fp or clip_fingerprint(every, clip.sequence)
        except OSError as e:
            raise ClipError(_os_message(Path(e.filename or path), e)) from None
        specs = self.specs(fp, path)
        keys = {n: s.key for n, s in specs.items()}
        existing = self.store.clips.get(fp)
        if existing is not None and existing.cache == "ready" and not self._cache_ready(fp):
            self.store.clips.set_state(fp, existing.state, existing.last_error, cache="none")
            existing = self.store.clips.get(fp)
        states = self.store.queue.job_states(keys.values())
        redo = ("cancelled", "failed") if retry_failed else ("cancelled",)
        todo = [s for s in specs.values() if force or states.get(s.key) in (None, *redo)]
        if retry_failed:
            for s in todo:
                if states.get(s.key) == "failed":
                    self.store.queue.reset_failed(fp)
                    break
        self.store.clips.upsert(
            fp,
            str(path),
            size,
            clip.card,
            existing.state if existing is not None else "new",
            mtime_ns=st.st_mtime_ns,
            card_path=clip.card_path,
            out_dir=str(out_dir),
            card_rank=card_rank,
            plan=keys,
            clip=clip,
        )
        queued = self.store.queue.enqueue(todo, card_rank=card_rank, force=force, owner=owner)
        states = self.store.queue.job_states(keys.values())
        stream_waiting = any(states.get(s.key) == "queued" and s.kind == "stream" for s in specs.values())
        model_waiting = any(states.get(s.key) == "queued" and s.kind == "model" for s in specs.values())
        cache_ready = existing is not None and existing.cache == "ready"
        pass_queued = False
        if stream_waiting or (model_waiting and not cache_ready):
            cpu = max([s.cpu for s in specs.values() if s.kind == "stream"] or [1])
            pass_queued = self.store.queue.enqueue_pass(
                fp, str(path), priority=PASS_PRIORITY, cpu=cpu, card_rank=card_rank
            )
        plan = ClipPlan(path, fp, out_dir, keys, queued, pass_queued)
        if self.store.queue.is_settled(fp):
            side = sidecar_path(out_dir, path.name)
            here = self.store.clips.by_path(str(path))
            done = here is not None and here.state in ("done", "failed")
            written = self.store.clips.path_sidecar(str(path))
            plan.up_to_date = done and written == str(side) and side.is_file()
            plan.needs_finalize = not plan.up_to_date
        else:
            self.store.clips.set_state(fp, "queued")
        return plan

    def enqueue_known(
        self,
        known: ClipRecord,
        *,
        retry_failed: bool = False,
        owner: str | None = None,
        card_rank: float | None = None,
        rehash: bool = False,
    ) -> ClipPlan:
        """Plan a clip the store knows again, from its stored value (every file, camera facts, card).

        The one way back in for planning again after a config change, resuming after a
        full disk and ``kinod retry``: none of them has the card parser at hand, and none
        may read a spanned recording or a P2 clip as its first file alone. ``rehash``:
        fingerprint the files again (``kinod retry``: content replaced since is new work)
        instead of trusting the stored fingerprint.
        """
        out_dir = clip_out_dir(known.out_dir, known.path, self.config)
        return self.enqueue_clip(
            known.clip, out_dir, card_rank=known.card_rank if card_rank is None else card_rank,
            retry_failed=retry_failed, owner=owner, fp=None if rehash else known.fingerprint,
        )  # fmt: skip

    # Known clips after a config change ------------------------------------------------------------
    def replan_known(self, owner: str | None = None) -> int:
        """Queue the jobs a changed analyzer set or config needs for every known clip; returns clips touched."""
        touched = 0
        for known in self.store.clips.known():
            if not known.path.exists():
                continue
            try:
                plan = self.enqueue_known(known, owner=owner)
            except ClipError as e:
                log.warning("cannot plan clip again", error=str(e))
                continue
            touched += bool(plan.queued or plan.pass_queued)
        return touched

