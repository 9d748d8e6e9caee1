"""A person named, merged or forgotten: everywhere at once, with no reindex or export step.

The one function the CLI (``kinod people``), the browse UI and the daemon's people folder
watch call. The registry changes first (:class:`~kinod.analyzers.faces.people.PeopleRegistry`);
then every sidecar the person is in is brought up to date (:func:`relabel`: items,
people list, face marker names), and from it the job store's stored record (so a
sidecar rebuilt from the store says the same), the clip's search index entries, the
clip's NLE files (EDL, FCP7, FCPXML, OTIO marker names) and, where the folder is a
card's, the card timelines and ``card.html``. The finalizer applies the same
:func:`relabel` to every record before it writes a sidecar, so a clip finished later
(or a job that was running during the change) is up to date too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from kinod.analyzers.faces.people import PeopleRegistry
from kinod.analyzers.faces.relabel import relabel
from kinod.config import Config
from kinod.export.card_report import HTML_NAME
from kinod.export.card_report import JSON_NAME as CARD_JSON
from kinod.export.sidecar import SidecarError, read_sidecar, write_sidecar
from kinod.export.writers import ExportError, write_card_formats, write_formats
from kinod.export.yaml_out import read_json
from kinod.jobs.pathcodec import printable
from kinod.jobs.store import JobStore
from kinod.library.index.update import index_sidecar, iter_sidecars
from kinod.media.fsutil import atomic_write_text

log = structlog.get_logger(__name__)


@dataclass
class PeopleUpdate:
    """What one change touched (the CLI prints it; tests check it)."""

    sidecars: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    records: int = 0


def name_person(config: Config, pid: str, name: str) -> PeopleUpdate:
    return propagate(config, PeopleRegistry(config.state.dir).name(pid, name))


def merge_people(config: Config, src: str, dst: str) -> PeopleUpdate:
    return propagate(config, PeopleRegistry(config.state.dir).merge(src, dst))


def split_person(config: Config, pid: str, clips: list[str]) -> tuple[str, PeopleUpdate]:
    """``pid``'s sightings in ``clips`` become a new person; returns its id."""
    new, sidecars = PeopleRegistry(config.state.dir).split(pid, clips)
    return new, propagate(config, sidecars, rename={pid: new})


def forget_person(config: Config, pid: str) -> PeopleUpdate:
    sidecars, removed = PeopleRegistry(config.state.dir).forget(pid)
    update = propagate(config, sidecars)
    update.removed = removed
    return update


def names_from_folder(config: Config, embed_photo: Any, threshold: float) -> PeopleUpdate:
    """Names from ``<output root>/people/<Name>/`` photos, carried everywhere like a ``people name``."""
    from kinod.analyzers.faces.people import sync_reference_folder

    reg = PeopleRegistry(config.state.dir)
    named = sync_reference_folder(reg, config.output.root / "people", embed_photo, threshold)
    people = reg.read()["people"]
    pids = {n.split("=", 1)[0] for n in named}
    return propagate(config, [s["sidecar"] for p in pids for s in people[p].get("seen", []) if s.get("sidecar")])


def relabel_records(config: Config, records: dict[str, dict[str, Any]]) -> None:
    """The finalizer's hook: a clip's stored faces record says what the registry says now."""
    faces = records.get("faces")
    if faces is not None and (config.state.dir / "faces" / "people.json").is_file():
        relabel(faces, None, PeopleRegistry(config.state.dir).read())


def propagate(config: Config, sidecars: Iterable[str | Path], rename: dict[str, str] | None = None) -> PeopleUpdate:
    """Bring these sidecars and everything made from them up to date with the registry (``rename``: see relabel)."""
    registry = PeopleRegistry(config.state.dir).read()
    update = PeopleUpdate()
    folders: set[Path] = set()
    for side in sorted({Path(s) for s in sidecars}):
        try:
            data = read_sidecar(side)
        except SidecarError as e:
            log.warning("people: sidecar not updated", sidecar=str(side), error=str(e))
            continue
        faces = (data.get("analyses") or {}).get("faces")
        if not faces or not relabel(faces, data.get("markers") or [], registry, rename):
            continue
        write_sidecar(side, data)
        update.sidecars.append(side)
        update.records += _update_store(config, data.get("source", {}).get("fingerprint"), registry, rename)
        index_sidecar(config.state.dir, side, data, semantic=config.search.semantic)
        update.files += _exports(config, data, side.parent)
        folders.add(side.parent)
    for folder in sorted(folders):
        update.files += _card_outputs(config, folder)
    log.info("people: change carried", sidecars=len(update.sidecars), files=len(update.files))
    return update


def _update_store(
    config: Config, fingerprint: str | None, registry: dict[str, Any], rename: dict[str, str] | None = None
) -> int:
    path = config.state.dir / "kinod.sqlite"
    if not fingerprint or not path.is_file():
        return 0
    store = JobStore(path)
    try:
        n = 0
        for row in store.queue.jobs_of(fingerprint):
            done = row.analyzer == "faces" and row.state == "done" and row.record
            if done and relabel(row.record, None, registry, rename):  # type: ignore[arg-type]
                store.queue.replace_record(row.key, row.record)
                n += 1
        return n
    finally:
        store.close()


def _exports(config: Config, data: dict[str, Any], out_dir: Path) -> list[Path]:
    formats = [f for f in config.output.formats if f != "json"]
    try:
        return write_formats(printable(data), out_dir, formats, config.export)
    except ExportError as e:
        log.error("people: export not rewritten", error=str(e))
        return e.written


def _card_outputs(config: Config, folder: Path) -> list[Path]:
    """A card folder's timelines and ``card.html`` again (their clips' marker names changed)."""
    report_file = folder / CARD_JSON
    if not report_file.is_file():
        return []
    written: list[Path] = []
    sidecars = []
    for f in iter_sidecars(folder):
        if f.parent == folder:
            try:
                sidecars.append(read_sidecar(f))
            except SidecarError:
                continue
    formats = list(config.export.card_formats)
    if sidecars and formats:
        try:
            written += write_card_formats(printable(sidecars), folder, formats, config.export)
        except (ExportError, ValueError) as e:
            log.error("people: card timeline not rewritten", folder=str(folder), error=str(e))
    try:
        from kinod.run.card_outputs import render_html

        report = read_json(report_file)  # card.html reads each clip's people from its sidecar
        html = folder / HTML_NAME
        atomic_write_text(html, render_html(report))
        written.append(html)
    except (OSError, ValueError) as e:
        log.error("people: card page not rewritten", folder=str(folder), error=str(e))
    return written
