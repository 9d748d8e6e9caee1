"""The daemon's HTTP servers: metrics and /healthz, and the browse UI.

Both are off with ``run --once``. A UI that cannot bind costs the UI, not the daemon;
the metrics server's address is the operator's contract, so failing to bind it stops
the start (an OSError, reported by ``kinod run``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from kinod.config import Config
from kinod.service.metrics import Metrics, MetricsServer

if TYPE_CHECKING:
    from kinod.library.ui.server import UiServer
log = structlog.get_logger("kinod.service.daemon")


def start_metrics(
    config: Config, metrics: Metrics, health: Callable[[], tuple[bool, dict[str, Any]]], once: bool
) -> MetricsServer | None:
    """Metrics and /healthz on ``metrics.listen`` when enabled."""
    if not config.metrics.enabled or once:
        return None
    server = MetricsServer(config.metrics.listen, metrics, health)
    server.start()
    log.info("metrics listening", address=server.address)
    return server


def start_ui(config: Config, once: bool) -> UiServer | None:
    """The browse UI on ``ui.listen`` (off by default); None when off or when it cannot bind."""
    from kinod.library.ui.server import UiServer
    if not config.ui.listen or once:
        return None
    try:
        from kinod.run import people_names
        server = UiServer(config, config.ui.listen, people_names)
        server.start()
        log.info("ui listening", address=server.address)
        return server
    except (OSError, ValueError) as e:
        log.error("ui not started", listen=config.ui.listen, error=str(e))
        return None
