"""The ``kinod`` command: thin over the packages, one sub-command per job a user has."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kinod import __version__
from kinod.config import Config, ConfigError, load_config


def cmd_scan(config: Config, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from kinod.jobs.store import JobStore
    from kinod.run.processor import ClipProcessor
    from kinod.run.scan import run_scan, scan_cards

    missing = [p for p in args.paths if not os.path.lexists(p)]
    for m in missing:
        print(f"kinod scan: {m}: no such file or folder", file=sys.stderr)
    cards = list(scan_cards(config, [Path(p) for p in args.paths if p not in missing]))
    total = sum(len(c.clips) for c in cards)
    if not total and not missing:
        print("kinod scan: no media files found", file=sys.stderr)
    store = JobStore(config.state.dir / "kinod.sqlite")
    processor = ClipProcessor(config, store)
    clips_bar = tqdm(total=total, desc="clips", unit="clip", disable=None, leave=False)
    bars: list[tqdm] = []

    def progress_for(path: Path) -> Callable[[int, int], None]:
        for b in bars:
            b.close()
        bar = tqdm(desc=path.name[:40], unit="frame", disable=None, leave=False)
        bars[:] = [bar]

        def progress(n: int, total: int) -> None:
            if total and bar.total != total:
                bar.total = total
            bar.update(n - bar.n)

        return progress

    def on_clip(path: Path, outcome: Any) -> None:
        clips_bar.update(1)
        if outcome.ok:
            state = "up to date" if outcome.skipped else "done"
            print(f"{state}: {path} -> {outcome.sidecar}")

    try:
        res = run_scan(config, processor, cards, force=args.force, on_clip=on_clip, progress_for=progress_for)
    finally:
        for b in [*bars, clips_bar]:
            b.close()
        store.close()
    for written in res.card_outputs:
        if written.name == "card.kino.json":
            print(f"card report: {written}")
    for path, why in res.failed:
        print(f"FAILED: {path}: {why}", file=sys.stderr)
    print(f"{res.done} clip(s) ok, {len(res.failed)} failed", file=sys.stderr)
    return 1 if res.failed or missing else 0


def cmd_probe(config: Config, args: argparse.Namespace) -> int:
    from kinod.media.probe import ProbeError, probe

    try:
        print(json.dumps(probe(Path(args.file)).to_json(), indent=2))
    except ProbeError as e:
        print(f"kinod probe: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_doctor(config: Config, args: argparse.Namespace) -> int:
    from kinod.cli.doctor import run_checks
    checks = run_checks(config)
    width = max(len(c.name) for c in checks)
    for c in checks:
        mark = "OK  " if c.ok else ("WARN" if c.optional else "FAIL")
        print(f"{mark}  {c.name:<{width}}  {c.detail}")
    return 0 if all(c.ok or c.optional for c in checks) else 1


def cmd_run(config: Config, args: argparse.Namespace) -> int:
    from kinod.service.daemon import run_daemon
    return run_daemon(config, once=args.once)


def cmd_worker(config: Config, args: argparse.Namespace) -> int:
    from kinod.service.worker import worker_command
    return worker_command(config, args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kinod", description="Self-indexing footage library for shared storage.")
    p.add_argument("--version", action="version", version=f"kinod {__version__}")
    p.add_argument("--config", help="config file (default: $KINOD_CONFIG, else ./config.toml, else built-in)")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the daemon on the watch roots")
    r.add_argument("--once", action="store_true", help="process what is there now, then exit")
    r.set_defaults(func=cmd_run)
    s = sub.add_parser("scan", help="process files or folders now")
    s.add_argument("paths", nargs="+", metavar="PATH")
    s.add_argument("--force", action="store_true", help="analyse again even if results are up to date")
    s.set_defaults(func=cmd_scan)
    pr = sub.add_parser("probe", help="print what a media file is, as JSON")
    pr.add_argument("file")
    pr.set_defaults(func=cmd_probe)
    d = sub.add_parser("doctor", help="check ffmpeg, MediaInfo, models, GPU and folders")
    d.set_defaults(func=cmd_doctor)
    # kinod worker
    w = sub.add_parser("worker", help="run tasks from the broker's queues (jobs.executor = 'dramatiq')")
    w.add_argument("--queues", help="comma-separated: pass, cpu, gpu, proxy (default: [worker] queues)")
    w.add_argument("--processes", type=int, default=0, help="worker processes (default: [worker] processes)")
    w.add_argument("--threads", type=int, default=0, help="threads per process (default: [worker] threads)")
    w.add_argument("--metrics-listen", default=None, help="host:port for this worker's /metrics")
    w.add_argument("--name", default=None, help="this worker's name in status and metrics (default: [worker] name)")
    w.set_defaults(func=cmd_worker)
    from kinod.cli import jobs as job_commands
    from kinod.cli.export import register as register_export
    register_export(sub)
    job_commands.register(sub)
    # --- search index and browse UI: search, reindex, serve ---
    from kinod.cli import search as index_commands
    from kinod.cli import ui as ui_commands
    index_commands.register(sub)
    ui_commands.register(sub)
    # --- end search index and browse UI ---
    # Faces: find-person and people.
    from kinod.cli import people as people_cli
    people_cli.register(sub)
    from kinod.cli import sync as sync_cli
    sync_cli.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    # folders kinod creates are never world-writable, even under umask 000
    os.umask(os.umask(0) | 0o002)
    # a file name that is not UTF-8 is printed escaped, never an encode error
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(f"kinod: config error:\n{e}", file=sys.stderr)
        return 2
    from kinod.service import logs
    logs.configure(config.logging.level, config.logging.format)
    try:
        return int(args.func(config, args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _stdout_closed()


def _stdout_closed() -> int:
    """``kinod status | head``: the reader went away; exit quietly like a shell tool.

    stdout is pointed at /dev/null so the interpreter's final flush cannot raise a
    second BrokenPipeError (with a traceback) on the way out.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141  # 128 + SIGPIPE, what a tool killed by the signal would report


if __name__ == "__main__":
    sys.exit(main())
