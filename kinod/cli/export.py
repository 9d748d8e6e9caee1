"""``kinod export``: regenerate marker files from sidecars, without analysing again.

Sidecars are the source of truth, so a new colour scheme, another category filter or
a format an editor asks for a week later costs a second, not a re-scan. PATH may be a
sidecar, a folder searched for sidecars, or a media file that was scanned already.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kinod.export.sidecar import SIDECAR_SUFFIX, SidecarError, read_sidecar, sidecar_path
from kinod.export.writers import (
    SIDECAR_FORMATS,
    ExportError,
    ExportOptions,
    write_card_formats,
    write_formats,
    writer_classes,
)

#: The card report's own sidecar lives beside the clips' and is not a clip sidecar.
CARD_SIDECAR = "card" + SIDECAR_SUFFIX


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``export`` to the ``kinod`` sub-commands."""
    formats = ", ".join(sorted({*writer_classes(), *SIDECAR_FORMATS} - {"json"}))
    e = subparsers.add_parser(
        "export",
        help="write marker files (EDL, XML, OTIO, subtitles, CSV) or the sidecar as YAML, without re-analysis",
        description=f"Write marker files from sidecars. Formats: {formats}.",
    )
    e.add_argument("paths", nargs="+", metavar="PATH", help="sidecar (.kino.json), folder of sidecars, or media file")
    e.add_argument(
        "--format",
        "-f",
        dest="formats",
        action="append",
        metavar="FORMAT",
        help="format to write (repeat or separate with commas); default: output.formats, or export.card_formats",
    )
    e.add_argument("--card", action="store_true", help="one card timeline per folder of sidecars, not per clip")
    e.add_argument(
        "--categories", nargs="+", metavar="CATEGORY", help="only these marker categories (default: export.categories)"
    )
    e.add_argument("--out", type=Path, metavar="DIR", help="write here instead of beside each sidecar")
    e.set_defaults(func=cmd_export)
    return e


def _options(config: Any, args: argparse.Namespace) -> ExportOptions:
    base = getattr(config, "export", None)
    options = base if isinstance(base, ExportOptions) else ExportOptions()
    if args.categories:
        cats = [c for raw in args.categories for c in raw.split(",") if c]
        options = ExportOptions.model_validate({**options.model_dump(), "categories": cats})
    return options


def _formats(config: Any, args: argparse.Namespace, options: ExportOptions) -> list[str]:
    if args.formats:
        return [f.strip() for raw in args.formats for f in raw.split(",") if f.strip()]
    if args.card:
        return list(options.card_formats)
    return [f for f in config.output.formats if f != "json"]


def _sidecars(config: Any, raw: str) -> Iterator[Path]:
    """Sidecar files for one PATH argument; raises FileNotFoundError naming what is missing."""
    path = Path(raw)
    if path.is_dir():
        yield from sorted(p for p in path.rglob("*" + SIDECAR_SUFFIX) if p.name != CARD_SIDECAR)
    elif path.name.endswith(SIDECAR_SUFFIX):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such sidecar")
        yield path
    elif path.is_file():
        from kinod.export.layout import output_dir_for
        found = sidecar_path(output_dir_for(path, config), path.name)
        if not found.is_file():
            raise FileNotFoundError(f"{path}: not scanned yet (no sidecar at {found}); run kinod scan first")
        yield found
    else:
        raise FileNotFoundError(f"{path}: no such file or folder")


def cmd_export(config: Any, args: argparse.Namespace) -> int:
    """Write the requested formats; 0 when all were written, 1 when some failed, 2 for bad arguments."""
    try:
        options = _options(config, args)
    except ValidationError as e:
        print(f"kinod export: --categories: {e.errors()[0]['msg']}", file=sys.stderr)
        return 2
    formats = _formats(config, args, options)
    unknown = [f for f in formats if f not in SIDECAR_FORMATS and f not in writer_classes()]
    if unknown:
        known = ", ".join(sorted({*writer_classes(), *SIDECAR_FORMATS}))
        print(f"kinod export: unknown format(s) {', '.join(unknown)} (known: {known})", file=sys.stderr)
        return 2
    failures = 0
    files: list[Path] = []
    for raw in args.paths:
        try:
            files.extend(_sidecars(config, raw))
        except FileNotFoundError as e:
            print(f"kinod export: {e}", file=sys.stderr)
            failures += 1
    if not files and not failures:
        print("kinod export: no sidecars found", file=sys.stderr)
        return 1
    written: list[Path] = []
    if args.card:
        groups: dict[Path, list[dict[str, Any]]] = {}
        for f in files:
            try:
                groups.setdefault(f.parent, []).append(read_sidecar(f))
            except SidecarError as e:
                print(f"kinod export: {e}", file=sys.stderr)
                failures += 1
        for folder, sidecars in groups.items():
            name = folder.name if args.out and len(groups) > 1 else "card"
            try:
                written += write_card_formats(
                    sidecars, args.out or folder, formats, options, name=name, report_dir=folder
                )
            except ExportError as e:
                written += e.written
                print(f"kinod export: {e}", file=sys.stderr)
                failures += 1
            except (ValueError, OSError) as e:
                print(f"kinod export: {folder}: {e}", file=sys.stderr)
                failures += 1
    else:
        for f in files:
            try:
                written += write_formats(read_sidecar(f), args.out or f.parent, formats, options)
            except (ExportError, SidecarError) as e:
                written += getattr(e, "written", [])
                print(f"kinod export: {e}", file=sys.stderr)
                failures += 1
            except (ValueError, OSError) as e:
                print(f"kinod export: {f}: {e}", file=sys.stderr)
                failures += 1
    for p in written:
        print(p)
    print(f"{len(written)} file(s) written, {failures} failure(s)", file=sys.stderr)
    return 1 if failures else 0
