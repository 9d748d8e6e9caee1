"""``kinod status``, ``kinod retry`` and ``kinod forget``: the state file from the command line.

They work while the daemon runs: SQLite in WAL mode lets a reader look while the
daemon writes, and ``retry`` only queues rows that the daemon's scheduler picks up
on its next refill (within a second). ``forget`` drops state only; outputs stay.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kinod.config import Config
from kinod.jobs.store import JOB_STATES_ORDER, JobStore, StoreError

DB_NAME = "kinod.sqlite"
LOCK_NAME = "kinod.lock"


def register(subparsers: Any) -> None:
    """Add the three commands to ``kinod``'s sub-command parser."""
    st = subparsers.add_parser("status", help="cards, clips and job counts from the state file")
    st.add_argument("--json", action="store_true", help="print JSON instead of tables")
    st.add_argument("--failed", type=int, default=10, metavar="N", help="list up to N failed jobs (default 10)")
    st.set_defaults(func=cmd_status)
    rt = subparsers.add_parser("retry", help="queue failed jobs again (all, or of clips under PATH)")
    rt.add_argument("paths", nargs="*", metavar="PATH")
    rt.set_defaults(func=cmd_retry)
    fg = subparsers.add_parser("forget", help="drop the state of a card, folder or clip (outputs stay)")
    fg.add_argument("path", metavar="PATH")
    fg.set_defaults(func=cmd_forget)


def _db(config: Config) -> Path:
    return config.state.dir / DB_NAME


def daemon_pid(state_dir: Path) -> int | None:
    """The pid of the daemon holding the state lock, or None when no daemon runs there."""
    lock = state_dir / LOCK_NAME
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        return int(text) if text.isdigit() else -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _age(seconds: float) -> str:
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def status_data(store: JobStore, state_dir: Path, failed_limit: int = 10) -> dict[str, Any]:
    counts = store.queue.counts()
    analyzers = sorted({a for a, _ in counts}, key=lambda a: (a != "pass", a))
    cards = []
    for c in store.cards.all():
        progress = store.cards.progress(c.path)
        eta = store.cards.eta(c.path).eta_s if c.state in ("queued", "ready") else None
        cards.append(
            {"card": c.path, "name": c.name, "state": c.state, "clips": progress, "error": c.last_error, "eta_s": eta}
        )
    failed = store.queue.failed_tasks(failed_limit)
    pid = daemon_pid(state_dir)
    return {
        "state_file": str(store.path),
        "daemon_pid": pid,
        "jobs": {a: {s: counts.get((a, s), 0) for s in JOB_STATES_ORDER} for a in analyzers},
        "clips": store.clips.states(),
        "cards": cards,
        "oldest_queued_s": round(store.queue.oldest_queued_age(), 1),
        "failed": [asdict(r) for r in failed],
    }


def cmd_status(config: Config, args: argparse.Namespace) -> int:
    try:
        store = JobStore(_db(config), readonly=True)
    except StoreError as e:
        print(f"kinod status: {e}", file=sys.stderr)
        return 1
    try:
        data = status_data(store, config.state.dir, args.failed)
    finally:
        store.close()
    from kinod.service.pause import status_lines
    data["storage"] = status_lines(config)
    # distributed workers and held jobs
    from kinod.jobs.dist_status import dist_status, print_dist_status

    dist = dist_status(config.state.shared, config.broker.heartbeat_timeout_seconds)
    if dist is not None:
        data["dist"] = dist
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    pid = data["daemon_pid"]
    print(f"state: {data['state_file']}")
    print(f"daemon: {'running, pid ' + str(pid) if pid else 'not running'}")
    for line in data["storage"]:
        print(line)
    print()
    print(f"{'CARD STATE':<11} {'CLIPS':>5} {'DONE':>5} {'FAILED':>6} {'WAITING':>7} {'ETA':>7}  CARD")
    for c in data["cards"]:
        p = c["clips"]
        total = sum(p.values())
        waiting = sum(p.get(s, 0) for s in ("new", "queued", "running"))
        failed = sum(p.get(s, 0) for s in ("failed", "missing", "cancelled"))
        eta = _age(c["eta_s"]) if c["eta_s"] is not None else "-"
        print(f"{c['state']:<11} {total:>5} {p.get('done', 0):>5} {failed:>6} {waiting:>7} {eta:>7}  {c['card']}")
    if not data["cards"]:
        print("(no cards yet)")
    print()
    print(f"{'JOBS':<12}" + "".join(f"{s:>10}" for s in JOB_STATES_ORDER))
    for a, by in data["jobs"].items():
        print(f"{a:<12}" + "".join(f"{by[s]:>10}" for s in JOB_STATES_ORDER))
    if data["oldest_queued_s"]:
        print(f"\noldest queued job waits for {_age(data['oldest_queued_s'])}")
    if data["failed"]:
        print("\nfailed (`kinod retry` queues them again):")
        for f in data["failed"]:
            print(f"  {f['analyzer']}: {f['last_error'] or f['path']} ({f['attempts']} attempt(s))")
    if dist is not None:
        print_dist_status(dist)
    return 0


