"""One card lifecycle for ``kinod scan`` and the daemon: open -> verify -> plan -> report.

    settled folder ──open_cards──▶ cards (a folder of card folders is several), each parsed once
    card ──verify (MHL, record_hashes)──▶ refused: report, nothing analysed
                                      └─▶ its clips, with what the card says about them ──▶ report

Why one place: a user comparing ``kinod scan FOLDER`` with what the daemon made of the
same folder must find the same cards, the same clips, the same start timecodes and the
same card reports. Only how a clip is run differs (now, in this process, for the scan;
queued, for the daemon), so both drive their clips through this object and nothing
else decides where a card begins, what travels with a clip, or when a report is written.

The card is parsed once, when it is opened (:func:`kinod.watch.cards.open_cards`); the
parsed card travels on to the Broadcast WAV rate lookup (:meth:`CardLifecycle.clips`)
and the report (:meth:`CardLifecycle.report`), which parse it again only when they were
not handed it (the daemon's report after a restart).
"""

from __future__ import annotations

from pathlib import Path

import structlog

from kinod.config import Config
from kinod.export.layout import output_dir_for
from kinod.media.cards import Card
from kinod.media.cards.model import ClipFiles
from kinod.media.cards.tcrate import with_card_rate
from kinod.media.mhl import Verification
from kinod.run.card_outputs import finish_card, verify_before_analysis
from kinod.run.card_sync import sync_after_card
from kinod.watch.cards import CardRef, CardScan, OpenCard, open_cards

log = structlog.get_logger(__name__)


class CardLifecycle:
    """What a card goes through, for whoever runs its clips (``kinod scan`` or the daemon)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    @staticmethod
    def open(card: CardRef, scan: CardScan) -> list[OpenCard]:
        """The cards of a settled folder, each parsed once (where cards begin: :func:`open_cards`)."""
        return open_cards(card, scan)

    def verify(self, card: CardRef) -> Verification | None:
        """Verify a card's manifest and record its hashes; None for loose files or nothing to do.

        A manifest that crashes the verifier fails the card rather than the caller.
        """
        if card.loose:
            return None
        try:
            return verify_before_analysis(self.config, card.path)
        except Exception as e:
            log.exception("card verification crashed", card=str(card.path), error=str(e))
            return Verification(card.path, "failed")

    @staticmethod
    def refused(card: CardRef, verification: Verification | None) -> str | None:
        """Why a card must not be analysed (its verification failed), or None."""
        if verification is None or verification.ok:
            return None
        why = verification.summary()
        log.error("card failed verification: not analysed", card=str(card.path), error=why)
        return why

    @staticmethod
    def clips(card: OpenCard, chosen: list[ClipFiles] | None = None) -> list[ClipFiles]:
        """The clips to run (all of the card's, or ``chosen``), each with what its card says about it.

        A Broadcast WAV without a recorder's timecode rate gets the card's video rate here,
        looked up once for the card from the parsed card, and carries it to its decode pass.
        """
        clips = card.clips if chosen is None else chosen
        return with_card_rate(card.layout, clips) if card.layout is not None else list(clips)

    def out_dir(self, clip: Path, base: Path | None = None) -> Path:
        """Where a clip's outputs go (``base``: the folder named to ``kinod scan`` outside every root)."""
        return output_dir_for(clip, self.config, base)

    def report(
        self,
        card: CardRef,
        sidecars: list[Path],
        verification: Verification | None,
        layout: Card | None = None,
        base: Path | None = None,
    ) -> list[Path]:
        """The card report and card timelines once the card's clips are over; nothing for loose files."""
        if card.loose:
            return []
        written = finish_card(self.config, card.path, sidecars, verification, layout=layout, base=base)
        # Sound and picture of a day meet here: after the report, so OCR slates are in the sidecars.
        if verification is not None and not verification.ok:
            return written
        return written + sync_after_card(self.config, card.path, base)
