"""Copy-complete: when is a card really copied?

Nothing on a NAS says "this copy is finished". A Finder copy, rsync, a DIT offload
tool and a cloud sync all write at different paces and may pause for seconds between
files. So a card counts as complete only when the size and mtime of *every* file
have stayed the same over ``stable_polls`` consecutive polls that together span at
least ``settle_seconds``; any change starts the count again. Temp names and a
missing ready marker or ASC MHL veto it on top (see :mod:`kinod.watch.cards`).

This module is the pure bookkeeping, with time passed in, so the rule can be tested
without sleeping.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass


@dataclass
class _Track:
    signature: Hashable
    polls: int
    since: float


@dataclass(frozen=True)
class Stability:
    polls: int
    stable_for: float
    settled: bool
    changed: bool


class SettleTracker:
    """Counts identical observations per key."""

    def __init__(self, settle_seconds: float, stable_polls: int) -> None:
        self.settle_seconds = settle_seconds
        self.stable_polls = max(1, stable_polls)
        self._tracks: dict[str, _Track] = {}

    def observe(self, key: str, signature: Hashable, now: float) -> Stability:
        """Record one poll of ``key``; ``changed`` is True when it differs from the last one."""
        t = self._tracks.get(key)
        changed = t is None or t.signature != signature
        if changed:
            t = _Track(signature, 1, now)
            self._tracks[key] = t
        else:
            assert t is not None
            t.polls += 1
        stable_for = now - t.since
        settled = t.polls >= self.stable_polls and stable_for >= self.settle_seconds
        return Stability(t.polls, stable_for, settled, changed)

    def forget(self, key: str) -> None:
        self._tracks.pop(key, None)

    def __contains__(self, key: str) -> bool:
        return key in self._tracks
