"""``kinod serve``: the browse UI in the foreground."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kinod.library.ui.server import DEFAULT_LISTEN, ListenError


def register(subparsers: Any) -> None:
    s = subparsers.add_parser("serve", help="serve the browse UI (library, cards, clips, search)")
    s.add_argument("--listen", help=f"host:port (default: ui.listen, else {DEFAULT_LISTEN})")
    s.add_argument("--no-sync", action="store_true", help="do not bring the index up to date with the sidecars first")
    s.set_defaults(func=cmd_serve)


def cmd_serve(config: Any, args: argparse.Namespace) -> int:
    from kinod.library.index.update import reindex
    from kinod.library.ui.server import uvicorn_server
    listen = args.listen or config.ui.listen or DEFAULT_LISTEN
    if not args.no_sync:
        rep = reindex(config.state.dir, config.output.root, full=False, semantic=config.search.semantic)
        print(f"index: {rep.indexed} clip(s) indexed, {rep.unchanged} unchanged, {rep.removed} removed",
              file=sys.stderr)
    try:
        from kinod.run import people_names
        server = uvicorn_server(config, listen, people_names)
    except ListenError as e:
        print(f"kinod serve: --listen {e}", file=sys.stderr)
        return 2
    try:
        sock = server.config.bind_socket()  # listening before we say so: a script can connect at once
        sock.listen(server.config.backlog)
    except (OSError, SystemExit) as e:
        print(f"kinod serve: cannot listen on {listen}: {e}", file=sys.stderr)
        return 1
    print(f"kinod UI on http://{server.config.host}:{server.config.port}/", file=sys.stderr, flush=True)
    server.run(sockets=[sock])
    return 0
