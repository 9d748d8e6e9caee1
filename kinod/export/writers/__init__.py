"""Format writers and the two calls the pipeline makes: per clip and per card.

Writers are found through the ``kinod.exporters`` entry-point group, so a package can
add a format without editing kinod; the built-in ones are registered here too, so
they work even from a source tree whose entry points were never installed.

Output names follow the design's layout: ``<clip file name><suffix>`` per clip
(``A001C003.mov.resolve.edl``) and ``<card name><suffix>`` per card (``card.fcp7.xml``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import structlog

from kinod.export.card_report import JSON_NAME as CARD_REPORT_NAME
from kinod.export.timeline import card_timeline, clip_timeline
from kinod.export.writers.avid_locators import AvidLocatorWriter
from kinod.export.writers.base import ReadMarker, Writer
from kinod.export.writers.cmx_edl import CmxEdlWriter
from kinod.export.writers.fcp7_xml import Fcp7XmlWriter
from kinod.export.writers.fcpxml import FcpxmlWriter
from kinod.export.writers.markers_csv import CsvWriter
from kinod.export.writers.options import ExportOptions
from kinod.export.writers.otio import OtioWriter
from kinod.export.writers.resolve_edl import ResolveEdlWriter
from kinod.export.writers.subtitles import SrtWriter, VttWriter
from kinod.export.yaml_out import YAML_FORMAT, YAML_SUFFIX, read_json, sidecar_yaml_path, write_yaml
from kinod.media.fsutil import fit_name

__all__ = [
    "BUILTIN_WRITERS",
    "ENTRY_POINT_GROUP",
    "SIDECAR_FORMATS",
    "ExportError",
    "ExportOptions",
    "ReadMarker",
    "Writer",
    "get_writer",
    "write_card_formats",
    "write_formats",
    "writer_classes",
]

log = structlog.get_logger(__name__)

ENTRY_POINT_GROUP = "kinod.exporters"

BUILTIN_WRITERS: tuple[type[Writer], ...] = (
    OtioWriter,
    CmxEdlWriter,
    ResolveEdlWriter,
    Fcp7XmlWriter,
    FcpxmlWriter,
    AvidLocatorWriter,
    SrtWriter,
    VttWriter,
    CsvWriter,
)

#: ``json`` in a format list means the sidecar itself, which the pipeline always writes.
SIDECAR_FORMAT = "json"
#: Formats that are the sidecar itself rather than a timeline: ``yaml`` is its YAML twin.
SIDECAR_FORMATS = frozenset({SIDECAR_FORMAT, YAML_FORMAT})
#: Formats that need a speech analysis; without one they are skipped, not written empty.
TRANSCRIPT_FORMATS = frozenset({"srt", "vtt"})


class ExportError(RuntimeError):
    """Some formats could not be written; ``written`` lists the files that were."""

    def __init__(self, message: str, written: list[Path]) -> None:
        super().__init__(message)
        self.written = written


@cache
def writer_classes() -> dict[str, type[Writer]]:
    """Format name -> writer class: the built-ins, then whatever the entry points add."""
    found: dict[str, type[Writer]] = {cls.format: cls for cls in BUILTIN_WRITERS}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as e:  # a broken plug-in must not take the built-in formats down
            log.warning("cannot load exporter", entry_point=ep.name, error=str(e))
            continue
        if not (isinstance(cls, type) and issubclass(cls, Writer)):
            log.warning("exporter entry point is not a Writer subclass", entry_point=ep.name)
            continue
        found[cls.format] = cls
    return found


def get_writer(fmt: str) -> Writer:
    """A writer for ``fmt``; ValueError names the format and the known ones."""
    classes = writer_classes()
    if fmt not in classes:
        raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(sorted(classes))})")
    return classes[fmt]()


def _check_formats(formats: Sequence[str]) -> list[str]:
    wanted = [f for f in dict.fromkeys(formats) if f not in SIDECAR_FORMATS]
    for fmt in wanted:
        get_writer(fmt)
    return wanted


def _run(writers: list[tuple[Writer, Path]], timeline: Any, options: ExportOptions, what: str) -> list[Path]:
    written: list[Path] = []
    failed: list[str] = []
    for writer, dest in writers:
        try:
            written.append(writer.write(timeline, dest, options))
        except (OSError, ValueError) as e:
            failed.append(f"{dest}: {writer.format}: {e}")
            log.error("export failed", format=writer.format, dest=str(dest), error=str(e))
    if failed:
        raise ExportError(f"{what}: " + "; ".join(failed), written)
    return written


def write_formats(
    sidecar: dict[str, Any], out_dir: Path, formats: Sequence[str], options: ExportOptions | None = None
) -> list[Path]:
    """Write one clip's files in ``formats`` to ``out_dir``; returns the paths written.

    ``yaml`` writes the sidecar's YAML twin (``<clip>.kino.yaml``), timeline or not. A
    sidecar without a timeline (the clip failed to probe) yields no other file, and
    ``srt``/``vtt`` are skipped for a clip without speech. Unknown formats raise
    ValueError before anything is written; a format that fails raises ExportError after
    the others were written.
    """
    options = options or ExportOptions()
    wanted = _check_formats(formats)
    written: list[Path] = []
    if YAML_FORMAT in formats:
        try:
            written.append(write_yaml(sidecar_yaml_path(out_dir, sidecar["source"]["name"]), sidecar))
        except (OSError, ValueError) as e:
            log.error("export failed", format=YAML_FORMAT, error=str(e))
            raise ExportError(f"{sidecar['source']['path']}: {YAML_FORMAT}: {e}", written) from None
    if not sidecar.get("timeline") or not wanted:
        return written
    has_speech = _has_speech(sidecar)
    writers = [
        (get_writer(fmt), out_dir / (fit_name(sidecar["source"]["name"], out_dir) + writer_classes()[fmt].suffix))
        for fmt in wanted
        if fmt not in TRANSCRIPT_FORMATS or has_speech
    ]
    if not writers:
        return written
    timeline = clip_timeline(sidecar, options.colors, options.categories)
    try:
        return written + _run(writers, timeline, options, sidecar["source"]["path"])
    except ExportError as e:
        e.written[:0] = written
        raise


def _has_speech(sidecar: dict[str, Any]) -> bool:
    """Whether the clip has words said: no subtitle file (empty or not) for a clip without speech."""
    speech = (sidecar.get("analyses") or {}).get("speech")
    got = speech.get("items") if isinstance(speech, dict) else None
    return isinstance(got, list) and any(isinstance(it, dict) and str(it.get("text") or "").strip() for it in got)


def write_card_formats(
    sidecars: Sequence[dict[str, Any]],
    out_dir: Path,
    formats: Sequence[str],
    options: ExportOptions | None = None,
    name: str = "card",
    report_dir: Path | None = None,
) -> list[Path]:
    """Write a card's timeline (every clip in camera order) in ``formats`` as ``<name><suffix>``.

    ``yaml`` writes ``<name>.kino.yaml``, the card report found in ``report_dir`` (default
    ``out_dir``) as YAML. Formats that are per clip only (subtitles) are skipped. Raises ValueError when no
    clip of the card has a timeline, ExportError when a format fails.
    """
    options = options or ExportOptions()
    wanted = [f for f in _check_formats(formats) if writer_classes()[f].card]
    written: list[Path] = []
    yaml_error: ExportError | None = None
    if YAML_FORMAT in formats:
        try:
            written.append(_card_yaml(report_dir or out_dir, out_dir / (name + YAML_SUFFIX)))
        except ExportError as e:
            yaml_error = e  # raised after the timeline formats were written
    if not wanted:
        if yaml_error:
            raise yaml_error
        return written
    timeline = card_timeline(
        sidecars, name, options.colors, options.categories, max_gap_seconds=options.card_max_gap_seconds
    )
    for skipped in timeline.metadata["kinod"]["excluded"]:
        log.warning("clip left out of card timeline", card=name, path=skipped["path"], why=skipped["why"])
    writers = [(get_writer(fmt), out_dir / (name + writer_classes()[fmt].suffix)) for fmt in wanted]
    try:
        written += _run(writers, timeline, options, f"card {name}")
    except ExportError as e:
        e.written[:0] = written
        raise ExportError(f"{e}; {yaml_error}" if yaml_error else str(e), e.written) from None
    if yaml_error:
        raise ExportError(str(yaml_error), written)
    return written


def _card_yaml(report_dir: Path, dest: Path) -> Path:
    """``card.kino.yaml``: the card report (``card.kino.json``, written first) as YAML."""
    src = report_dir / CARD_REPORT_NAME
    try:
        return write_yaml(dest, read_json(src))
    except (OSError, ValueError) as e:
        log.error("export failed", format=YAML_FORMAT, dest=str(dest), error=str(e))
        why = f"needs the card report {src} (cards.report = true): {e}"
        raise ExportError(f"{dest}: {YAML_FORMAT}: {why}", []) from None
