"""Shot ranges as model analyzers read them from the ``shots`` result.

Why one helper: visual, ocr and scenes all work per shot, and all must behave the same
when shots did not run or found nothing (the whole clip is then one shot), and when an
item is malformed (skipped, not a crash).
"""

from __future__ import annotations

from typing import Any


def shot_ranges(result: Any, frames: int) -> list[tuple[int, int, int | None]]:
    """(start_frame, end_frame, keyframe or None) of every shot, in order; the whole clip without shots."""
    items = getattr(result, "items", None) or []
    out: list[tuple[int, int, int | None]] = []
    for it in items:
        try:
            s, e = int(it["start_frame"]), int(it["end_frame"])
        except (KeyError, TypeError, ValueError):
            continue
        if e > s:
            k = it.get("keyframe")
            out.append((s, e, int(k) if isinstance(k, (int, float)) else None))
    if not out:
        out = [(0, max(1, frames), None)]
    return sorted(out)


def cut_frames(result: Any) -> list[int]:
    """Frames where a new shot starts (the first shot's start excluded)."""
    return [s for s, _e, _k in shot_ranges(result, 0)[1:]] if getattr(result, "items", None) else []
