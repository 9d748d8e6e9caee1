"""Reading a card's Media Hash Lists: ASC MHL v2 histories and legacy MHL v1.x files.

Split from :mod:`kinod.media.mhl`, which verifies the card against what is read here.
Parsing goes through our defused XML reader (no write access, no lxml); an ASC MHL
generation whose C4 id no longer matches its chain is refused, since a manifest edited
after offload cannot vouch for anything.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from kinod.media.cards.xmlsafe import UnsafeXMLError, child, children, iter_local, local, parse_xml, text
from kinod.media.mhl_hash import MHLError, hash_file
from kinod.media.mhl_verdict import Failure

ASC_HASHES = ("md5", "sha1", "xxh32", "xxh64", "xxh3", "xxh128", "c4")
LEGACY_HASHES = {"md5": "md5", "sha1": "sha1", "xxhash": "xxh32", "xxhash64": "xxh64le", "xxhash64be": "xxh64"}


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
