"""Defensive readers of a sidecar record, for the analyzers' ``search_entries`` and ``ui_sections``.

Sidecars come from older kinods, other machines and third-party analyzers, and one odd
value must not make a clip unfindable or a page fail: every helper here turns what it
cannot read into "nothing" (0.0, "", an empty list) instead of raising.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def num(v: Any, default: float = 0.0) -> float:
    """A finite float, or ``default``."""
    try:
        out = float(v)
    except (TypeError, ValueError):
        return default
    return out if out == out and abs(out) != float("inf") else default


def text(v: Any) -> str:
    """A stripped string; ``None`` is empty."""
    return "" if v is None else str(v).strip()


def items(record: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The record's items that are objects."""
    got = record.get("items") if isinstance(record, Mapping) else None
    return [it for it in got if isinstance(it, dict)] if isinstance(got, list) else []


def summary(record: Mapping[str, Any] | None) -> dict[str, Any]:
    got = record.get("summary") if isinstance(record, Mapping) else None
    return got if isinstance(got, dict) else {}


def as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def span(it: Mapping[str, Any], duration: float) -> tuple[float, float]:
    """An item's (start_s, end_s), never negative, never reversed, clipped to the clip's length."""
    start = num(it.get("start_s"))
    end = num(it.get("end_s"), start)
    return max(0.0, start), max(start, min(end, duration) if duration > 0 else end)
