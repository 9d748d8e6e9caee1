"""What happens to a clip whose outputs cannot be written.

WHY: ``finalize`` raising (``File name too long``, a file where the output folder
should be, a read-only output root) used to be logged with the fingerprint only,
and the clip stayed "queued" for ever, so its card never finished. Now the clip
ends as failed with the reason, which ``kinod status`` and the card show.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from kinod.jobs.pathcodec import shown
from kinod.jobs.store import JobStore

log = structlog.get_logger(__name__)


def output_failure_message(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: cannot write the clip's outputs: {error.strerror or error}"
    return f"cannot write the clip's outputs: {error}"


def record_output_failure(store: JobStore, fp: str, error: BaseException) -> str:
    """Mark a clip that is still pending as failed with the reason; returns the message."""
    msg = output_failure_message(error)
    clip = store.clips.get(fp)
    if clip is not None and clip.state in ("new", "queued", "running"):
        path = str(clip.path)
        store.clips.set_state(fp, "failed", msg if path in msg else f"{path}: {msg}")
    return msg


def clip_planning_failed(clip: Path, error: BaseException) -> str:
    """An unexpected error while planning one clip of a card: logged, returned for the card's error.

    The card's other clips go on; the card ends failed with this message.
    """
    msg = f"{shown(str(clip))}: cannot be planned: {error}"
    log.error("cannot plan clip", error=msg, exc_info=error)
    return msg
