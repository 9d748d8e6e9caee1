"""Reading a slate (clapperboard) from the text lines of one picture.

Why geometry and not just regular expressions: a slate prints each field's label above
or beside its value ("SCENE" over "42"), and OCR returns them as separate lines. A value
is the rest of the label's own line ("TAKE 7", "ROLL: A012") or else the nearest line
below the label that overlaps it horizontally, or the one just right of it on the same row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kinod.analyzers.ocr.engine import TextBox

#: Field -> label spellings (upper case, without punctuation).
LABELS: dict[str, tuple[str, ...]] = {
    "production": ("PRODUCTION", "PROD", "PROD.", "TITLE"),
    "roll": ("ROLL", "REEL", "CAMROLL", "CAM ROLL"),
    "scene": ("SCENE", "SCN", "SC", "SC."),
    "take": ("TAKE", "TK", "TK."),
    "date": ("DATE",),
    "camera": ("CAMERA", "CAM", "CAM."),
    "director": ("DIRECTOR", "DIR", "DIR."),
}
_WORD = re.compile(r"[A-Z][A-Z. ]*[A-Z.]|[A-Z]")


def _label_of(text: str) -> tuple[str, str] | None:
    """(field, rest of the line) when the line starts with a label."""
    upper = text.upper().strip()
    for field, spellings in LABELS.items():
        for sp in sorted(spellings, key=len, reverse=True):
            if upper == sp or re.match(rf"^{re.escape(sp)}(?=[\s:#.\-]|$)", upper):
                rest = text[len(sp) :].strip(" :#.-\t")
                return field, rest
            glued = upper[len(sp) :]
            # OCR often drops the space of a short value: "CAMERAB", "TAKE7", "SC12A".
            if upper.startswith(sp) and 0 < len(glued) <= 4 and glued.isalnum() and _plausible(field, glued):
                return field, text[len(sp) :]
    return None


def _plausible(field: str, value: str) -> bool:
    """A glued value must look like one: digits for scene/take/roll, one or two letters for camera."""
    if field == "camera":
        return len(value) <= 2 and value.isalpha()
    if field in ("scene", "take", "roll"):
        return any(c.isdigit() for c in value)
    return False


def read_slate(lines: Sequence[TextBox]) -> dict[str, str]:
    """Slate fields found among one picture's lines (empty when it is not a slate).

    At least two of roll/scene/take must be found for a picture to count as a slate, so
    a sign saying "TAKE AWAY" does not make a clip a slate.
    """
    found: dict[str, str] = {}
    labels: list[tuple[str, TextBox]] = []
    used: set[int] = set()
    for i, line in enumerate(lines):
        got = _label_of(line.text)
        if got is None:
            continue
        field, rest = got
        used.add(i)
        if rest and field not in found:
            found[field] = rest
        elif field not in found:
            labels.append((field, line))
    for field, lab in labels:
        value = _value_near(lab, lines, used)
        if value is not None:
            found.setdefault(field, value)
    if sum(k in found for k in ("roll", "scene", "take")) < 2:
        return {}
    return {k: v for k, v in found.items() if k != "director" or v}


def _value_near(label: TextBox, lines: Sequence[TextBox], used: set[int]) -> str | None:
    lx, ly, lw, lh = label.box
    best: tuple[float, int] | None = None
    for i, line in enumerate(lines):
        if i in used or line is label:
            continue
        x, y, w, h = line.box
        overlap = min(lx + lw, x + w) - max(lx, x)
        below = y - (ly + lh)
        if overlap > 0.3 * min(lw, w) and -0.3 * lh <= below <= 4 * lh:
            d = below
        elif abs((y + h / 2) - (ly + lh / 2)) < 0.6 * lh and 0 <= x - (lx + lw) <= 3 * lh:
            d = (x - (lx + lw)) + lh  # same row, to the right: second choice
        else:
            continue
        if best is None or d < best[0]:
            best = (d, i)
    if best is None:
        return None
    used.add(best[1])
    return lines[best[1]].text.strip(" :#.-")
