"""The clip sidecar, ``<clip file name>.kino.json``: the one source of truth for results.

Every other output (OTIO, EDL, XML, subtitles, the search index) is derived from it,
so ``kinod export`` can regenerate them without analysing again. Analyzers speak in
frame indices of the clip's own timeline; this module adds seconds when a record is
stored and source timecode only when the sidecar is built (the edge), recursively for
every record that carries ``start_frame``: a corrected start timecode relabels
everything on the next write, with no analyzer run again.

The layout is described by ``schema/kinod.clip.schema.json`` (JSON Schema 2020-12),
and ``schema_version`` follows semver: readers accept any 1.x.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from kinod import __version__
from kinod.contracts import Marker, Result
from kinod.media.fsutil import atomic_write_json, fit_name
from kinod.media.probe import Probe
from kinod.media.timebase import TimeBase
from kinod.media.timecode import format_rate

SCHEMA_NAME = "kinod.clip"
SCHEMA_VERSION = "1.1"  # 1.1: the "sequence" block of an image-sequence clip, the "sync" block
SIDECAR_SUFFIX = ".kino.json"


class SidecarError(ValueError):
    """A sidecar is unreadable or not one of ours; the message names the file."""


def add_seconds(record: Any, tb: TimeBase) -> Any:
    """Add ``start_s`` (and ``end_s``) beside every ``start_frame``/``end_frame``, recursively.

    What a stored record carries: frames and seconds, never timecode, because the start
    timecode may still be corrected after the analysis ran (:func:`add_times` labels at
    the edge).
    """
    if isinstance(record, list):
        return [add_seconds(r, tb) for r in record]
    if not isinstance(record, dict):
        return record
    out = {k: add_seconds(v, tb) for k, v in record.items()}
    for edge in ("start", "end"):
        frame = out.get(f"{edge}_frame")
        if isinstance(frame, int):
            out.setdefault(f"{edge}_s", tb.seconds(frame))
    return out


def add_times(record: Any, tb: TimeBase) -> Any:
    """Add ``start_s``/``start_tc`` (and ``end_*``) beside every ``start_frame``, recursively.

    Labels are (re)computed from the frame every time, so a record stored before its
    clip's start timecode was corrected gets the corrected labels.
    """
    if isinstance(record, list):
        return [add_times(r, tb) for r in record]
    if not isinstance(record, dict):
        return record
    out = {k: add_times(v, tb) for k, v in record.items()}
    for edge in ("start", "end"):
        frame = out.get(f"{edge}_frame")
        if isinstance(frame, int):
            out.setdefault(f"{edge}_s", tb.seconds(frame))
            out[f"{edge}_tc"] = tb.tc(frame)
    return out


def marker_record(m: Marker, analyzer: str, tb: TimeBase) -> dict[str, Any]:
    """A marker as stored: its frame and seconds; ``tc`` is added when a sidecar is built."""
    rec = m.to_json()
    rec["analyzer"] = analyzer
    rec["seconds"] = tb.seconds(m.frame)
    return rec


def analysis_record(
    analyzer: str,
    version: str,
    config: dict[str, Any],
    config_hash: str,
    result: Result,
    elapsed_s: float,
    tb: TimeBase,
) -> dict[str, Any]:
    """An analysis as stored in the job store: frames and seconds, timecode-free (see :func:`add_seconds`)."""
    return {
        "analyzer": analyzer,
        "version": version,
        "config_hash": config_hash,
        "config": config,
        "model": (
            {"name": result.model.name, "sha256": result.model.sha256, "source": result.model.source}
            if result.model
            else None
        ),
        "elapsed_s": round(elapsed_s, 3),
        "summary": add_seconds(result.summary, tb),
        "items": add_seconds(result.items, tb),
        "artefacts": list(result.artefacts),
        "warnings": list(result.warnings),
    }


def labelled_analysis(record: dict[str, Any], tb: TimeBase) -> dict[str, Any]:
    """A stored analysis record with its timecode labels, as the sidecar shows it."""
    out = dict(record)
    for key in ("summary", "items"):
        if key in out:
            out[key] = add_times(out[key], tb)
    return out


def labelled_marker(marker: dict[str, Any], tb: TimeBase) -> dict[str, Any]:
    """A stored marker with its ``tc`` label, as the sidecar shows it."""
    frame = marker.get("frame")
    return {**marker, "tc": tb.tc(frame)} if isinstance(frame, int) else dict(marker)


def within_clip(marker: dict[str, Any], frames: int | None, tb: TimeBase | None = None) -> dict[str, Any]:
    """The marker cut to the clip's length: it starts on a frame of the clip and ends by its last.

    An analyzer's range may round past the end (a 10-frame window at frame 270 of 275);
    every reader (NLE, strip, index) would otherwise show a marker after the clip.
    """
    frame, length = marker.get("frame"), marker.get("duration_frames")
    if not frames or not isinstance(frame, int):
        return marker
    out = dict(marker)
    out["frame"] = min(max(frame, 0), frames - 1)
    if out["frame"] != frame and tb is not None:
        out["seconds"] = tb.seconds(out["frame"])
    if isinstance(length, int) and length > 0:
        out["duration_frames"] = max(1, min(length, frames - out["frame"]))
    return out


def build_sidecar(
    *,
    source_path: Path,
    fingerprint: str | None,
    probe: Probe | None,
    analyses: dict[str, dict[str, Any]],
    markers: list[dict[str, Any]],
    errors: list[dict[str, Any]],
    decode: dict[str, Any] | None = None,
    card: str | None = None,
    size: int | None = None,
) -> dict[str, Any]:
    """The sidecar of a clip from its probe and its stored records.

    This is the edge where timecode is derived: every label (``start_tc``, ``end_tc``,
    a marker's ``tc``) is computed here from the frame, the probe's start timecode and
    rate, so the stored records never carry a label that could go stale.
    """
    timeline = None
    if probe is not None:
        tb = TimeBase.from_probe(probe)
        timeline = {
            "rate": format_rate(tb.rate),
            "frames": probe.frames,
            "start_tc": tb.tc(0),
            "start_tc_frames": probe.start_tc_frames,
            "drop_frame": probe.drop_frame,
            "tc_source": probe.tc_source,
        }
        analyses = {name: labelled_analysis(rec, tb) for name, rec in analyses.items()}
        markers = [labelled_marker(within_clip(m, probe.frames, tb), tb) for m in markers]
    out = {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "kinod_version": __version__,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": {
            "path": str(source_path),
            "name": source_path.name,
            "size": size if size is not None else (probe.size if probe else None),
            "fingerprint": fingerprint,
            "card": card,
        },
        "probe": probe.to_json() if probe else None,
        "timeline": timeline,
        "decode": decode,
        "analyses": analyses,
        "markers": sorted(markers, key=lambda m: (m["frame"], m["category"])),
        "errors": errors,
    }
    if probe is not None and probe.sequence is not None:
        out["sequence"] = sequence_block(probe)
    return out


def sequence_block(probe: Probe) -> dict[str, Any]:
    """An image sequence's block: its frames, gaps and header facts, with each gap's timecode."""
    seq = dict(probe.sequence or {})
    tb = TimeBase.from_probe(probe)
    first = int(seq.get("first", 0))
    seq["gaps"] = [{"first": a, "last": b, "frames": b - a + 1, "tc": tb.tc(a - first)} for a, b in seq.get("gaps", [])]
    return seq


def sidecar_path(out_dir: Path, clip_name: str) -> Path:
    return out_dir / (fit_name(clip_name, out_dir) + SIDECAR_SUFFIX)  # fits NAME_MAX


def write_sidecar(path: Path, data: dict[str, Any]) -> Path:
    atomic_write_json(path, data)
    return path


def read_sidecar(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SidecarError(f"{path}: cannot read sidecar: {e}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_NAME:
        raise SidecarError(f"{path}: not a kinod clip sidecar (schema is not {SCHEMA_NAME!r})")
    major = str(data.get("schema_version", "")).split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise SidecarError(f"{path}: sidecar schema_version {data.get('schema_version')} is not supported")
    return data


def json_schema() -> dict[str, Any]:
    """The published JSON Schema for sidecars (shipped inside the package)."""
    text = resources.files("kinod.export").joinpath("schema/kinod.clip.schema.json").read_text(encoding="utf-8")
    return json.loads(text)
