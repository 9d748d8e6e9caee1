"""``kinod search`` and ``kinod reindex``: the library index from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kinod.library.index.db import IndexFileError
from kinod.library.index.search import SearchError, SearchFilters, plain_snippet, search
from kinod.library.index.update import open_index, reindex


def register(subparsers: Any) -> None:
    s = subparsers.add_parser("search", help="find words, on-screen text, people, tags and problems in the library")
    s.add_argument("query", nargs="?", default="", help="words to find (FTS operators are literal unless --raw)")
    s.add_argument("--person", help="only clips with this person (name or id, e.g. person-1)")
    s.add_argument("--tag", help="only clips with this visual tag")
    s.add_argument("--category", help="only clips in this category (any level, e.g. 'Food & Cooking')")
    s.add_argument("--card", help="only clips of this card (name or output folder)")
    s.add_argument("--since", help="only clips recorded (or analysed) on or after this date, YYYY-MM-DD")
    s.add_argument("--limit", type=int, default=50, help="at most this many hits (default 50)")
    s.add_argument("--json", action="store_true", help="print the hits as a JSON list")
    s.add_argument("--raw", action="store_true", help="pass the query to SQLite FTS5 as written (operators work)")
    out = s.add_mutually_exclusive_group()
    out.add_argument("--otio", metavar="FILE", help="write the hits as a selects timeline (OpenTimelineIO)")
    out.add_argument("--edl", metavar="FILE", help="write the hits as a selects timeline (CMX3600 EDL)")
    out.add_argument("--fcpxml", metavar="FILE", help="write the hits as a selects timeline (Final Cut Pro X XML)")
    out.add_argument("--fcp7", metavar="FILE", help="write the hits as a selects timeline (FCP7 XML, Premiere)")
    s.add_argument("--handles", type=float, default=2.0, help="seconds added before and after each hit (default 2)")
    s.add_argument("--semantic", action="store_true",
                   help="also find hits close in meaning (needs search.semantic on when the clips were indexed)")
    s.set_defaults(func=cmd_search)
    r = subparsers.add_parser("reindex", help="rebuild the search index from the sidecars in the output root")
    r.add_argument("--changed", action="store_true", help="only sidecars changed since they were indexed")
    r.set_defaults(func=cmd_reindex)


def cmd_search(config: Any, args: argparse.Namespace) -> int:
    index = open_index(config.state.dir, readonly=True)
    if not index.exists():
        print(f"kinod search: {index.path}: no search index yet; run `kinod reindex`", file=sys.stderr)
        return 1
    filters = SearchFilters(args.person, args.tag, args.category, args.card, args.since)
    try:
        hits = search(index, args.query, filters, raw=args.raw, limit=args.limit, semantic=args.semantic)
    except (SearchError, IndexFileError) as e:
        print(f"kinod search: {e}", file=sys.stderr)
        return 2
    fmt, dest = next(((f, getattr(args, f)) for f in ("otio", "edl", "fcpxml", "fcp7") if getattr(args, f)),
                     ("otio", None))
    if dest:
        from kinod.library.index.selects import SelectsError, write_selects

        if not hits:
            print("kinod search: no hits; no timeline written", file=sys.stderr)
            return 1
        try:
            written = write_selects(hits, Path(dest), fmt, config.export, args.handles)
        except (SelectsError, OSError, ValueError) as e:
            print(f"kinod search: {dest}: {e}", file=sys.stderr)
            return 1
        print(f"{len(hits)} hit(s) -> {written}", file=sys.stderr)
    if args.json:
        print(json.dumps([h.to_json() for h in hits], indent=2, ensure_ascii=False))
    elif not dest:
        for h in hits:
            tc = f"{h.start_tc}-{h.end_tc}" if h.start_tc else f"{h.start_s:.2f}s-{h.end_s:.2f}s"
            kind = "+".join(h.sources) if h.sources else h.kind
            weak = "  (weak match)" if h.weak else ""
            print(f"{h.path}  {tc}  [{kind}]  {plain_snippet(h.snippet)}{weak}")
        if not hits:
            print("no hits", file=sys.stderr)
    return 0 if hits else 1


def cmd_reindex(config: Any, args: argparse.Namespace) -> int:
    try:
        rep = reindex(config.state.dir, config.output.root, full=not args.changed, semantic=config.search.semantic)
    except (IndexFileError, OSError) as e:
        print(f"kinod reindex: {e}", file=sys.stderr)
        return 1
    for why in rep.failed:
        print(f"skipped: {why}", file=sys.stderr)
    print(
        f"{rep.indexed} clip(s) indexed, {rep.unchanged} unchanged, {rep.removed} removed, {len(rep.failed)} skipped",
        file=sys.stderr,
    )
    return 1 if rep.failed else 0
