"""Image sequences: a shot delivered as a folder of numbered frames (DPX, EXR, TIFF, PNG, JPEG).

Film scans, VFX plates, renders and some cinema cameras write one file per frame
(``A001C003.0086400.dpx``, ``plate_v002.1001.exr``). Editors and media managers treat
such a run as one clip, so kinod does too: :func:`find_sequences` groups file names
that differ only in their frame number (the last run of digits in the name, any
padding and separator, a version token such as ``_v002`` before it stays part of the
name) into :class:`ImageSequence` values. Several sequences in one folder stay apart
(their names differ elsewhere); a single numbered still stays a still.

Missing numbers are **gaps**: never bridged, the clip's frame index keeps the numbers'
spacing (frame ``n`` of the clip is number ``first + n``), and the gaps are reported.
The value holds ranges, not every name, so a 1,000,000-frame sequence stays small
when it travels with its clip.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path, PurePosixPath
from typing import Any

#: Frame formats a sequence is made of (ffmpeg decodes each with its image2 demuxer).
SEQUENCE_EXTENSIONS = frozenset({".dpx", ".exr", ".tif", ".tiff", ".png", ".jpg", ".jpeg"})
#: Formats with a fixed size per frame at one resolution: a shorter frame is truncated.
UNCOMPRESSED = frozenset({".dpx"})
#: The last run of digits of a name's stem is the frame number; what is around it names the sequence.
_NUMBERED = re.compile(r"^(?P<head>.*?)(?P<num>\d+)(?P<tail>\D*)$", re.DOTALL)
#: Gap ranges written out in full; beyond this a sequence's JSON names the count only.
MAX_LISTED_GAPS = 1000


@dataclass(frozen=True)
class ImageSequence:
    """One numbered run of frames in one folder.

    ``head`` + number (``padding`` digits, 0: unpadded) + ``tail`` (the extension
    included) is each frame's name. ``gaps``: missing numbers as inclusive ranges;
    ``bad``: frames present but unusable (zero bytes, shorter than their siblings in an
    uncompressed format), which the decode leaves out like a gap and the reports flag.
    """

    folder: Path
    head: str
    tail: str
    padding: int
    first: int
    last: int
    gaps: tuple[tuple[int, int], ...] = ()
    bad: tuple[int, ...] = ()
    size: int = 0

    @property
    def ext(self) -> str:
        return _ext(self.tail)

    @property
    def span(self) -> int:
        """Frames on the clip's timeline, gaps included (``last - first + 1``)."""
        return self.last - self.first + 1

    @property
    def missing(self) -> int:
        return sum(b - a + 1 for a, b in self.gaps)

    @property
    def count(self) -> int:
        """Frame files present."""
        return self.span - self.missing

    @property
    def pattern(self) -> str:
        """The frames' name as ffmpeg's image2 demuxer and the NLEs read it (``plate.%04d.exr``)."""
        digits = f"%0{self.padding}d" if self.padding else "%d"
        return self.head.replace("%", "%%") + digits + self.tail.replace("%", "%%")

    @property
    def hashes(self) -> str:
        """The name with ``#`` for each digit (``plate.####.exr``), as Nuke and Resolve write it."""
        return self.head + "#" * max(self.padding, 1) + self.tail

    @property
    def clip_name(self) -> str:
        """A readable clip name: the frames' name without number and extension."""
        return self.head.rstrip("._- ") or os.path.splitext(self.name(self.first))[0]

    @property
    def contiguous(self) -> bool:
        """True when every number from first to last is a usable frame (image2 reads it alone)."""
        return not self.gaps and not self.bad

    def name(self, number: int) -> str:
        return f"{self.head}{number:0{self.padding}d}{self.tail}"

    def path(self, number: int) -> Path:
        return self.folder / self.name(number)

    def numbers(self) -> Iterator[int]:
        """Every present frame number, in order."""
        n = self.first
        for a, b in self.gaps:
            yield from range(n, a)
            n = b + 1
        yield from range(n, self.last + 1)

    def usable(self) -> Iterator[int]:
        """Present frames that can be decoded (``bad`` ones left out)."""
        bad = set(self.bad)
        return (n for n in self.numbers() if n not in bad)

    def samples(self, k: int) -> list[int]:
        """Up to ``k`` present numbers spread evenly, first and last included."""
        if self.count <= k:
            return list(self.numbers())
        want = sorted({self.first + round(i * (self.span - 1) / (k - 1)) for i in range(k)})
        present = []
        for n in want:
            m = self._nearest_present(n)
            if m not in present:
                present.append(m)
        return present

    def _nearest_present(self, n: int) -> int:
        for a, b in self.gaps:
            if a <= n <= b:
                return a - 1 if a - 1 >= self.first else b + 1
        return n

    def with_paths(self, swap: Callable[[str], str]) -> ImageSequence:
        return replace(self, folder=Path(swap(str(self.folder))))

    def problems(self) -> list[str]:
        """What the reports must say about this sequence (gaps, bad frames); [] when whole."""
        out = []
        if self.gaps:
            listed = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in self.gaps[:20])
            more = f" and {len(self.gaps) - 20} more ranges" if len(self.gaps) > 20 else ""
            out.append(f"{self.hashes}: {self.missing} frame(s) missing (gaps at {listed}{more}); not bridged")
        if self.bad:
            listed = ", ".join(str(n) for n in self.bad[:20])
            out.append(f"{self.hashes}: {len(self.bad)} frame(s) empty or truncated ({listed}); left out of analysis")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "head": self.head,
            "tail": self.tail,
            "padding": self.padding,
            "pattern": self.pattern,
            "first": self.first,
            "last": self.last,
            "count": self.count,
            "frames": self.span,
            "gaps": [list(g) for g in self.gaps[:MAX_LISTED_GAPS]],
            "gap_ranges": len(self.gaps),
            "missing": self.missing,
            "bad": list(self.bad[:MAX_LISTED_GAPS]),
            "size": self.size,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ImageSequence:
        return cls(
            Path(d["folder"]), d["head"], d["tail"], int(d["padding"]), int(d["first"]), int(d["last"]),
            tuple((int(a), int(b)) for a, b in d.get("gaps", [])), tuple(int(n) for n in d.get("bad", [])),
            int(d.get("size", 0)),
        )  # fmt: skip


