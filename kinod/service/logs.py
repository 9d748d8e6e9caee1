"""structlog set-up: JSON lines for machines, readable lines for people at a terminal.

Context (``clip``, ``job``, ``analyzer``) is bound with structlog's contextvars so
every line written while a clip is processed names it, even from library code that
knows nothing about clips.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog


def configure(level: str = "info", fmt: Literal["auto", "json", "console"] = "auto") -> None:
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if use_console
        else structlog.processors.JSONRenderer()
    )
    numeric = getattr(logging, level.upper(), logging.INFO)
    route_stdlib_logging(renderer, numeric)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written, not the one bound at set-up.

    WHY: a command run in-process (tests, an embedding tool) may swap ``sys.stderr`` and
    close the old one; a logger holding the old file then fails every later log call
    with "I/O operation on closed file", far from where the swap happened.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


# --- stdlib logging from libraries goes through the same renderer ---
class _StructlogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler kinod installed, so a reload replaces it instead of adding one."""


def route_stdlib_logging(renderer: structlog.typing.Processor, level: int) -> None:
    """Render records of stdlib loggers (faster-whisper, urllib3, ...) as kinod's JSON lines.

    WHY: with ``logging.basicConfig(format="%(message)s")`` every library line came out
    as bare text in the middle of the JSON log (600 of 847 lines in one run), which
    breaks every log shipper that parses lines as JSON and loses the clip context.
    """
    formatter = structlog.stdlib.ProcessorFormatter(
        processor=renderer,
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.ExtraAdder(),
            structlog.processors.format_exc_info,
        ],
    )
    handler = _StructlogHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, _StructlogHandler) or type(old) is logging.StreamHandler:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
