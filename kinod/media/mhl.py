"""Verifying a card against its Media Hash Lists before anything else touches it.

A DIT's copy tool writes a manifest of every file's hash at offload. If a file on
the NAS no longer matches it (a bad copy, a bit flip, a truncated transfer), every
result kinod would compute from it is worthless and, worse, looks trustworthy. So
a card that carries a manifest is verified first; any mismatch or missing file
fails the card and names the files.

Two formats are read with our own defused parser (no write access, no lxml):

* ASC MHL v2 (``ascmhl/`` folder): ``ascmhl_chain.xml`` lists each generation's
  ``.mhl`` with its C4 id; each ``.mhl`` lists ``<hash><path>..</path><xxh64>..`` for
  files relative to the folder that holds ``ascmhl/``. Nested histories (a sub-folder
  with its own ``ascmhl/``) are verified each against their own folder. For each file
  the newest generation's hashes are checked; a generation that itself recorded a
  ``failed`` verification is reported.
* Legacy MHL v1.x (``*.mhl`` anywhere): ``<hash><file>..</file><size>..</size><md5>..``
  with ``md5``, ``sha1``, ``xxhash`` (32-bit), ``xxhash64`` (little-endian hex, as
  Silverstack writes it) and ``xxhash64be`` (big-endian hex, the usual spelling).

The ``ascmhl`` PyPI package would also do this but pins an old Click and pulls lxml
and requests into a daemon that needs none of them; its reader is a few hundred
lines we can keep strict and read-only. Every file is read once, in 8 MiB blocks,
feeding every hash it needs at the same time (plus xxh64 for the card report).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import xxhash

from kinod.media.cards.xmlsafe import UnsafeXMLError, child, children, iter_local, local, parse_xml, text

BLOCK = 8 * 1024 * 1024
C4_CHARSET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ASC_HASHES = ("md5", "sha1", "xxh32", "xxh64", "xxh3", "xxh128", "c4")
LEGACY_HASHES = {"md5": "md5", "sha1": "sha1", "xxhash": "xxh32", "xxhash64": "xxh64le", "xxhash64be": "xxh64"}
#: Files never expected in a manifest and never reported as unlisted.
_IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
_IGNORED_DIRS = {"ascmhl", ".fseventsd", ".spotlight-v100", ".trashes", ".temporaryitems"}


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


class MHLError(ValueError):
    """A manifest cannot be read; names it."""


# ----------------------------------------------------------------------------- hashing


class _C4:
    """C4 id (SMPTE ST 2114): SHA-512 in base 58, ``c4`` + 88 characters."""

    def __init__(self) -> None:
        self._h = hashlib.sha512()

    def update(self, data: bytes, /) -> None:
        self._h.update(data)

    def hexdigest(self) -> str:
        return c4_of_digest(self._h.digest())


def c4_of_digest(digest: bytes) -> str:
    n = int.from_bytes(digest, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = C4_CHARSET[r] + out
    return "c4" + out.rjust(88, "1")


def new_hasher(algo: str) -> Hasher:
    """A hasher by ASC MHL name (``xxh64le`` is the legacy little-endian spelling of xxh64)."""
    factories: dict[str, Callable[[], Any]] = {
        "md5": hashlib.md5,
        "sha1": hashlib.sha1,
        "xxh32": xxhash.xxh32,
        "xxh64": xxhash.xxh64,
        "xxh64le": xxhash.xxh64,
        "xxh3": xxhash.xxh3_64,
        "xxh128": xxhash.xxh3_128,
        "c4": _C4,
    }
    try:
        return factories[algo]()  # type: ignore[no-any-return]
    except KeyError:
        raise MHLError(f"unsupported hash format {algo!r}") from None


def _digest(algo: str, h: Hasher) -> str:
    d = h.hexdigest()
    if algo == "xxh64le":
        return bytes.fromhex(d)[::-1].hex()
    return d


def hash_file(path: Path, algos: Iterable[str], progress: Callable[[int], None] | None = None) -> dict[str, str]:
    """Hex digests of ``path`` for every algorithm in ``algos``, reading the file once."""
    hashers = {a: new_hasher(a) for a in dict.fromkeys(algos)}
    with open(path, "rb") as fh:
        while chunk := fh.read(BLOCK):
            for h in hashers.values():
                h.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return {a: _digest(a, h) for a, h in hashers.items()}


def same_hash(algo: str, expected: str, actual: str) -> bool:
    """Compare as the format writes it: hex case-insensitively; legacy xxh32 may be decimal."""
    e = expected.strip()
    if algo == "c4":
        return e == actual
    if algo == "xxh32" and e.isdigit() and len(e) != 8:
        return int(e) == int(actual, 16)
    return e.lower() == actual.lower()


# ---------------------------------------------------------------------------- manifests


@dataclass
class Expected:
    """What one manifest says about one file."""

    rel: str  # relative to the card root, POSIX
    algo: str
    value: str
    manifest: str
    size: int | None = None
    generation: int = 0
    action: str | None = None


@dataclass
class Manifest:
    rel: str
    kind: str  # "ascmhl" | "legacy"
    entries: list[Expected] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    #: Folder the manifest's paths are relative to (card-relative, "" for the root).
    base: str = ""


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


def find_manifests(root: Path) -> tuple[list[Manifest], list[Failure]]:
    """Every ASC MHL history and legacy ``.mhl`` on the card, parsed; unreadable ones as failures."""
    manifests: list[Manifest] = []
    failures: list[Failure] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        here = Path(dirpath)
        rel_dir = "" if here == root else here.relative_to(root).as_posix()
        if here.name.lower() == "ascmhl":
            base = posixpath.dirname(rel_dir)
            try:
                manifests.extend(_read_ascmhl_history(root, here, base))
            except MHLError as e:
                failures.append(Failure(rel_dir, "manifest", str(e), manifest=rel_dir))
            dirnames[:] = []
            continue
        for fn in sorted(filenames):
            if fn.lower().endswith(".mhl"):
                rel = posixpath.join(rel_dir, fn) if rel_dir else fn
                try:
                    manifests.append(_read_legacy(root, here / fn, rel, rel_dir))
                except MHLError as e:
                    failures.append(Failure(rel, "manifest", str(e), manifest=rel))
    return manifests, failures


def _read_ascmhl_history(root: Path, folder: Path, base: str) -> list[Manifest]:
    """All generations of one ``ascmhl/`` folder, with the chain's C4 ids checked."""
    entries = {p.name: p for p in folder.iterdir() if p.is_file()}
    chain = next((p for n, p in entries.items() if n.lower() == "ascmhl_chain.xml"), None)
    generations = sorted(p for n, p in entries.items() if n.lower().endswith(".mhl"))
    if not generations:
        raise MHLError(f"{folder}: ascmhl folder holds no .mhl generation")
    expected_c4: dict[str, str] = {}
    if chain is not None:
        try:
            croot = parse_xml(chain)
        except UnsafeXMLError as e:
            raise MHLError(str(e)) from None
        for hl in iter_local(croot, "hashlist"):
            p, c4 = text(hl, "path"), text(hl, "c4")
            if p and c4:
                expected_c4[p] = c4
    out = []
    for seq, gen in enumerate(generations, start=1):
        rel = gen.relative_to(root).as_posix()
        want = expected_c4.get(gen.name)
        if want is not None:
            got = hash_file(gen, ["c4"])["c4"]
            if got != want:
                raise MHLError(f"{gen}: manifest was changed after it was written (C4 {got} != chain {want})")
        elif chain is not None:
            raise MHLError(f"{gen}: generation is not listed in {chain.name}")
        out.append(_read_ascmhl(gen, rel, base, seq))
    return out


