"""The card lifecycle in the daemon: settle -> verify -> plan -> done | failed, with the report.

The steps themselves (where cards begin, verification, what travels with a clip, the
report) are :class:`kinod.run.card_lifecycle.CardLifecycle`, shared with ``kinod scan``;
this room adds what only the daemon has: the store's card states, threads and metrics.

    seen (settling) ──ready──▶ verify (MHL, record_hashes; own thread) ──▶ plan clips (queued)
                                   └─ failed: report, nothing analysed      └─▶ last clip done: report

Why its own room: the daemon only wires threads; what a card goes through, and when
its report is written, reads here in one place. MHL verification reads every byte of
the card, so it runs on a thread of its own, not on the intake thread that plans
other cards' clips and writes sidecars; its result (hashes included) is stored with
the card, so a restart between planning and the last clip still reports it.
The states are :class:`kinod.jobs.schema.CardState`.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import structlog

from kinod.config import Config
from kinod.jobs.store import JobStore
from kinod.library.index.update import forget_clip
from kinod.media.cards import Card
from kinod.media.cards.model import ClipFiles
from kinod.media.mhl import Verification
from kinod.run.card_errors import clips_coming_back
from kinod.run.card_lifecycle import CardLifecycle
from kinod.run.processor import ClipError, ClipProcessor
from kinod.run.renames import clip_planning_failed, record_output_failure
from kinod.run.space import SpaceGuard
from kinod.run.tempfiles import remove_temps_of
from kinod.watch.cards import CardRef, OpenCard
from kinod.watch.events import CardChanged, CardReady, CardSeen

log = structlog.get_logger("kinod.service.daemon")


class CardHost(Protocol):
    """What the card lifecycle reads from the daemon (its current config and parts)."""

    config: Config
    store: JobStore
    processor: ClipProcessor
    metrics: Any
    scheduler: Any
    space: SpaceGuard
    owner: str
    once: bool
    stop_event: threading.Event

    def submit(self, kind: str, arg: Any) -> None: ...


class CardService:
    def __init__(self, host: CardHost) -> None:
        self.host = host
        self.store = host.store
        self._verify = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kinod-verify")
        self._lock = threading.Lock()
        self._verifying: set[str] = set()
        self.life = CardLifecycle(host.config)
        #: The parsed cards whose clips are planned, by key: their report needs no second parse.
        self._layouts: dict[str, Card | None] = {}

    def busy(self) -> bool:
        """True while a card is being verified (its clips are not planned yet)."""
        with self._lock:
            return bool(self._verifying)

    def close(self) -> None:
        self._verify.shutdown(wait=False, cancel_futures=True)

    # Watcher thread -----------------------------------------------------------------------------
    def changed(self, ev: CardChanged) -> None:
        """Runs on a watcher thread: work on files that changed or went away is cancelled."""
        fps: dict[str, str] = {}
        changed = "changed (still being copied?) while it was processed; cancelled, it runs again once settled"
        deleted = "was deleted (or moved away) while it was processed; cancelled"
        for p, why in [(p, changed) for p in ev.changed] + [(p, deleted) for p in ev.removed]:
            row = self.store.clips.by_path(str(p))
            if row is None:
                continue
            if self.store.queue.is_settled(row.fingerprint):
                # Moved or deleted after it was done: results stay by content, and the path's
                # record stays until the content is finalized at a new path (a rename), which
                # then removes the old outputs (Finalizer._remove_renamed).
                if p in ev.removed:
                    forget_clip(self.host.config.state.dir, p)  # the search index: that path is no hit any more
                continue
            fps[row.fingerprint] = f"{p}: the file {why}"
        for fp, reason in fps.items():
            log.warning("cancelling work on a changed file", reason=reason)
            self.store.clips.set_state(fp, "cancelled", reason)
            self.host.metrics.errors.labels("vanished" if "deleted" in reason else "changed_while_processing").inc()
        for fp, reason in fps.items():
            self.host.scheduler.cancel_fingerprints([fp], reason)

    # Intake thread ------------------------------------------------------------------------------
    def seen(self, ev: CardSeen) -> None:
        """A card is settling: recorded so status shows it."""
        c = ev.card
        known = self.store.cards.get(c.key)
        if known is None or known.state in ("done", "failed"):
            self.store.cards.upsert(
                c.key, root=str(c.root), path=str(c.path), name=c.name, loose=c.loose, state="settling"
            )

    def ready(self, ev: CardReady) -> None:
        """A folder is copy-complete: each of its cards is verified off this thread (cards with a folder), then planned.

        A folder of card folders is several cards (:func:`kinod.watch.cards.open_cards`);
        its own row then only keeps the file list the watcher compares with.
        """
        opened = ev.cards or (self._opened(ev),)
        if any(o.within is not None for o in opened):
            c = ev.card
            self.store.cards.upsert(
                c.key, root=str(c.root), path=str(c.path), name=c.name, loose=c.loose, state="done",
                files=ev.files, clips=len(ev.clips),
            )  # fmt: skip
        for o in opened:
            c = o.ref
            self.store.cards.upsert(
                c.key, root=str(c.root), path=str(c.path), name=c.name, loose=c.loose, state="ready",
                clips=len(o.clips),
            )  # fmt: skip
            log.info("card ready", card=str(c.path), clips=len(o.clips), verify=not c.loose)
            if c.loose:
                self.plan(o, None)
                continue
            with self._lock:
                self._verifying.add(c.key)
            self._verify.submit(self._verify_card, o)

    @staticmethod
    def _opened(ev: CardReady) -> OpenCard:
        """A card handed on without being opened: its clips as the event names them, parsed at report time."""
        clips = [ev.parts.get(p) or ClipFiles.alone(p) for p in ev.clips]
        return OpenCard(ev.card, ev.files, None, clips)

    def _verify_card(self, card: OpenCard) -> None:
        try:
            t0 = time.monotonic()  # verification reads every byte: say how long that took
            verification = self.life.verify(card.ref)
            log.info("card verified", card=str(card.ref.path), seconds=round(time.monotonic() - t0, 1))
            self.host.submit("verified", (card, verification))
        finally:
            with self._lock:
                self._verifying.discard(card.ref.key)

    def plan(self, card: OpenCard, verification: Verification | None) -> None:
        """Plan a (verified) card's clips; a card that failed verification is reported and left."""
        c = card.ref
        rank = self.store.cards.rank(c.key)
        files = None if card.within is not None else card.files  # the watcher compares the folder's list
        why = self.life.refused(c, verification)
        if why is not None:
            self.host.metrics.errors.labels("verification").inc()
            self.store.cards.upsert(
                c.key, root=str(c.root), path=str(c.path), name=c.name, loose=c.loose, state="failed",
                files=files, clips=len(card.clips), error=why,
            )  # fmt: skip
            self.store.cards.set_state(c.key, "failed")
            self.host.metrics.cards_done.labels("failed").inc()
            self.life.report(c, [], verification, card.layout)
            return
        self.store.cards.set_verification(c.key, verification.to_record() if verification is not None else None)
        with self._lock:
            self._layouts[c.key] = card.layout
        problems: list[str] = []
        for clip_files in self.life.clips(card):
            clip = clip_files.first
            if self.host.stop_event.is_set() and not self.host.once:
                return  # not recorded as handled: the next start plans it again
            if self._unchanged(card, clip):
                continue
            out_dir = self.life.out_dir(clip)
            try:
                value = clip_files.on_card(c.name, c.path)
                plan = self.host.processor.enqueue_clip(value, out_dir, card_rank=rank, owner=self.host.owner)
            except ClipError as e:
                problems.append(str(e))
                self.host.metrics.errors.labels("vanished" if not clip.exists() else "unreadable").inc()
                log.error("cannot read clip", error=str(e))
                self.host.processor.write_error_sidecar(clip, out_dir, str(e), c.name, None)
                continue
            except Exception as e:  # one bad clip never stops its siblings
                problems.append(clip_planning_failed(clip, e))
                self.host.metrics.errors.labels("unreadable").inc()
                continue
            if plan.queued or plan.pass_queued:
                self.host.metrics.clips_queued.inc()
            if plan.needs_finalize:
                self.finalize(plan.fingerprint, only=str(clip))
        self.store.cards.upsert(
            c.key, root=str(c.root), path=str(c.path), name=c.name, loose=c.loose, state="queued",
            files=files, clips=len(card.clips), error="; ".join(problems) or None,
        )  # fmt: skip
        if problems and card.within is not None:  # ``kinod retry`` settles the folder the watcher knows again
            w = card.within
            self.store.cards.upsert(
                w.key, root=str(w.root), path=str(w.path), name=w.name, loose=w.loose, state="failed",
                error="; ".join(problems),
            )  # fmt: skip
        self.host.scheduler.notify()
        log.info("card queued", card=str(c.path), clips=len(card.clips), problems=len(problems) or None)
        self.check(str(c.path), c.key, failed_reads=len(problems))

    def _unchanged(self, card: OpenCard, clip: Path) -> bool:
        """Known at this path with the same size and mtime, and planned or finished: nothing to do."""
        sig = card.files.get(clip.relative_to(card.ref.path).as_posix())
        known = self.store.clips.by_path(str(clip))
        return (
            known is not None
            and sig is not None
            and known.at is not None
            and (known.at.size, known.at.mtime_ns) == sig
            and known.state in ("done", "failed", "queued", "running")
        )

    def finalize(self, fp: str, only: str | None = None) -> None:
        """A clip's work is over: its sidecar and outputs, then its card if that was the last clip."""
        remove_temps_of(self.store, fp)  # a writer killed earlier left these
        try:
            out = self.host.processor.finalize(fp, only=only)
        except Exception as e:  # any failure to write ends the clip as failed, with the reason ...
            note = "clip outputs wait for space"  # ... except lack of space: then it waits for space
            if self.host.space.defer_if_full(("finalize", fp), e, note=note, fingerprint=fp):
                return
            self.host.metrics.errors.labels("finalize").inc()
            why = record_output_failure(self.store, fp, e)
            log.error("cannot write the clip's outputs", fingerprint=fp, error=why)
            out = None
        if out is not None and out.error and "file is gone" in out.error:
            self.host.metrics.errors.labels("vanished").inc()
        for row in self.store.clips.paths_of(fp):
            if row.card_path and (only is None or str(row.path) == only):
                key = self.store.cards.key_at(row.card_path)
                if key is not None:
                    self.check(row.card_path, key)

    def check(self, card_path: str, key: str, failed_reads: int = 0) -> None:
        """When none of a card's clips is waiting any more: its state, report and timelines."""
        progress = self.store.cards.progress(card_path)
        if any(progress.get(s) for s in ("new", "queued", "running")):
            return
        if clips_coming_back(self.store, card_path):  # a clip still settling: not counted done twice
            return
        card = self.store.cards.get(key)
        if card is None or card.state not in ("queued", "ready"):
            return
        failed = failed_reads or card.last_error or any(progress.get(s) for s in ("failed", "missing"))
        state = "failed" if failed else "done"
        self.store.cards.set_state(key, state)
        self.host.metrics.cards_done.labels(state).inc()
        log.info("card finished", card=card_path, state=state, clips=progress)
        with self._lock:
            layout = self._layouts.pop(key, None)
        if not card.loose:
            verification = Verification.from_record(card.verification) if card.verification else None
            ref = CardRef(Path(card_path).parent, Path(card_path))
            self.life.report(ref, self.store.cards.sidecars(card_path), verification, layout)
