"""Sync after a card: its camera clips with the recorder takes in scope, and cameras with each other.

Runs once a card's report is written, so the sync sees the OCR slates in the sidecars.
Scope ``parent`` syncs every card in the card's parent folder (a shooting day) again,
which is also what makes a late card (the sound card arriving after the cameras) sync
the day it belongs to. A sync that fails is logged; it never fails the card.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from kinod.config import Config
from kinod.export.layout import output_dir_for
from kinod.export.sidecar import sidecar_path
from kinod.media.ffmpeg import ffmpeg_path
from kinod.sync.session import sync_folders
from kinod.sync.sources import discover

log = structlog.get_logger(__name__)


def sync_after_card(config: Config, card_path: Path, base: Path | None = None) -> list[Path]:
    """Sync the card's scope and deliver beside its outputs; the files written (none when off)."""
    if not config.sync.enabled:
        return []
    # "parent" of a card straight in a watch root is the root: watching a day folder syncs
    # the day, as scanning it does (cards straight in a whole-NAS root: choose "card").
    scope = card_path if config.sync.scope == "card" else card_path.parent
    pictures, sounds = discover([scope])
    if not pictures or not sounds:
        return []  # nothing to pair yet (the other card may still be on its way)
    out = output_dir_for(scope / "_", config, base)
    try:
        run = sync_folders(
            [scope],
            out,
            ffmpeg_path(config.media.ffmpeg),
            config.sync,
            sidecar_for=lambda clip: sidecar_path(output_dir_for(clip, config, base), clip.name),
            cache_dir=config.state.dir / "cache" / "sync",
        )
    except Exception as e:
        log.exception("sync failed; the card is not affected", card=str(card_path), error=str(e))
        return []
    synced = sum(1 for c in run.clips if c.synced)
    log.info("card synced", scope=str(scope), clips=len(run.clips), synced=synced, multicam=len(run.groups))
    return run.written