def _read_ascmhl(path: Path, rel: str, base: str, generation: int) -> Manifest:
    try:
        root = parse_xml(path)
    except UnsafeXMLError as e:
        raise MHLError(str(e)) from None
    if local(root.tag) != "hashlist":
        raise MHLError(f"{path}: not an ASC MHL hashlist (root element {local(root.tag)!r})")
    m = Manifest(rel, "ascmhl", base=base)
    for pat in iter_local(root, "pattern"):
        if pat.text and pat.text.strip():
            m.ignore.append(pat.text.strip())
    for h in children(child(root, "hashes"), "hash"):
        p = child(h, "path")
        if p is None or not (p.text or "").strip():
            continue
        size = p.get("size")
        for el in h:
            algo = local(el.tag)
            if algo in ASC_HASHES and el.text and el.text.strip():
                m.entries.append(
                    Expected(
                        rel=(p.text or "").strip(),
                        algo=algo,
                        value=el.text.strip(),
                        manifest=rel,
                        size=int(size) if size and size.isdigit() else None,
                        generation=generation,
                        action=el.get("action"),
                    )
                )
    return m


def _read_legacy(root: Path, path: Path, rel: str, base: str) -> Manifest:
    try:
        xml = parse_xml(path)
    except UnsafeXMLError as e:
        raise MHLError(str(e)) from None
    if local(xml.tag) != "hashlist":
        raise MHLError(f"{path}: not an MHL hashlist (root element {local(xml.tag)!r})")
    m = Manifest(rel, "legacy", base=base)
    for h in children(xml, "hash"):
        name = text(h, "file")
        if not name:
            continue
        size_text = text(h, "size")
        for el in h:
            algo = LEGACY_HASHES.get(local(el.tag))
            if algo and el.text and el.text.strip():
                m.entries.append(
                    Expected(
                        rel=name,
                        algo=algo,
                        value=el.text.strip(),
                        manifest=rel,
                        size=int(size_text) if size_text and size_text.isdigit() else None,
                    )
                )
    return m


# ---------------------------------------------------------------------------- verify


def _card_path(base: str, listed: str) -> str | None:
    """The card-relative path of a manifest entry, or None if it would leave the card."""
    listed = listed.replace("\\", "/")
    if listed.startswith("/") or (len(listed) > 1 and listed[1] == ":"):
        return None
    joined = posixpath.normpath(posixpath.join(base, listed)) if base else posixpath.normpath(listed)
    if joined == ".." or joined.startswith("../") or joined.startswith("/"):
        return None
    return joined


