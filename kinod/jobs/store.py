"""The durable job store: one SQLite file (WAL) that is the source of truth for work.

A job is one analyzer on one clip content. Its key hashes the content fingerprint,
the analyzer's name and version, its model's sha256 and its canonical config, so:

* nothing runs twice: a done key is never run again, whatever the clip is called now;
* an upgrade re-runs only what changed: bump one analyzer's version, or change one
  section of config, and only that analyzer's keys are new.

Finished analysis records are kept in the store too, so a sidecar can be rebuilt from
old and new results when only some analyzers re-ran.

Tables:

* ``clips``: one row per content fingerprint (its latest path, the clip value its card
  parser made, probe, cache state), read back as a :class:`~kinod.jobs.clip_record.ClipRecord`;
* ``clip_paths``: every place that content was found (a copy on two cards is analysed
  once and gets a sidecar in both places; a renamed clip moves its row);
* ``jobs``: one row per analyzer job, ``queued -> running -> done | failed | cancelled``;
  ``running`` carries a lease (owner, expiry) that a heartbeat renews, so work held
  by a dead daemon goes back to ``queued``;
* ``passes``: the per-clip decode pass that runs the clip's pending *stream* jobs and
  leaves the analysis cache (leased like a job; it is plumbing, not a result);
* ``cards``: what the watcher handed on (its file list, so a restart does not settle
  the whole library again) and how far it got;
* ``job_events``: an append-only log of every transition (who started what, OOM
  retries), so "each job completed exactly once" can be checked, not hoped for.

The connection is :class:`kinod.jobs.db.Db` (open, migrate, transactions, meta, the
event log); :class:`JobStore` is that connection with its repositories: ``.queue``
(:mod:`kinod.jobs.queue_store`), ``.cards`` (:mod:`kinod.jobs.card_store`) and ``.clips``
(:mod:`kinod.jobs.clip_store`). Only these modules write SQL; the schema and the
documented state machines are in :mod:`kinod.jobs.schema`.
"""

from __future__ import annotations

from pathlib import Path

from kinod.jobs.card_store import CardRecord, CardRepo
from kinod.jobs.clip_record import ClipRecord, PathRecord
from kinod.jobs.clip_store import ClipRepo
from kinod.jobs.db import Db, JobEvent
from kinod.jobs.queue_store import QueueRepo
from kinod.jobs.schema import (
    ACTIVE,
    FINAL,
    JOB_STATES_ORDER,
    PASS_PREFIX,
    CardState,
    ClipState,
    JobSpec,
    JobState,
    PassState,
    StoreError,
    job_key,
    pass_key,
)

__all__ = [
    "ACTIVE",
    "FINAL",
    "JOB_STATES_ORDER",
    "PASS_PREFIX",
    "CardRecord",
    "CardState",
    "ClipRecord",
    "ClipState",
    "JobEvent",
    "JobSpec",
    "JobState",
    "JobStore",
    "PassState",
    "PathRecord",
    "StoreError",
    "job_key",
    "pass_key",
]


class JobStore(Db):
    """The state file: one connection (:class:`Db`) and the repositories that speak SQL over it."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        super().__init__(path, readonly=readonly)
        self.queue = QueueRepo(self)
        self.cards = CardRepo(self)
        self.clips = ClipRepo(self)
