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
import os
import posixpath
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from kinod.media.mhl_hash import BLOCK, C4_CHARSET, Hasher, MHLError, c4_of_digest, hash_file, new_hasher, same_hash
from kinod.media.mhl_read import ASC_HASHES, LEGACY_HASHES, Expected, Manifest, find_manifests
from kinod.media.mhl_verdict import Failure, Verification

__all__ = [
    "ASC_HASHES",
    "BLOCK",
    "C4_CHARSET",
    "LEGACY_HASHES",
    "Expected",
    "Failure",
    "Hasher",
    "MHLError",
    "Manifest",
    "Verification",
    "c4_of_digest",
    "find_manifests",
    "hash_file",
    "list_card_files",
    "new_hasher",
    "same_hash",
    "verify_card",
]

#: Files never expected in a manifest and never reported as unlisted.
_IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
_IGNORED_DIRS = {"ascmhl", ".fseventsd", ".spotlight-v100", ".trashes", ".temporaryitems"}

#: Ignore patterns in force: (folder the manifest's paths are relative to, pattern).
IgnoreList = list[tuple[str, str]]


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
    files = list_card_files(card)
    on_card = set(files)
    expected, ignore = _expected_hashes(card, manifests, on_card, result)
    record = tuple(record)
    for rel in sorted(set(files) | set(expected)):
        _check_file(result, rel, expected.get(rel, {}), on_card, record, progress, bool(manifests), ignore)
    if result.failures:
        result.status = "failed"
    elif manifests:
        result.status = "passed"
    return result


def _expected_hashes(
    card: Path, manifests: list[Manifest], on_card: set[str], result: Verification
) -> tuple[dict[str, dict[str, Expected]], IgnoreList]:
    """Per card file, the newest generation's expected hash per algorithm, and the ignore patterns.

    Entries that leave the card or that a generation recorded as failed go to ``result``
    as failures instead.
    """
    expected: dict[str, dict[str, Expected]] = {}
    ignore: IgnoreList = []
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
    return expected, ignore


def _check_file(
    result: Verification,
    rel: str,
    wanted: dict[str, Expected],
    on_card: set[str],
    record: tuple[str, ...],
    progress: Callable[[int], None] | None,
    has_manifests: bool,
    ignore: IgnoreList,
) -> None:
    """One card file (or one a manifest lists): present, right size, hashes recorded and compared."""
    path = result.root / rel
    if rel not in on_card:
        man = next(iter(wanted.values())).manifest if wanted else None
        msg = f"{path}: listed in {man} but not on the card"
        result.failures.append(Failure(rel, "missing", msg, manifest=man))
        return
    if not wanted and not record:
        _note_unlisted(result, rel, has_manifests, ignore)
        return  # nothing to check or record: do not read the file
    got = _read_file(result, path, rel, wanted, record, progress)
    if got is None:
        return
    result.hashes[rel] = {("xxh64" if a == "xxh64le" else a): v for a, v in got.items() if a != "xxh64le"}
    if "xxh64le" in got:
        result.hashes[rel].setdefault("xxh64", bytes.fromhex(got["xxh64le"])[::-1].hex())
    if not wanted:
        _note_unlisted(result, rel, has_manifests, ignore)
        return
    result.checked.append(rel)
    _compare(result, path, rel, wanted, got)


def _read_file(
    result: Verification,
    path: Path,
    rel: str,
    wanted: dict[str, Expected],
    record: tuple[str, ...],
    progress: Callable[[int], None] | None,
) -> dict[str, str] | None:
    """Check the size a manifest gives and hash the file once for every algorithm; None if unreadable."""
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
        return None
    return got


def _compare(result: Verification, path: Path, rel: str, wanted: dict[str, Expected], got: dict[str, str]) -> None:
    """A mismatch failure for every listed hash that differs from the one computed."""
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


def _note_unlisted(result: Verification, rel: str, has_manifests: bool, ignore: IgnoreList) -> None:
    """A card file no manifest lists (and no pattern ignores) is reported, not failed."""
    if has_manifests and not any(_ignored(rel, base, pat) for base, pat in ignore):
        result.unlisted.append(rel)


def _ignored(rel: str, base: str, pattern: str) -> bool:
    sub = rel[len(base) + 1 :] if base and rel.startswith(base + "/") else rel
    name = PurePosixPath(sub).name
    pat = pattern.rstrip("/")
    return fnmatch.fnmatch(sub, pat) or fnmatch.fnmatch(name, pat) or sub.startswith(pat + "/")
