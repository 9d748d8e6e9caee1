"""What each source says about a file: MediaInfo's tracks, libavformat's streams, the camera sidecar, BWF chunks.

Each reader returns the source's own words (dicts as the library spells them) and
leaves the choosing to :mod:`kinod.media.probe_fields`. A source that cannot be
read is either fatal (:class:`ProbeError`: MediaInfo cannot parse the file) or a
warning (a broken sidecar or WAV chunk must never make a readable clip unreadable).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any


class ProbeError(RuntimeError):
    """The file is not media we can read; the message names the file and the reason."""


@dataclass
class MediaInfoTracks:
    """MediaInfo's tracks of one file by type, each as MediaInfo's dict of fields."""

    general: dict[str, Any] = field(default_factory=dict)
    videos: list[dict[str, Any]] = field(default_factory=list)
    audios: list[dict[str, Any]] = field(default_factory=list)
    others: list[dict[str, Any]] = field(default_factory=list)


def _utf8_name(p: Path) -> bool:
    try:
        str(p).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def mediainfo_tracks(p: Path) -> MediaInfoTracks:
    """MediaInfo's view of the file (camera metadata, timecode tracks, scan type, colour, truncation)."""
    from pymediainfo import MediaInfo

    try:
        if _utf8_name(p):
            mi = MediaInfo.parse(str(p))
        else:  # libmediainfo cannot open a name that is not UTF-8; it reads a file object fine
            with open(p, "rb") as fh:
                mi = MediaInfo.parse(fh)
    except Exception as e:  # libmediainfo raises a variety of things on odd input
        raise ProbeError(f"{p}: MediaInfo could not parse the file: {e}") from None
    return MediaInfoTracks(
        general=next((t.to_data() for t in mi.tracks if t.track_type == "General"), {}),
        videos=[t.to_data() for t in mi.tracks if t.track_type == "Video"],
        audios=[t.to_data() for t in mi.tracks if t.track_type == "Audio"],
        others=[t.to_data() for t in mi.tracks if t.track_type == "Other"],
    )


def read_camera_sidecar(p: Path, warnings: list[str]) -> Any:
    """The camera sidecar's metadata for this file (a CardClip), or None; problems become warnings."""
    from kinod.media.cards.sidecars import sidecar_clip_for

    try:
        clip = sidecar_clip_for(p)
    except Exception as e:  # a sidecar must never make a readable clip unreadable
        warnings.append(f"{p}: camera sidecar could not be read: {e}")
        return None
    if clip is not None:
        warnings.extend(clip.problems)
    return clip


def bwf_facts(p: Path, warnings: list[str], fallback: tuple[Fraction, str] | None = None) -> dict[str, Any] | None:
    """bext/iXML facts of a WAV, with the start TC from the bext time reference.

    Labelled at the recorder's rate when it wrote one (``tc_rate_source: "ixml"``), else
    at ``fallback`` (the card's video rate or ``cards.audio_tc_rate``, named in
    ``tc_rate_source``).
    """
    from kinod.media.cards.bwf import BwfError, read_bwf

    try:
        info = read_bwf(p)
    except BwfError as e:
        warnings.append(str(e))
        return None
    warnings.extend(info.problems)
    if not (info.has_bext or info.has_ixml):
        return None
    facts: dict[str, Any] = {
        k: v
        for k, v in info.to_json().items()
        if k not in ("path", "problems", "coding_history") and v not in (None, "", [])
    }
    facts["track_names"] = [t.name for t in info.tracks]
    facts.pop("tracks", None)
    tc = info.start_tc()
    if tc is not None:
        facts["start_tc"] = tc[0]
        facts["tc_rate_source"] = "ixml" if info.has_ixml else "bext"
    elif info.time_reference is not None and fallback is not None:
        rate, source = fallback
        tc = info.start_tc(rate)
        if tc is not None:
            facts["start_tc"] = tc[0]
            facts["tc_rate"] = f"{rate.numerator}/{rate.denominator}"
            facts["tc_rate_source"] = source
    elif info.time_reference is not None:
        warnings.append(f"{p}: bext time reference present but no timecode rate in iXML; start TC not set")
    return facts


def pyav_facts(p: Path) -> dict[str, Any]:
    """Stream facts from libavformat: exact rates, frame counts, start times, tags."""
    import av

    facts: dict[str, Any] = {"streams": 0, "timecodes": []}
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except Exception as e:
        facts["error"] = f"libavformat cannot open it: {e}"
        return facts
    with contextlib.closing(container):
        facts["format"] = container.format.name
        facts["streams"] = len(container.streams)
        if container.duration:
            facts["duration_s"] = container.duration / 1_000_000
        meta = {k.lower(): v for k, v in container.metadata.items()}
        if meta.get("timecode"):
            facts["timecodes"].append(meta["timecode"])
        facts["creation_time"] = meta.get("creation_time")
        facts["make"] = meta.get("make") or meta.get("com.apple.quicktime.make")
        facts["model"] = meta.get("model") or meta.get("com.apple.quicktime.model")
        facts["reel"] = meta.get("reel_name")
        for s in container.streams:
            smeta = {k.lower(): v for k, v in s.metadata.items()}
            if smeta.get("timecode"):
                facts["timecodes"].append(smeta["timecode"])
            if s.type == "video" and "video_rate" not in facts:
                rate = s.average_rate or s.guessed_rate or s.base_rate
                if rate:
                    facts["video_rate"] = Fraction(rate.numerator, rate.denominator)
                facts["video_frames"] = s.frames or 0
                facts["video_codec"] = s.codec_context.name
                if s.start_time is not None and s.time_base is not None:
                    facts["video_start_s"] = float(s.start_time * s.time_base)
                facts["reel"] = facts["reel"] or smeta.get("reel_name")
            elif (
                s.type == "audio"
                and "audio_start_s" not in facts
                and s.start_time is not None
                and s.time_base is not None
            ):
                facts["audio_start_s"] = float(s.start_time * s.time_base)
    return facts
