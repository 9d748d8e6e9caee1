"""sd_notify without a dependency: datagrams to ``$NOTIFY_SOCKET``.

With ``Type=notify`` systemd considers kinod started only when it says ``READY=1``
(after the state file is open, the lock is held and the metrics port listens), shows
its ``STATUS=`` line in ``systemctl status``, and with ``WatchdogSec=`` restarts it
when the ``WATCHDOG=1`` pings stop, which is what happens when the scheduler loop
hangs on a dead NFS mount. The protocol is one ``KEY=value`` line per field in a
single datagram to a Unix socket (``@name`` is Linux's abstract namespace); without
``NOTIFY_SOCKET`` every call is a no-op, so the daemon runs the same outside systemd.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import structlog

log = structlog.get_logger(__name__)


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        raw = env.get("NOTIFY_SOCKET", "")
        self.address: str | None = None
        if raw.startswith("@"):
            self.address = "\0" + raw[1:]
        elif raw.startswith("/"):
            self.address = raw
        self._watchdog_usec = 0
        usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
        if usec.isdigit() and (not pid or pid == str(os.getpid())):
            self._watchdog_usec = int(usec)
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between pings (half of ``WatchdogSec``, as sd_watchdog_enabled(3) advises), or None."""
        return self._watchdog_usec / 2e6 if self._watchdog_usec and self.enabled else None

    def send(self, *fields: str) -> bool:
        if self.address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto("\n".join(fields).encode(), self.address)
            return True
        except OSError as e:  # systemd gone or socket unreachable: never fatal
            log.warning("sd_notify failed", error=str(e), fields=list(fields))
            return False

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", f"MAINPID={os.getpid()}", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def reloading(self) -> bool:
        return self.send("RELOADING=1")

    def stopping(self, status: str = "") -> bool:
        return self.send("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
