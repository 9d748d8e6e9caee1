"""CSV of all markers, for spreadsheets and asset managers.

RFC 4180 quoting (``csv`` module) carries commas, quotes, tabs and line breaks inside
cells. Two concessions to spreadsheets, both switchable: a UTF-8 byte order mark so
Excel does not read the file as Latin-1, and a leading ``'`` on cells that start with
``= + - @``, so no spreadsheet runs a marker name as a formula (CSV injection).
Every colour column is there, so an asset manager can show what each NLE will show.
"""

from __future__ import annotations

import csv
import io
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from kinod.export.writers.base import (
    AVID_COLORS,
    PREMIERE_COLORS,
    RESOLVE_COLORS,
    ReadMarker,
    Writer,
    clean_text,
    timeline_facts,
)
from kinod.export.writers.options import ExportOptions
from kinod.media.fsutil import atomic_write_bytes
from kinod.media.timecode import format_rate

COLUMNS: tuple[str, ...] = (
    "clip",
    "path",
    "category",
    "name",
    "comment",
    "note",
    "analyzer",
    "confidence",
    "frame",
    "duration_frames",
    "seconds",
    "duration_s",
    "source_tc",
    "record_tc",
    "rate",
    "drop_frame",
    "color",
    "resolve_color",
    "premiere_color_index",
    "avid_color",
)

_FORMULA_START = ("=", "+", "-", "@")


def csv_cell(text: str, guard: bool) -> str:
    """A text cell: XML-safe characters, and ``'`` in front of a formula start when guarded."""
    text = clean_text(text)
    return "'" + text if guard and text.startswith(_FORMULA_START) else text


class CsvWriter(Writer):
    format = "csv"
    suffix = ".markers.csv"
    description = "CSV of all markers (spreadsheets, asset managers)"

    def write(self, timeline: otio.schema.Timeline, dest: Path, opts: ExportOptions) -> Path:
        facts = timeline_facts(timeline)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(COLUMNS)
        guard = opts.csv_formula_guard
        for clip in facts.clips:
            for m in clip.markers:
                w.writerow(
                    [
                        csv_cell(clip.name, guard),
                        csv_cell(clip.path, guard),
                        m.category,
                        csv_cell(m.name, guard),
                        csv_cell(m.comment, guard),
                        csv_cell(m.note, guard),
                        m.analyzer or "",
                        "" if m.confidence is None else f"{m.confidence:.4f}",
                        m.frame,
                        m.duration,
                        f"{float(Fraction(m.frame) / clip.rate):.6f}",
                        f"{float(Fraction(m.duration) / clip.rate):.6f}",
                        clip.source_tc(m.frame),
                        facts.record_tc(clip.record_start + m.frame),
                        format_rate(clip.rate),
                        "DF" if clip.drop_frame else "NDF",
                        m.color,
                        RESOLVE_COLORS.get(m.color, ""),
                        PREMIERE_COLORS.get(m.color, ""),
                        AVID_COLORS.get(m.color, ""),
                    ]
                )
        data = buf.getvalue().encode("utf-8")
        atomic_write_bytes(dest, (b"\xef\xbb\xbf" if opts.csv_bom else b"") + data)
        return dest

    def read(self, path: Path, rate: Fraction | None = None) -> list[ReadMarker]:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        missing = [c for c in ("name", "frame", "color") if rows and c not in rows[0]]
        if missing:
            raise ValueError(f"{path}: not a kinod marker CSV (missing columns {missing})")
        return [
            ReadMarker(
                name=r["name"],
                frame=int(r["frame"]),
                duration=int(r["duration_frames"]),
                comment=r["note"],
                color=r["color"],
                clip=r["clip"],
            )
            for r in rows
        ]
