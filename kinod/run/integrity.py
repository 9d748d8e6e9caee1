"""The integrity check, wired into the decode pass, and what a break in the file means for results.

WHY: ``media/integrity.check_file`` existed but had no caller, so a 30% truncated
faststart MP4 went through every analyzer and was counted "done", its last shot
running to the end the header claims. Now (``cards.integrity_check``):

* before the decode: the file's boxes, MediaInfo's IsTruncated and a head/tail decode
  test; problems go into the sidecar's ``errors`` (stage ``integrity``), into
  ``decode.integrity`` (read by the card report) and count in
  ``kinod_errors_total{kind="integrity"}``;
* after the decode: the frames that really decoded are compared with the header; if
  the file breaks early, every analysis record says so (``coverage``, a warning) and
  loses the items and markers past the break, and items that ran over it end there.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import structlog

from kinod.export.sidecar import TimeBase
from kinod.jobs.tasks import TaskOutcome
from kinod.media.integrity import Integrity, check_file
from kinod.media.probe import Probe

log = structlog.get_logger(__name__)

#: Frames the decode may fall short of the header's count without it being a break
#: (B-frame reordering, edit lists, a last partial GOP).
FRAME_SLACK = 2


def check_before_decode(path: Path, probe: Probe, enabled: bool) -> Integrity | None:
    """Run the integrity check when ``cards.integrity_check`` is on. Never raises."""
    if not enabled:
        return None
    try:
        result = check_file(path, probe)
    except Exception as e:  # a checker bug must not cost the clip its analysis
        log.error("integrity check failed to run", path=str(path), error=str(e))
        return None
    if not result.ok:
        log.warning("clip failed its integrity check", path=str(path), problems=result.problems)
    return result


def break_frame(probe: Probe, integrity: Integrity | None, decoded_frames: int | None) -> int | None:
    """The first frame that is not really there, or None when the whole clip decoded."""
    candidates: list[int] = []
    if decoded_frames is not None and probe.has_video and decoded_frames + FRAME_SLACK < probe.frames:
        candidates.append(decoded_frames)
    if integrity is not None and not integrity.ok and integrity.decoded_until_s is not None and probe.rate is not None:
        frame = int(Fraction(integrity.decoded_until_s) * probe.rate)
        if frame + FRAME_SLACK < probe.frames:
            candidates.append(frame)
    return min(candidates) if candidates else None


def limit_record(rec: dict[str, Any], until: int, tb: TimeBase, of_frames: int) -> None:
    """Mark an analysis record as covering frames [0, until) and cut what lies past it."""
    until_s = tb.seconds(until)
    rec["coverage"] = {
        "complete": False,
        "until_frame": until,
        "until_s": until_s,
        "of_frames": of_frames,
        "of_s": tb.seconds(of_frames),
    }
    rec.setdefault("warnings", []).append(
        f"covers only the first {until_s:.3f} s of {tb.seconds(of_frames):.3f} s: the file breaks there"
    )
    items = []
    for it in rec.get("items", []):
        start = it.get("start_frame") if isinstance(it, dict) else None
        if isinstance(start, int) and start >= until:
            continue
        end = it.get("end_frame") if isinstance(it, dict) else None
        if isinstance(end, int) and end > until:
            it = {**it, "end_frame": until, "end_s": until_s, "cut_at_break": True}  # end_tc: at the edge
        items.append(it)
    rec["items"] = items
    if "markers" in rec:
        rec["markers"] = [m for m in rec["markers"] if not isinstance(m.get("frame"), int) or m["frame"] < until]


def apply(outcome: TaskOutcome, probe: Probe, integrity: Integrity | None) -> None:
    """After a pass: record the check and cut the results at a break. Never raises."""
    clip = outcome.clip
    decode = clip.get("decode")
    decoded = decode.get("frames") if isinstance(decode, dict) else None
    if decoded == 0 and isinstance(decode, dict) and decode.get("audio_samples"):
        decoded = None  # a sound-only pass (no picture analyzer) counts no frames: that is no break
    until = break_frame(probe, integrity, decoded if isinstance(decoded, int) else None)
    if integrity is None and until is None:
        return
    info: dict[str, Any] = integrity.to_json() if integrity is not None else {"ok": True, "problems": []}
    if until is not None:
        tb = TimeBase.from_probe(probe)
        info["ok"] = False
        info["break_frame"] = until
        msg = (
            f"{probe.path}: the file breaks at frame {until} ({tb.seconds(until):.3f} s) of the "
            f"{probe.frames} the header claims; results cover only what is before the break"
        )
        if msg not in info["problems"]:
            info["problems"].append(msg)
            clip.setdefault("errors", []).append({"stage": "integrity", "analyzer": None, "message": msg})
        for rec in outcome.records.values():
            limit_record(rec, until, tb, probe.frames)
    if not info.get("ok", True):
        outcome.problem = outcome.problem or "integrity"
    clip["decode"] = {**(decode if isinstance(decode, dict) else {}), "integrity": info}


def integrity_from_sidecar(data: dict[str, Any]) -> Integrity | None:
    """The integrity result a pass stored in a sidecar (``decode.integrity``), or None."""
    decode = data.get("decode")
    info = decode.get("integrity") if isinstance(decode, dict) else None
    if not isinstance(info, dict):
        return None
    return Integrity(
        path=str(info.get("path") or data.get("source", {}).get("path", "")),
        ok=bool(info.get("ok", True)),
        decodable=bool(info.get("decodable", True)),
        problems=[str(p) for p in info.get("problems", [])],
        checks=[str(c) for c in info.get("checks", [])],
        decoded_until_s=info.get("decoded_until_s"),
    )


def cut_at_break(records: dict[str, dict[str, Any]], decode: dict[str, Any] | None, probe: Probe | None) -> None:
    """At finalize: records not cut in the pass (model analyzers read the cache later) are cut too."""
    if probe is None or not isinstance(decode, dict):
        return
    info = decode.get("integrity") or {}
    until = info.get("break_frame")
    if not isinstance(until, int):
        return
    tb = TimeBase.from_probe(probe)
    for rec in records.values():
        if "coverage" not in rec:
            limit_record(rec, until, tb, probe.frames)