def cmd_retry(config: Config, args: argparse.Namespace) -> int:
    from kinod.run.processor import ClipError, ClipProcessor

    if not _db(config).is_file():
        print(f"kinod retry: {_db(config)}: no state file here (has kinod run on this state.dir?)", file=sys.stderr)
        return 1
    store = JobStore(_db(config))
    queued = clips = gone = 0
    try:
        processor = ClipProcessor(config, store)
        targets = [str(Path(p).absolute()) for p in args.paths] or [None]
        known = {k.fingerprint: k for t in targets for k in store.clips.failed(t)}
        for fp, k in known.items():
            if not k.path.exists():
                print(f"skipped: {k.path}: the file is gone", file=sys.stderr)
                gone += 1
                continue
            store.queue.reset_failed(fp)
            try:  # the stored clip: every chapter and audio essence, as its card was read
                plan = processor.enqueue_known(
                    k, card_rank=k.card_rank or time.time(), retry_failed=True, owner="kinod retry", rehash=True
                )
            except ClipError as e:
                print(f"skipped: {e}", file=sys.stderr)
                continue
            queued += len(plan.queued) + int(plan.pass_queued)
            clips += 1
            for key in store.cards.keys_at(k.card_path) if k.card_path else []:
                store.cards.set_state(key, "queued")  # finished again when its clips are
        # cards with files that could not even be read: let the watcher look at them again
        reread = store.cards.reread_unreadable()
    finally:
        store.close()
    pid = daemon_pid(config.state.dir)
    when = "the running daemon starts them within a second" if pid else "they run when `kinod run` starts"
    print(f"queued {queued} task(s) of {clips} clip(s); {when}")
    if reread:
        print(
            f"{reread} card(s) with unreadable files are looked at again at the next rescan "
            "(or now: `systemctl reload kinod`)"
        )
    return 0 if not gone else 1


def cmd_forget(config: Config, args: argparse.Namespace) -> int:
    if not _db(config).is_file():
        print(f"kinod forget: {_db(config)}: no state file here", file=sys.stderr)
        return 1
    target = str(Path(args.path).absolute()).rstrip("/")
    store = JobStore(_db(config))
    try:
        fps = store.clips.fingerprints_under(target)
        n = store.clips.forget(target)
        for fp in fps:
            if store.clips.get(fp) is None:
                shutil.rmtree(config.state.cache_root / fp, ignore_errors=True)
    finally:
        store.close()
    if not any(n.values()):
        print(f"kinod forget: {target}: nothing known about it", file=sys.stderr)
        return 1
    print(
        f"forgot {n['cards']} card(s), {n['paths']} clip path(s), {n['clips']} clip(s) and {n['jobs']} job(s) "
        f"under {target}; outputs were left in place"
    )
    if daemon_pid(config.state.dir):
        print("the running daemon processes it again at its next rescan, or now: `systemctl reload kinod`")
    return 0
