"""Reading camera and manifest XML without trusting it.

Sidecar XML comes off a camera card, which is to say from anywhere: a DIT's
laptop, a download, a card formatted by something else. The stdlib parser expands
entities, so a ten-line "billion laughs" file can take gigabytes, and external
entities can read local files. defusedxml refuses both (and DTD tricks in general);
we add a size cap so an absurdly large "XML" file is not read into memory, and turn
every failure into one error type whose message names the file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import defusedxml.ElementTree as SafeET
from defusedxml.common import DefusedXmlException

#: Real sidecars are a few KiB to a few hundred KiB; an MHL of a big card a few MiB.
MAX_XML_BYTES = 64 * 1024 * 1024


class UnsafeXMLError(ValueError):
    """The XML is malformed, hostile (entities, DTD tricks) or too big; names the file."""


def parse_xml(path: Path, max_bytes: int = MAX_XML_BYTES) -> ET.Element:
    """Parse ``path`` safely and return its root element, or raise UnsafeXMLError."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UnsafeXMLError(f"{path}: XML file is {size} bytes, more than the {max_bytes} kinod reads")
        data = path.read_bytes()
    except OSError as e:
        raise UnsafeXMLError(f"{path}: cannot read: {e.strerror or e}") from None
    return parse_xml_bytes(data, str(path))


def parse_xml_bytes(data: bytes, name: str) -> ET.Element:
    """Parse XML held in memory (e.g. an iXML chunk); ``name`` is used in messages."""
    if not data.strip():
        raise UnsafeXMLError(f"{name}: XML is empty")
    try:
        return SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise UnsafeXMLError(f"{name}: refused hostile XML ({type(e).__name__}: {e})") from None
    except ET.ParseError as e:
        raise UnsafeXMLError(f"{name}: malformed XML: {e}") from None
    except (ValueError, UnicodeError) as e:  # odd encodings declared in the prolog
        raise UnsafeXMLError(f"{name}: unreadable XML: {e}") from None


def local(tag: str) -> str:
    """Tag without its namespace: Sony and P2 change namespace URIs between versions."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def child(el: ET.Element | None, name: str) -> ET.Element | None:
    """First direct child named ``name`` (namespace ignored)."""
    if el is None:
        return None
    for c in el:
        if local(c.tag) == name:
            return c
    return None


def children(el: ET.Element | None, name: str) -> list[ET.Element]:
    if el is None:
        return []
    return [c for c in el if local(c.tag) == name]


def find_path(el: ET.Element | None, *names: str) -> ET.Element | None:
    """Follow direct children by local name: ``find_path(root, "ClipContent", "ClipName")``."""
    for n in names:
        el = child(el, n)
        if el is None:
            return None
    return el


def text(el: ET.Element | None, *names: str) -> str | None:
    """Stripped text of the element at ``names`` below ``el``, or None when absent or empty."""
    target = find_path(el, *names) if names else el
    if target is None or target.text is None:
        return None
    value = target.text.strip()
    return value or None


def iter_local(el: ET.Element, name: str) -> Iterator[ET.Element]:
    """All descendants (and ``el`` itself) with local name ``name``."""
    for e in el.iter():
        if local(e.tag) == name:
            yield e