def list_card_files(root: Path) -> list[str]:
    """Card-relative paths of every regular file, manifests and OS litter excluded."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d.lower() not in _IGNORED_DIRS)
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            if fn.lower() in _IGNORED_NAMES or fn.startswith("._") or fn.lower().endswith(".mhl"):
                continue
            if p.is_symlink() or not p.is_file():
                continue
            out.append(p.relative_to(root).as_posix())
    return out


def verify_card(
    root: str | os.PathLike[str],
    *,
    record: Iterable[str] = ("xxh64",),
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """Verify every file a manifest lists, and hash every card file with ``record`` for the report.

    Read-only: files are opened for reading only and nothing is written anywhere.
    The result's ``status`` is ``failed`` if any listed file is missing, unreadable,
    the wrong size or the wrong hash, if a manifest is unreadable or was altered, or
    if a manifest lists a path outside the card; ``passed`` if manifests exist and
    all match; ``none`` without manifests.
    """
    card = Path(root).absolute()
    manifests, failures = find_manifests(card)
    result = Verification(card, "none", manifests=[m.rel for m in manifests], failures=failures)
    expected: dict[str, dict[str, Expected]] = {}
    ignore: list[tuple[str, str]] = []
    files = list_card_files(card)
    on_card = set(files)
    for m in manifests:
        ignore.extend((m.base, pat) for pat in m.ignore)
        for e in m.entries:
            rel = _card_path(m.base, e.rel)
            prefix = card.name + "/"
            if rel is not None and rel not in on_card and rel.startswith(prefix) and rel[len(prefix) :] in on_card:
                # Copy tools often list paths from the card folder's parent ("A001/Clip/x.mxf").
                rel = rel[len(prefix) :]
            if rel is None:
                result.failures.append(
                    Failure(e.rel, "unsafe-path", f"{m.rel}: lists {e.rel!r}, outside the card", manifest=m.rel)
                )
                continue
            if e.action == "failed":
                result.failures.append(
                    Failure(rel, "recorded-failure", f"{card / rel}: {m.rel} recorded a failed verification", e.algo)
                )
                continue
            per = expected.setdefault(rel, {})
            if e.algo not in per or per[e.algo].generation <= e.generation:
                per[e.algo] = Expected(rel, e.algo, e.value, e.manifest, e.size, e.generation, e.action)
    record = tuple(record)
    for rel in sorted(set(files) | set(expected)):
        wanted = expected.get(rel, {})
        path = card / rel
        if rel not in on_card:
            man = next(iter(wanted.values())).manifest if wanted else None
            msg = f"{path}: listed in {man} but not on the card"
            result.failures.append(Failure(rel, "missing", msg, manifest=man))
            continue
        if not wanted and not record:
            if manifests and not any(_ignored(rel, base, pat) for base, pat in ignore):
                result.unlisted.append(rel)
            continue  # nothing to check or record: do not read the file
        size_exp = next((e.size for e in wanted.values() if e.size is not None), None)
        try:
            actual_size = path.stat().st_size
            if size_exp is not None and size_exp != actual_size:
                e0 = next(iter(wanted.values()))
                result.failures.append(
                    Failure(
                        rel,
                        "size",
                        f"{path}: size {actual_size} bytes, {e0.manifest} says {size_exp}",
                        expected=str(size_exp),
                        actual=str(actual_size),
                        manifest=e0.manifest,
                    )
                )
            got = hash_file(path, [*wanted, *record], progress)
            result.bytes_read += actual_size
        except OSError as err:
            result.failures.append(Failure(rel, "unreadable", f"{path}: cannot read: {err.strerror or err}"))
            continue
        result.hashes[rel] = {("xxh64" if a == "xxh64le" else a): v for a, v in got.items() if a != "xxh64le"}
        if "xxh64le" in got:
            result.hashes[rel].setdefault("xxh64", bytes.fromhex(got["xxh64le"])[::-1].hex())
        if not wanted:
            if manifests and not any(_ignored(rel, base, pat) for base, pat in ignore):
                result.unlisted.append(rel)
            continue
        result.checked.append(rel)
        for algo, e in wanted.items():
            if not same_hash(algo, e.value, got[algo]):
                result.failures.append(
                    Failure(
                        rel,
                        "mismatch",
                        f"{path}: {algo} is {got[algo]}, {e.manifest} says {e.value}",
                        algo=algo,
                        expected=e.value,
                        actual=got[algo],
                        manifest=e.manifest,
                    )
                )
    if result.failures:
        result.status = "failed"
    elif manifests:
        result.status = "passed"
    return result


def _ignored(rel: str, base: str, pattern: str) -> bool:
    sub = rel[len(base) + 1 :] if base and rel.startswith(base + "/") else rel
    name = PurePosixPath(sub).name
    pat = pattern.rstrip("/")
    return fnmatch.fnmatch(sub, pat) or fnmatch.fnmatch(name, pat) or sub.startswith(pat + "/")
