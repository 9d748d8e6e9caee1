"""The job store's schema, states and keys: what the state file holds and what its values mean.

Kept apart from :mod:`kinod.jobs.store` (the SQL that reads and writes it) so the
state machines can be read on one page. The states are :class:`enum.StrEnum` so
they compare equal to the strings stored in SQLite.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS clips (
    fingerprint TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    size INTEGER,
    card TEXT,
    state TEXT NOT NULL DEFAULT 'new',
    sidecar TEXT,
    last_error TEXT,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS clips_path ON clips(path);
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    analyzer TEXT NOT NULL,
    version TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    model_sha256 TEXT,
    path TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued','running','done','failed','cancelled')),
    priority INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    lease_owner TEXT,
    lease_until REAL,
    record TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, priority);
CREATE INDEX IF NOT EXISTS jobs_fp ON jobs(fingerprint);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
CREATE TABLE IF NOT EXISTS passes (
    fingerprint TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued','running','done','failed','cancelled')),
    priority INTEGER NOT NULL DEFAULT 0,
    cpu INTEGER NOT NULL DEFAULT 1,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    lease_owner TEXT,
    lease_until REAL,
    card_rank REAL NOT NULL DEFAULT 0,
    note TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    started REAL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS passes_state ON passes(state, priority);
CREATE TABLE IF NOT EXISTS cards (
    key TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    path TEXT NOT NULL,
    name TEXT,
    loose INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    seen REAL,
    ready REAL,
    done REAL,
    clips INTEGER NOT NULL DEFAULT 0,
    files TEXT,
    last_error TEXT,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS job_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT,
    analyzer TEXT,
    event TEXT NOT NULL,
    owner TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS job_events_key ON job_events(key);
CREATE INDEX IF NOT EXISTS job_events_fp ON job_events(fingerprint, event);
CREATE TABLE IF NOT EXISTS clip_paths (
    path TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    out_dir TEXT,
    card TEXT,
    card_path TEXT,
    size INTEGER,
    mtime_ns INTEGER,
    sidecar TEXT,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS clip_paths_fp ON clip_paths(fingerprint);
CREATE INDEX IF NOT EXISTS clip_paths_card ON clip_paths(card_path);
"""
#: Columns added after schema 1, with their SQL type: ALTER TABLE adds them to old files.
ADDED_COLUMNS: dict[str, dict[str, str]] = {
    "clips": {
        "mtime_ns": "INTEGER",
        "card_path": "TEXT",
        "out_dir": "TEXT",
        "probe": "TEXT",
        "decode": "TEXT",
        "errors": "TEXT",
        "cache": "TEXT NOT NULL DEFAULT 'none'",
        "plan": "TEXT",
        "card_rank": "REAL NOT NULL DEFAULT 0",
        # the clip value (ClipFiles.to_json: chapters in order, audio essences, camera facts, card); every
        # path that plans the clip again reads it. NULL (rows of older versions): the file at path alone
        "parts": "TEXT",
        # seconds of footage (from the probe, once the pass has run): model jobs of a card go longest first
        "duration_s": "REAL",
    },
    "jobs": {
        "kind": "TEXT NOT NULL DEFAULT 'stream'",
        "cpu": "INTEGER NOT NULL DEFAULT 1",
        "gpu": "INTEGER NOT NULL DEFAULT 0",
        "gpu_mem_mb": "INTEGER NOT NULL DEFAULT 0",
        "options": "TEXT",
        "note": "TEXT",
        "card_rank": "REAL NOT NULL DEFAULT 0",
        "started": "REAL",
        "finished": "REAL",
        "queued_at": "REAL",
    },
    "cards": {
        # the card's MHL verification and recorded hashes (JSON), kept for its report after a restart
        "verification": "TEXT",
    },
    "passes": {
        # frames decoded so far by a running pass: progress for people and a condition tests can wait on
        "frames_done": "INTEGER NOT NULL DEFAULT 0",
    },
}
POST_MIGRATION = """
CREATE INDEX IF NOT EXISTS clips_card ON clips(card_path);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs(state, kind, priority, card_rank);
"""
SCHEMA_VERSION = "2"


class ClipState(enum.StrEnum):
    """A clip (one content fingerprint). ``new`` -> ``queued`` (planned) -> ``done`` |
    ``failed`` (finalized: sidecar written; failed when an analyzer or the probe failed);
    ``cancelled`` (changed or deleted while worked on: planned again once settled);
    ``missing`` (gone when it was to be finalized). ``kinod retry`` takes ``failed``
    back to ``queued``; a new config or analyzer version takes ``done`` back too."""

    NEW = "new"
    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    MISSING = "missing"


class JobState(enum.StrEnum):
    """A job (one analyzer on one clip) and a pass (one decode of one clip) alike:
    ``queued`` -> ``running`` (leased: owner + expiry, renewed by heartbeats; a dead
    owner's lease returns it to ``queued``) -> ``done`` | ``failed`` (for good, after
    ``jobs.max_attempts`` or an error that would happen again) | ``cancelled`` (its
    clip changed, vanished or was stopped). An out-of-memory model job goes back to
    ``queued`` with a smaller batch or on the CPU."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: A pass moves through the same states as a job.
PassState = JobState


class CardState(enum.StrEnum):
    """A card: ``settling`` (seen, files still changing) -> ``ready`` (copy-complete) ->
    ``queued`` (verified when it has an MHL, its clips planned) -> ``done`` | ``failed``
    (every clip finalized; failed when verification failed or a clip failed). A card
    whose files change after that settles again."""

    SETTLING = "settling"
    READY = "ready"
    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"


ACTIVE = ("queued", "running")
JOB_STATES_ORDER = ("queued", "running", "done", "failed", "cancelled")
FINAL = ("done", "failed", "cancelled")
PASS_PREFIX = "pass:"


def job_key(fingerprint: str, analyzer: str, version: str, config_hash: str, model_sha256: str | None) -> str:
    parts = [fingerprint, analyzer, version, model_sha256 or "", config_hash]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def pass_key(fingerprint: str) -> str:
    return PASS_PREFIX + fingerprint


@dataclass(frozen=True)
class JobSpec:
    key: str
    fingerprint: str
    analyzer: str
    version: str
    config_hash: str
    model_sha256: str | None
    path: str
    kind: str = "stream"
    priority: int = 0
    cpu: int = 1
    gpu: int = 0
    gpu_mem_mb: int = 0


class StoreError(RuntimeError):
    """The state file cannot be opened or is not ours; the message names it."""
