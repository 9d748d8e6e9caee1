"""The files a distributed run keeps on shared storage, under ``<state.shared_dir>/dist``
(``state.shared_dir`` defaults to ``state.dir``).

Why files and not only broker messages: the broker may lose everything (Redis restarted
without persistence) and the coordinator may be killed, but a file written atomically
on the shared storage survives both. So the broker only *moves* work and wakes people
up; what happened is decided by these files and by the coordinator's SQLite store:

* ``outbox/<token>.json``: the task as sent (written by the coordinator before sending),
  so a restarted coordinator knows what it had in flight;
* ``claims/<token>``: a worker runs it (created with ``O_EXCL``; its mtime is the
  worker's heartbeat). A second delivery of the same message sees a fresh claim and
  does nothing: at-least-once delivery, exactly-once execution;
* ``results/<token>.json``: the outcome, written atomically when the task ended;
* ``cancel/<token>``: the coordinator asks the task to stop.

A token is ``<job key>.<attempt>``: a later attempt of the same job never mistakes an
earlier attempt's files for its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kinod.jobs.tasks import OutOfMemory, Task, TaskOutcome
from kinod.media.fsutil import atomic_write_json


def token_of(task: Task) -> str:
    return f"{task.key.replace('/', '_')}.{task.attempts}"


def task_from_json(d: dict[str, Any]) -> Task:
    return Task.from_json(d)


def outcome_to_json(o: TaskOutcome) -> dict[str, Any]:
    return asdict(o)


def outcome_from_json(d: dict[str, Any]) -> TaskOutcome:
    d = dict(d)
    if d.get("oom"):
        d["oom"] = OutOfMemory(**d["oom"])
    return TaskOutcome(**d)


class DistFiles:
    def __init__(self, shared_dir: Path) -> None:
        self.root = shared_dir / "dist"
        self.outbox = self.root / "outbox"
        self.claims = self.root / "claims"
        self.results = self.root / "results"
        self.cancels = self.root / "cancel"
        self.workers = self.root / "workers"

    def ensure(self) -> DistFiles:
        for d in (self.outbox, self.claims, self.results, self.cancels, self.workers):
            d.mkdir(parents=True, exist_ok=True)
        return self

    # Coordinator side -------------------------------------------------------------------------
    def put_outbox(self, token: str, task: Task, queue: str, expect: dict[str, str | None]) -> None:
        atomic_write_json(
            self.outbox / f"{token}.json",
            {"task": task.to_json(), "queue": queue, "expect": expect, "sent_at": time.time()},
        )

    def outbox_entries(self) -> list[dict[str, Any]]:
        out = []
        for f in sorted(self.outbox.glob("*.json")):
            try:
                out.append(json.loads(f.read_text()))
            except (OSError, ValueError):
                continue
        return out

    def result(self, token: str) -> TaskOutcome | None:
        try:
            data = json.loads((self.results / f"{token}.json").read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            return TaskOutcome(token, "failed", f"result file {token}.json unreadable: {e}", retriable=True)
        return outcome_from_json(data["outcome"])

    def result_worker(self, token: str) -> str | None:
        try:
            return str(json.loads((self.results / f"{token}.json").read_text()).get("worker"))
        except (OSError, ValueError):
            return None

    def cancel(self, token: str) -> None:
        with contextlib.suppress(OSError):
            (self.cancels / token).touch()

    def forget(self, token: str) -> None:
        """The coordinator recorded the outcome in SQLite: the files have done their job."""
        for p in (
            self.outbox / f"{token}.json",
            self.results / f"{token}.json",
            self.claims / token,
            self.cancels / token,
        ):
            with contextlib.suppress(OSError):
                p.unlink()

    def prune(self, keep: set[str], workers_older_than_s: float = 86400.0) -> int:
        """At coordinator start: drop files of tokens no longer in flight, and long-dead worker records."""
        n = 0
        for folder, suffix in ((self.results, ".json"), (self.claims, ""), (self.cancels, "")):
            for p in folder.iterdir() if folder.is_dir() else []:
                token = p.name.removesuffix(suffix) if suffix else p.name
                if token not in keep and not p.name.startswith("."):
                    with contextlib.suppress(OSError):
                        p.unlink()
                        n += 1
        cutoff = time.time() - workers_older_than_s
        for p in self.workers.glob("*.json") if self.workers.is_dir() else []:
            with contextlib.suppress(OSError):
                if p.stat().st_mtime < cutoff:
                    p.unlink()
                    n += 1
        return n

    def claim_age(self, token: str, now: float | None = None) -> float | None:
        """Seconds since the claim's last heartbeat, None when no worker claimed it."""
        try:
            st = (self.claims / token).stat()
        except OSError:
            return None
        return (time.time() if now is None else now) - st.st_mtime

    # Worker side ----------------------------------------------------------------------------------
    def cancelled(self, token: str) -> bool:
        return (self.cancels / token).exists()

    def try_claim(self, token: str, worker: str, stale_after: float) -> bool:
        """Take the task; False when another live worker holds it (a duplicate delivery)."""
        path = self.claims / token
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            age = self.claim_age(token)
            if age is not None and age < stale_after:
                return False
            # the holder stopped beating: take over (rename is atomic; last writer wins)
            tmp = self.claims / f".{token}.{os.getpid()}.tmp"
            tmp.write_text(worker)
            os.replace(tmp, path)
            return True
        with os.fdopen(fd, "w") as fh:
            fh.write(worker)
        return True

    def beat(self, token: str) -> None:
        with contextlib.suppress(OSError):
            os.utime(self.claims / token)

    def put_result(self, token: str, outcome: TaskOutcome, worker: str) -> None:
        atomic_write_json(
            self.results / f"{token}.json",
            {"worker": worker, "written_at": time.time(), "outcome": outcome_to_json(outcome)},
        )
