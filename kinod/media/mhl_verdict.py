"""The verdict of an MHL verification: what failed, what was checked, every hash computed.

Split from :mod:`kinod.media.mhl` because the verdict outlives the check: it is
written to the card report and the sidecars and kept in the job store (``to_record``
/ ``from_record``) so that a restart does not lose the hashes of a card already read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Failure:
    rel: str
    kind: str  # mismatch | missing | size | unreadable | manifest | unsafe-path | recorded-failure
    message: str
    algo: str | None = None
    expected: str | None = None
    actual: str | None = None
    manifest: str | None = None


@dataclass
class Verification:
    """The verdict on a card. ``status``: ``passed``, ``failed``, ``none`` (no manifest) or
    ``skipped`` (``cards.verify_mhl`` off: hashes recorded, manifests not checked)."""

    root: Path
    status: str
    manifests: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    #: Card files no manifest lists (not a failure: e.g. files added after offload).
    unlisted: list[str] = field(default_factory=list)
    #: Every hash computed, card-relative path -> {algo: hex}; always includes xxh64.
    hashes: dict[str, dict[str, str]] = field(default_factory=dict)
    bytes_read: int = 0

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def summary(self) -> str:
        if self.status == "skipped":
            algos = sorted({a for h in self.hashes.values() for a in h})
            recorded = f"; recorded {'/'.join(algos)} of {len(self.hashes)} files" if algos else ""
            return f"{self.root}: MHL verification is off (cards.verify_mhl){recorded}"
        if self.status == "none":
            algos = sorted({a for h in self.hashes.values() for a in h})
            if not algos:
                return f"{self.root}: no MHL on the card; no hashes recorded"
            return f"{self.root}: no MHL on the card; recorded {'/'.join(algos)} of {len(self.hashes)} files"
        if self.status == "passed":
            return f"{self.root}: {len(self.checked)} files match {len(self.manifests)} MHL manifest(s)"
        names = ", ".join(sorted({f.rel for f in self.failures})[:10])
        more = "" if len({f.rel for f in self.failures}) <= 10 else " ..."
        return f"{self.root}: MHL verification FAILED for {names}{more}"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "manifests": self.manifests,
            "checked": len(self.checked),
            "failures": [f.__dict__ for f in self.failures],
            "unlisted": self.unlisted,
            "bytes_read": self.bytes_read,
            # what was hashed, so a reader knows what a later copy can be checked against
            "hashed": {
                "algorithms": sorted({a for h in self.hashes.values() for a in h}),
                "files": len(self.hashes),
            },
        }

    def to_record(self) -> dict[str, Any]:
        """Everything, hashes included, for the job store (a restart must not lose it)."""
        return {
            "root": str(self.root),
            "status": self.status,
            "manifests": self.manifests,
            "checked": self.checked,
            "failures": [f.__dict__ for f in self.failures],
            "unlisted": self.unlisted,
            "hashes": self.hashes,
            "bytes_read": self.bytes_read,
        }

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> Verification:
        return cls(
            Path(d["root"]),
            d["status"],
            manifests=list(d.get("manifests", [])),
            checked=list(d.get("checked", [])),
            failures=[Failure(**f) for f in d.get("failures", [])],
            unlisted=list(d.get("unlisted", [])),
            hashes=dict(d.get("hashes", {})),
            bytes_read=int(d.get("bytes_read", 0)),
        )
