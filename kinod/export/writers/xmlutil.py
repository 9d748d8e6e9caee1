"""Small XML helpers shared by the FCP7 and FCPXML writers and their readers.

ElementTree escapes ``&``, ``<``, ``>`` and quotes correctly; what it does not do is
refuse characters XML 1.0 forbids (control characters), so every text goes through
:func:`kinod.export.writers.base.clean_text` first. Files we read back are parsed with
defusedxml, because a marker file may come from anywhere.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from kinod.export.writers.base import clean_text


def sub(parent: ET.Element, tag: str, text: str | int | None = None, **attrs: str) -> ET.Element:
    """Append a child element; ``text`` is cleaned so the document stays well-formed."""
    el = ET.SubElement(parent, tag, {k.rstrip("_"): clean_text(v) for k, v in attrs.items()})
    if text is not None:
        el.text = clean_text(str(text))
    return el


def serialize(root: ET.Element, doctype: str, indent: str = "\t") -> bytes:
    """UTF-8 document with an XML declaration and ``<!DOCTYPE ...>``, as the NLEs write them."""
    ET.indent(root, space=indent)
    body = ET.tostring(root, encoding="unicode", short_empty_elements=True)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE {doctype}>\n{body}\n'.encode()


def parse(path: Path) -> ET.Element:
    """Parse a file safely (no entities, no external DTDs); ValueError names the file."""
    try:
        return SafeET.parse(str(path)).getroot()
    except (OSError, ET.ParseError, DefusedXmlException) as e:
        raise ValueError(f"{path}: not readable XML: {e}") from None


def file_url(path: str, localhost: bool) -> str:
    """``file://`` URL of an absolute path, percent-encoded (``file://localhost/...`` for FCP7)."""
    quoted = quote(path.replace("\\", "/"), safe="/")
    if not quoted.startswith("/"):
        quoted = "/" + quoted
    return ("file://localhost" if localhost else "file://") + quoted


def url_path(url: str) -> str:
    """The path of a ``file://`` URL, decoded."""
    return unquote(urlparse(url).path)
