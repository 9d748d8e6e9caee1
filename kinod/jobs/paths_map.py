"""Path mapping between the coordinator's mount points and a worker's (``[[paths.map]]``).

The coordinator plans with its own paths (``/mnt/nas/...``); a worker on a Mac may see
the same share at ``/Volumes/NAS``. Tasks and the state file keep the coordinator's
paths (there is one truth), and a worker maps them on the way in and maps what it
reports back on the way out, so nothing it sends contains a path of its own.
Longest prefix wins, and a prefix only matches at a path-component boundary
(``/mnt/nas`` does not map ``/mnt/nas2``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class PathMap:
    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        clean = [(c.rstrip("/") or "/", w.rstrip("/") or "/") for c, w in pairs]
        self._to_worker = sorted(clean, key=lambda p: -len(p[0]))
        self._to_coordinator = sorted(((w, c) for c, w in clean), key=lambda p: -len(p[0]))

    @classmethod
    def from_config(cls, entries: Iterable[Any]) -> PathMap:
        return cls((e.coordinator, e.worker) for e in entries)

    def __bool__(self) -> bool:
        return bool(self._to_worker)

    @staticmethod
    def _swap(path: str, table: list[tuple[str, str]]) -> str:
        for src, dst in table:
            if path == src or path.startswith(src + "/") or src == "/":
                rest = path[len(src) :] if src != "/" else path
                return (dst if dst != "/" else "") + rest if rest else dst
        return path

    def to_worker(self, path: str) -> str:
        return self._swap(path, self._to_worker)

    def to_coordinator(self, path: str) -> str:
        return self._swap(path, self._to_coordinator)

    def deep_to_coordinator(self, value: Any) -> Any:
        """Every string in a JSON-like value that starts with a worker prefix, mapped back."""
        return self._deep(value, self.to_coordinator)

    def deep_to_worker(self, value: Any) -> Any:
        """Every absolute path string in a JSON-like value, mapped to the worker's mounts."""
        return self._deep(value, self.to_worker)

    def _deep(self, value: Any, swap: Any) -> Any:
        if not self:
            return value
        if isinstance(value, str):
            return swap(value) if value.startswith("/") else value
        if isinstance(value, dict):
            return {k: self._deep(v, swap) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._deep(v, swap) for v in value]
        return value
