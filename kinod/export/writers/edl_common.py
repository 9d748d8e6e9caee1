"""CMX3600 building blocks shared by the shot EDL and Resolve's marker EDL, and a reader.

We write EDLs ourselves because the OTIO cmx_3600 adapter writes no ``FCM:`` line and
its reader drops every locator with a drop-frame (``;``) timecode. The reader here is
ours too, for the same reason: it understands ``;`` timecodes, ``FCM:`` and Resolve's
``|C: |M: |D:`` marker lines, so the round-trip tests check what an NLE would see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from kinod.export.writers.base import single_line
from kinod.media.timecode import frames_to_tc, supports_drop_frame, tc_to_frames

_TC = r"\d{2}[:;.,]\d{2}[:;.,]\d{2}[:;.,]\d{2,3}"
EVENT_RE = re.compile(
    rf"^(?P<num>\d{{3,}})\s+(?P<reel>\S+)\s+(?P<track>\S+)\s+(?P<trans>C|D\s*\d+|W\d+\s*\d+|K\s*[BO]?\s*\d*)\s+"
    rf"(?P<src_in>{_TC})\s+(?P<src_out>{_TC})\s+(?P<rec_in>{_TC})\s+(?P<rec_out>{_TC})\s*$"
)
_REEL_CHARS = re.compile(r"[^A-Z0-9_]")


class EdlError(ValueError):
    """An EDL we cannot read; the message names the file and the line."""


def header(title: str, drop_frame: bool) -> list[str]:
    """``TITLE:`` (one line, at most 70 characters) and the ``FCM:`` line, then a blank line."""
    name = single_line(title)[:70] or "kinod"
    return [f"TITLE: {name}", f"FCM: {'DROP FRAME' if drop_frame else 'NON-DROP FRAME'}", ""]


def reel_name(reel: str | None, clip_name: str) -> str:
    """An 8-character CMX reel name: the camera's reel when known, else the clip name's stem."""
    base = reel or Path(clip_name).stem or "AX"
    text = _REEL_CHARS.sub("_", base.upper())[:8].strip("_")
    return text or "AX"


def event_line(num: int, reel: str, track: str, src_in: str, src_out: str, rec_in: str, rec_out: str) -> str:
    """One cut event in the fixed CMX3600 columns (what Avid and Resolve write)."""
    return f"{num:03d}  {reel:<8} {track:<5} C        {src_in} {src_out} {rec_in} {rec_out}"


def tc(frames: int, rate: Fraction, drop_frame: bool) -> str:
    return frames_to_tc(frames, rate, drop_frame)


def _is_df(text: str, rate: Fraction) -> bool:
    return ";" in text and supports_drop_frame(rate)


@dataclass
class EdlEvent:
    num: int
    reel: str
    track: str
    src_in: int
    src_out: int
    rec_in: int
    rec_out: int
    comments: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


@dataclass
class Edl:
    title: str
    drop_frame: bool
    events: list[EdlEvent]


def read_edl(path: Path, rate: Fraction) -> Edl:
    """Parse an EDL at ``rate``. Lines after an event that are comments (``*``) go to
    ``comments``; other non-empty lines (Resolve's marker lines) go to ``extra``.

    Record timecodes count as ``FCM:`` says, falling back to the separator; source
    timecodes by their own separator (``;`` drop frame), since each clip keeps its own counting.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise EdlError(f"{path}: cannot read EDL: {e}") from None
    title = ""
    drop: bool | None = None
    events: list[EdlEvent] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("TITLE:"):
            title = stripped[6:].strip()
            continue
        if stripped.startswith("FCM:"):
            drop = "NON" not in stripped.upper()
            continue
        m = EVENT_RE.match(line)
        if m:
            df = drop if drop is not None else ";" in m.group("rec_in")
            df = df and supports_drop_frame(rate)
            try:
                fr = {k: tc_to_frames(m.group(k), rate, df) for k in ("rec_in", "rec_out")}
                # Source TCs keep the clip's own counting: the separator tells which.
                fr |= {k: tc_to_frames(m.group(k), rate, _is_df(m.group(k), rate)) for k in ("src_in", "src_out")}
            except ValueError as e:
                raise EdlError(f"{path}:{lineno}: {e}") from None
            events.append(EdlEvent(int(m.group("num")), m.group("reel"), m.group("track"), **fr))
            continue
        if not events:
            raise EdlError(f"{path}:{lineno}: text before the first event: {stripped[:60]!r}")
        if stripped.startswith("*"):
            events[-1].comments.append(stripped[1:].strip())
        else:
            events[-1].extra.append(line)
    return Edl(title, bool(drop), events)
