"""Serving the UI with uvicorn: in the foreground (``kinod serve``) or on a daemon thread.

The UI binds to 127.0.0.1 unless told otherwise; binding wider is allowed (an edit
network may want it) but logged as a warning, because the pages show paths and
footage to anyone who can reach the port.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from typing import Any

import structlog
import uvicorn

from kinod.config import Config

log = structlog.get_logger(__name__)
DEFAULT_LISTEN = "127.0.0.1:8765"


class ListenError(ValueError):
    """A listen address that is not host:port."""


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ListenError(f"{listen!r}: expected host:port, e.g. {DEFAULT_LISTEN}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warn_if_wide(host: str, port: int) -> None:
    if not is_loopback(host):
        log.warning(
            "ui listening beyond this machine: anyone who can reach it sees footage paths and media",
            address=f"{host}:{port}",
        )


def uvicorn_server(config: Config, listen: str, people_edits: Any = None) -> uvicorn.Server:
    from kinod.library.ui.app import create_app
    host, port = parse_listen(listen)
    warn_if_wide(host, port)
    cfg = uvicorn.Config(create_app(config, people_edits), host=host, port=port, log_level="warning", access_log=False,
                         lifespan="off", server_header=False)
    return uvicorn.Server(cfg)


class UiServer:
    """The UI on a background thread, for the daemon's ``ui.listen``."""

    def __init__(self, config: Config, listen: str, people_edits: Any = None) -> None:
        self.server = uvicorn_server(config, listen, people_edits)
        self.thread = threading.Thread(target=self.server.run, name="kinod-ui", daemon=True)

    @property
    def address(self) -> str:
        return f"{self.server.config.host}:{self.server.config.port}"

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            raise OSError(f"ui: could not listen on {self.address}")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
