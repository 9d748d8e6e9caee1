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
from kinod.export.card_report import build_card_report, write_card_report
from kinod.export.sidecar import SidecarError, read_sidecar
from kinod.export.writers import ExportError, write_card_formats
from kinod.media.cards import CardError, detect_card
from kinod.media.integrity import Integrity
from kinod.media.mhl import Verification, verify_card
from kinod.media.probe import Probe
from kinod.robust.integrity import integrity_from_sidecar
from kinod.robust.pathcodec import printable

log = structlog.get_logger(__name__)


def card_output_dir(config: Config, card_path: Path) -> Path:
    """The output folder mirroring a card folder under its watch root."""
    card = card_path.absolute()
    for root in config.watch.roots:
        r = root.path.absolute()
        if card.is_relative_to(r):
            return config.output.root / card.relative_to(r)
    return config.output.root / card.name


def verify_before_analysis(config: Config, card_path: Path) -> Verification | None:
    """Verify the card's MHL when it has one; None when verification is off or there is none."""
    if not config.cards.verify_mhl:
        return None
    has_manifest = (card_path / "ascmhl").is_dir() or any(card_path.glob("*.mhl"))
    if not has_manifest:
        return None
    return verify_card(card_path, record=config.cards.record_hashes)


def finish_card(
    config: Config, card_path: Path, sidecar_files: list[Path], verification: Verification | None = None
) -> list[Path]:
    """Write the card report and card-level timelines; returns what was written. Never raises for bad input."""
    out_dir = card_output_dir(config, card_path)
    written: list[Path] = []
    sidecars: list[dict[str, Any]] = []
    probes: dict[str, Probe | str] = {}
    outputs: dict[str, dict[str, str]] = {}
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
        check = integrity_from_sidecar(data)  # issue 13: the pass's integrity check, for the report
        if check is not None:
            integrity[rel] = check
    if config.cards.report:
        try:
            card = detect_card(card_path)
            report = build_card_report(
                card, verification=verification, probes=probes, outputs=outputs, integrity=integrity
            )
            written.extend(write_card_report(printable(report), out_dir))
        except (CardError, OSError, ValueError) as e:
            log.error("card report failed", card=str(card_path), error=str(e))
    card_formats = list(config.export.card_formats)
    if "yaml" in config.output.formats and config.cards.report:  # issue 12: card.kino.yaml beside card.kino.json
        card_formats.append("yaml")
    if card_formats and sidecars:
        try:
            written.extend(write_card_formats(printable(sidecars), out_dir, card_formats, config.export))
        except ExportError as e:
            log.error("card timeline export failed", card=str(card_path), error=str(e))
            written.extend(e.written)
    return written
