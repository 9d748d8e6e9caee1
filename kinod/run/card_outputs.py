"""What happens at the edges of a card: verify its manifest first, report on it last.

* Before analysis: a card that carries an ASC MHL or legacy ``.mhl`` is verified, and
  a mismatch or missing file fails the card (nothing else runs on it): analysing a
  bad copy would waste hours and, worse, look like a good result.
* After its last clip: ``card.kino.json`` + ``card.html`` (clips, TC ranges, hashes,
  verification, problems) and the card-level NLE files (every clip in camera order)
  in the output folder that mirrors the card. Never inside the card.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog

from kinod.config import Config
from kinod.export.card_report import build_card_report, render_plain_html, write_card_report
from kinod.export.sidecar import SidecarError, read_sidecar
from kinod.export.writers import ExportError, write_card_formats
from kinod.jobs.pathcodec import printable
from kinod.media.cards import Card, CardError, detect_card
from kinod.media.integrity import Integrity
from kinod.media.mhl import Verification, hash_file, list_card_files, verify_card
from kinod.media.probe import Probe
from kinod.run.integrity import integrity_from_sidecar

log = structlog.get_logger(__name__)


def card_output_dir(config: Config, card_path: Path, base: Path | None = None) -> Path:
    """The output folder mirroring a card folder under its watch root.

    Outside every watch root: its place below ``base`` (the folder given to ``kinod scan``,
    as :func:`kinod.export.layout.output_dir_for` places the clips), else the card's name.
    """
    card = card_path.absolute()
    for root in config.watch.roots:
        r = root.path.absolute()
        if card.is_relative_to(r):
            return config.output.root / card.relative_to(r)
    if base is not None and card.is_relative_to(base.absolute()):
        b = base.absolute()
        return config.output.root / b.name / card.relative_to(b)
    return config.output.root / card.name


def verify_before_analysis(config: Config, card_path: Path) -> Verification | None:
    """Verify the card's MHL when it has one, and hash every card file with ``cards.record_hashes``.

    Without a manifest (or with ``cards.verify_mhl`` off) the hashes are still recorded,
    as documented: they are what a later copy of the card can be checked against, and
    the card report says what was hashed. None only when there is nothing to do.
    """
    record = config.cards.record_hashes
    has_manifest = (card_path / "ascmhl").is_dir() or any(card_path.glob("*.mhl"))
    if config.cards.verify_mhl and has_manifest:
        return verify_card(card_path, record=record)
    if not record:
        return None
    status = "skipped" if has_manifest else "none"
    return Verification(card_path.absolute(), status, hashes=_hash_readable(card_path, record))


def _hash_readable(card_path: Path, algos: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Hashes of every card file that can be read; an unreadable one is logged and left out
    (the card report lists it among the problems; hashing must not stop the card)."""
    card = card_path.absolute()
    out: dict[str, dict[str, str]] = {}
    for rel in list_card_files(card):
        try:
            out[rel] = hash_file(card / rel, algos)
        except OSError as e:
            log.warning("card file not hashed", path=str(card / rel), error=e.strerror or str(e))
    return out


def finish_card(
    config: Config,
    card_path: Path,
    sidecar_files: list[Path],
    verification: Verification | None = None,
    *,
    layout: Card | None = None,
    base: Path | None = None,
) -> list[Path]:
    """Write the card report and card-level timelines; returns what was written. Never raises for bad input.

    ``layout``: the card as parsed when it was opened (parsed here only when not given,
    e.g. after a restart); ``base``: see :func:`card_output_dir`.
    """
    out_dir = card_output_dir(config, card_path, base)
    written: list[Path] = []
    sidecars: list[dict[str, Any]] = []
    probes: dict[str, Probe | str] = {}
    outputs: dict[str, dict[str, str]] = {}
    slates: dict[str, dict[str, Any]] = {}
    integrity: dict[str, Integrity] = {}
    for f in sidecar_files:
        try:
            data = read_sidecar(f)
        except SidecarError as e:
            log.error("card report: unreadable sidecar", error=str(e))
            continue
        sidecars.append(data)
        src = Path(data["source"]["path"])
        rel = src.relative_to(card_path).as_posix() if src.is_relative_to(card_path) else src.name
        if data.get("probe"):
            probes[rel] = Probe.from_json(data["probe"])
        else:
            probes[rel] = "; ".join(e["message"] for e in data.get("errors", [])) or "not probed"
        outputs[src.stem] = {"sidecar": str(f)}
        slates[src.stem] = _slate(data)
        check = integrity_from_sidecar(data)  # the pass's integrity check, for the report
        if check is not None:
            integrity[rel] = check
    if config.cards.report:
        try:
            card = layout if layout is not None else detect_card(card_path)
            report = build_card_report(
                card, verification=verification, probes=probes, outputs=outputs, integrity=integrity
            )
            fill_from_slates(report, slates)
            written.extend(write_card_report(printable(report), out_dir, page=render_html))
        except (CardError, OSError, ValueError) as e:
            log.error("card report failed", card=str(card_path), error=str(e))
    card_formats = list(config.export.card_formats)
    if "yaml" in config.output.formats and config.cards.report:  # card.kino.yaml beside card.kino.json
        card_formats.append("yaml")
    if card_formats and sidecars:
        try:
            written.extend(write_card_formats(printable(sidecars), out_dir, card_formats, config.export))
        except ExportError as e:
            log.error("card timeline export failed", card=str(card_path), error=str(e))
            written.extend(e.written)
    return written


def _slate(sidecar: dict[str, Any]) -> dict[str, Any]:
    """The slate the OCR read (roll, scene, take), or nothing."""
    ocr = (sidecar.get("analyses") or {}).get("ocr")
    summary = ocr.get("summary") if isinstance(ocr, dict) else None
    slate = summary.get("slate") if isinstance(summary, dict) else None
    return dict(slate) if isinstance(slate, dict) else {}


def fill_from_slates(report: dict[str, Any], slates: dict[str, dict[str, Any]]) -> None:
    """Scene, take and roll read off a clip's slate, where the camera's own metadata has none."""
    for rec in report.get("clips") or []:
        slate = slates.get(str(rec.get("name"))) or {}
        for key, field in (("scene", "scene"), ("take", "take"), ("reel", "roll")):
            if not rec.get(key) and slate.get(field) not in (None, ""):
                rec[key] = str(slate[field])


def render_html(report: dict[str, Any]) -> str:
    """The card page of the browse UI rendered to a file; the plain page if that fails."""
    try:
        from kinod.library.ui.render import render_card_report
        return render_card_report(report)
    except Exception:  # a template problem must not cost the card its report
        return render_plain_html(report)
