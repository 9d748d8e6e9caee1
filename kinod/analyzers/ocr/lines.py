"""From the engine's boxes to the lines an editor reads: spaces, reading order, fragments, timecode.

Why this layer: PP-OCR's detector cuts one sign into several boxes where the letters are
spaced wide ("BLUE" + "HERON BAKERY"), and its recogniser drops a space it reads as a
gap between letters ("HERONBAKERY"). Boxes on one text line (their middles within half a
height, their sizes alike, the gap under ``max_gap`` heights) are joined left to right
with a space; a space is put back inside a box where its picture has a blank column run
wider than a third of its height between two recognised characters. A slate's small field name beside its big value
("ROLL" at 30 px, "A012" at 96 px) differs in size and stays apart, so the slate reader
still sees the label and the value. Tiny or unsure fragments are dropped last.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import replace

import cv2
import numpy as np

from kinod.analyzers.ocr.engine import TextBox

#: HH:MM:SS:FF with any of : ; . , between the fields; OCR sometimes doubles a leading digit ("000:00:00:00").
_TC = re.compile(r"(?<![\d:;.,])(\d{2,3}) ?([:;.,]) ?(\d{2}) ?([:;.,]) ?(\d{2}) ?([:;.,]) ?(\d{2,3})(?![\d:;.,])")
#: A blank this many line heights wide inside a box is a space (benchmarks/ocr.py) ...
SPACE_GAP = 0.3
#: ... unless it is beside punctuation, which monospaced fonts pad with blank columns ("01 : 00").
_NO_SPACE = frozenset(" :;.,-/")


def ink_gaps(crop: np.ndarray) -> list[tuple[float, float]]:
    """(left, right) of each run of columns without ink in a text box's crop (BGR or grey), in crop pixels.

    Ink is the minority side of an Otsu threshold (dark text on light or light on dark); runs
    touching the crop's ends are margins, not gaps.
    """
    gray = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    if gray.size == 0:
        return []
    _t, binary = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink = binary if binary.mean() < 0.5 else 1 - binary
    empty = ink.sum(axis=0) == 0  # the whole height: serifs and the tops of round letters are ink
    runs: list[tuple[float, float]] = []
    start: int | None = None
    for x, blank in enumerate(empty):
        if blank and start is None:
            start = x
        elif not blank and start is not None:
            if start > 0:
                runs.append((float(start), float(x)))
            start = None
    return runs


def spaced(
    text: str, chars: Sequence[tuple[str, float, float]], gaps: Sequence[tuple[float, float]], height: float
) -> str:
    """``text`` with a space put back where the picture has a blank wider than SPACE_GAP line heights.

    ``chars`` are (character, left, right) from the recogniser's column alignment (too coarse
    to measure gaps by itself: "m" and "w" spread over blank columns); ``gaps`` are the blank
    column runs of the box's picture (:func:`ink_gaps`), in the same coordinates. A space goes
    between two characters when such a blank lies between their middles.
    """
    if len(chars) < 2 or "".join(c for c, _l, _r in chars).replace(" ", "") != text.replace(" ", ""):
        return text
    wide = [(a + b) / 2 for a, b in gaps if b - a >= SPACE_GAP * height]
    if not wide:
        return text
    out = [chars[0][0]]
    for a, b in itertools.pairwise(chars):
        mid_a, mid_b = (a[1] + a[2]) / 2, (b[1] + b[2]) / 2
        if a[0] not in _NO_SPACE and b[0] not in _NO_SPACE and any(mid_a < g < mid_b for g in wide):
            out.append(" ")
        out.append(b[0])
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def _same_line(a: TextBox, b: TextBox, max_gap: float, size_ratio: float) -> bool:
    ax, ay, aw, ah = a.box
    bx, by, _bw, bh = b.box
    if max(ah, bh) > size_ratio * min(ah, bh):
        return False
    if abs((ay + ah / 2) - (by + bh / 2)) > 0.5 * min(ah, bh):
        return False
    gap = bx - (ax + aw)
    return -0.2 * min(ah, bh) <= gap <= max_gap * max(ah, bh)


def join_lines(boxes: Sequence[TextBox], max_gap: float = 1.4, size_ratio: float = 1.35) -> list[TextBox]:
    """Boxes on one text line joined left to right with a space; lines top to bottom, then left to right."""
    rest = sorted(boxes, key=lambda t: (t.box[0], t.box[1]))
    lines: list[TextBox] = []
    while rest:
        line = rest.pop(0)
        grown = True
        while grown:
            grown = False
            for i, nxt in enumerate(rest):
                if _same_line(line, nxt, max_gap, size_ratio):
                    line = _joined(line, rest.pop(i))
                    grown = True
                    break
        lines.append(line)
    return reading_order(lines)


def reading_order(lines: Sequence[TextBox]) -> list[TextBox]:
    """Rows top to bottom (a line joins the row whose middle is within half its height), each left to right."""
    rows: list[list[TextBox]] = []
    for t in sorted(lines, key=lambda t: t.box[1] + t.box[3] / 2):
        mid = t.box[1] + t.box[3] / 2
        last = rows[-1][0] if rows else None
        if last is not None and abs(mid - (last.box[1] + last.box[3] / 2)) < 0.5 * min(t.box[3], last.box[3]):
            rows[-1].append(t)
        else:
            rows.append([t])
    return [t for row in rows for t in sorted(row, key=lambda t: t.box[0])]


def _joined(a: TextBox, b: TextBox) -> TextBox:
    ax, ay, aw, ah = a.box
    bx, by, bw, bh = b.box
    x0, y0 = min(ax, bx), min(ay, by)
    x1, y1 = max(ax + aw, bx + bw), max(ay + ah, by + bh)
    weight = len(a.text) + len(b.text)
    conf = (a.confidence * len(a.text) + b.confidence * len(b.text)) / max(weight, 1)
    return replace(a, text=f"{a.text} {b.text}", confidence=conf, box=(x0, y0, x1 - x0, y1 - y0))


def kept(boxes: Sequence[TextBox], min_height: float, min_confidence: float, min_chars: int = 1) -> list[TextBox]:
    """Lines an editor would want: tall enough (pixels), sure enough, and more than a stray character."""
    return [
        t
        for t in boxes
        if t.box[3] >= min_height and t.confidence >= min_confidence and len(t.text.replace(" ", "")) >= min_chars
    ]


def burned_in_tc(text: str) -> str | None:
    """The timecode label a line shows (``"01:02:03:04"``, ``";"`` kept for drop frame), or None.

    A hundreds digit OCR adds to the hours or frames ("000:00:00:00") is dropped: timecode
    fields have two digits at the rates kinod handles.
    """
    m = _TC.search(text)
    if m is None:
        return None
    hh, _s1, mm, _s2, ss, sep, ff = m.groups()
    hh, ff = hh[-2:], ff[-2:]
    if int(mm) > 59 or int(ss) > 59 or int(hh) > 23:
        return None
    return f"{hh}:{mm}:{ss}{';' if sep in ';,' else ':'}{ff}"
