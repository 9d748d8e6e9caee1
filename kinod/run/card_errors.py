"""When a card may be counted finished.

WHY: a clip whose file changed while it was processed (a copy still growing) is
cancelled and comes back once the card settles again. If the card were counted
finished at the cancellation, it would be counted a second time when the clip is
done (``kinod_cards_done_total`` went up by two for one card). A cancelled clip whose
file is gone does not come back, so it does not hold the card open.
"""

from __future__ import annotations

import os

from kinod.jobs.store import JobStore


def clips_coming_back(store: JobStore, card_path: str) -> int:
    """Cancelled clips of the card whose file still exists: they run again once settled."""
    return sum(1 for p in store.cards.cancelled_paths(card_path) if os.path.lexists(p))