@dataclass(frozen=True)
class Numbered:
    """One file name read as a frame of a sequence: the name around its number, and the number."""

    folder: str
    head: str
    digits: str
    tail: str
    size: int

    @property
    def number(self) -> int:
        return int(self.digits)


def numbered(rel: str, size: int) -> Numbered | None:
    """A card-relative path read as a sequence frame; None when it is not one (extension, no number)."""
    p = PurePosixPath(rel)
    stem, ext = os.path.splitext(p.name)
    if ext.lower() not in SEQUENCE_EXTENSIONS or any(part.upper() == "DCIM" for part in p.parts[:-1]):
        return None  # DCIM: a stills camera's numbered photos, not frames of a shot
    m = _NUMBERED.match(stem)
    if m is None:
        return None
    return Numbered(str(p.parent) if str(p.parent) != "." else "", m["head"], m["num"], m["tail"] + ext, size)


def find_sequences(root: Path, files: Iterable[tuple[str, int]]) -> list[tuple[ImageSequence, list[str]]]:
    """The sequences among card-relative ``(path, size)`` pairs, each with the paths it takes.

    Names are grouped by folder, the text around the number and the extension; a group
    of one is a still and is not returned. Within a group the padding is the one most
    zero-led numbers show (else the common length, else none); a name that the padding
    would not write (``01`` among ``0001``) stays out, as a still.
    """
    groups: dict[tuple[str, str, str], list[Numbered]] = {}
    for rel, size in files:
        n = numbered(rel, size)
        if n is not None:
            groups.setdefault((n.folder, n.head, n.tail), []).append(n)
    out = []
    for (folder, head, tail), members in sorted(groups.items()):
        padding = _padding([m.digits for m in members])
        frames = {m.number: m for m in members if f"{m.number:0{padding}d}" == m.digits}
        if len(frames) < 2:
            continue
        seq = _sequence(root / folder if folder else root, head, tail, padding, frames)
        out.append((seq, [f"{folder}/{frames[n].head}{frames[n].digits}{tail}".lstrip("/") for n in sorted(frames)]))
    return out


def _padding(digits: list[str]) -> int:
    zero_led = Counter(len(d) for d in digits if len(d) > 1 and d.startswith("0"))
    if zero_led:
        return zero_led.most_common(1)[0][0]
    lengths = {len(d) for d in digits}
    return lengths.pop() if len(lengths) == 1 else 0


def _sequence(folder: Path, head: str, tail: str, padding: int, frames: dict[int, Numbered]) -> ImageSequence:
    numbers = sorted(frames)
    gaps = tuple((a + 1, b - 1) for a, b in pairwise(numbers) if b > a + 1)
    sizes = [frames[n].size for n in numbers]
    usual = Counter(sizes).most_common(1)[0][0]
    uncompressed = _ext(tail) in UNCOMPRESSED
    bad = tuple(n for n in numbers if frames[n].size == 0 or (uncompressed and frames[n].size < usual))
    return ImageSequence(folder, head, tail, padding, numbers[0], numbers[-1], gaps, bad, sum(sizes))


def _ext(tail: str) -> str:
    """The extension of a frame name's tail (``.dpx``; the tail may be the extension alone)."""
    return "." + tail.rsplit(".", 1)[-1].lower() if "." in tail else ""
