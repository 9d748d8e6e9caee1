"""Sidecars -> OpenTimelineIO: the one model every marker writer starts from.

A clip becomes a timeline with one track holding one clip that references the
original by absolute file URL. Times are on the source timecode axis (available
range starts at the clip's start TC as a frame count), which is what NLEs show and
what relinking expects. Each sidecar marker becomes an ``otio.schema.Marker`` whose
metadata under ``"kinod"`` keeps the category, analyzer, comment and confidence, so
format writers need nothing but the timeline. Transcript segments ride along in the
clip's metadata for the subtitle writers, for the same reason.

A card becomes one timeline too: every clip in camera order, with a gap wherever the
time of day jumps forward between two clips, so an editor sees the shooting day.

Rates: NLEs only know a handful of frame rates. A variable-frame-rate source (whose
probe reports an average such as 600/29) is conformed to the nearest standard rate
and its markers are moved by their exact time, not their frame number, because the
NLE will play that file at the standard rate too.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

import opentimelineio as otio

from kinod.contracts import catalog
from kinod.export.people_track import PersonRange, add_people_tracks, people_ranges
from kinod.media.timecode import (
    STANDARD_RATES,
    format_rate,
    frames_to_tc,
    parse_rate,
    seconds_to_frame,
    snap_rate,
    supports_drop_frame,
)

#: OTIO's named marker colours; every writer maps these to its NLE's palette.
MARKER_COLORS: tuple[str, ...] = (
    "PINK",
    "RED",
    "ORANGE",
    "YELLOW",
    "GREEN",
    "CYAN",
    "BLUE",
    "PURPLE",
    "MAGENTA",
    "BLACK",
    "WHITE",
)


def __getattr__(name: str) -> Any:
    """``MARKER_CATEGORIES`` and ``CATEGORY_COLORS``, read from the installed analyzers on first use.

    Why lazily: the categories are declared by the analyzers (a plugin adds its own), and
    finding them imports every analyzer, which must not happen while this module imports.
    ``MARKER_CATEGORIES`` is in display priority order (first wins when markers must merge);
    ``CATEGORY_COLORS`` holds each category's default colour (``[export] colors`` overrides it).
    """
    if name == "MARKER_CATEGORIES":
        return catalog.category_names()
    if name == "CATEGORY_COLORS":
        return catalog.category_colors()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Rates every NLE we write for can hold a timeline at (conform targets for odd rates).
NLE_RATES: tuple[Fraction, ...] = tuple(sorted(set(STANDARD_RATES.values())))


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_LINE_BREAKS = re.compile(r"\r\n|\r|\n|\u2028|\u2029|\x85")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
#: Shown for characters no format can carry (control characters, lone surrogates).
REPLACEMENT = "\ufffd"


def clean_text(text: str) -> str:
    """Text every format can carry: NFC, line breaks as ``\\n``, control characters as U+FFFD.

    Applied when the model is built, because OTIO's C++ core cuts strings at NUL and
    XML 1.0 cannot hold control characters at all; the replacement stays visible.
    """
    text = unicodedata.normalize("NFC", str(text))
    text = _LINE_BREAKS.sub("\n", text)
    text = _SURROGATES.sub(REPLACEMENT, text)
    return _CONTROL.sub(REPLACEMENT, text)


def resolve_colors(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Default colours with ``overrides`` applied; ValueError names a bad category or colour."""
    out = catalog.category_colors()
    for category, color in (overrides or {}).items():
        if category not in out:
            raise ValueError(f"unknown marker category {category!r} (known: {', '.join(out)})")
        name = str(color).strip().upper()
        if name not in MARKER_COLORS:
            raise ValueError(f"unknown marker colour {color!r} for {category!r} (known: {', '.join(MARKER_COLORS)})")
        out[category] = name
    return out


def conform_rate(rate: Fraction) -> Fraction:
    """The NLE rate for a source rate: itself when standard, else the nearest standard rate.

    Exact ``N/1001`` spellings of an NTSC rate (``2997/100``) snap to the NTSC rate first.
    """
    if rate in NLE_RATES:
        return rate
    snapped = snap_rate(rate)
    if snapped in NLE_RATES:
        return snapped
    return min(NLE_RATES, key=lambda r: (abs(r - rate), r))


def marker_note(m: dict[str, Any]) -> str:
    """The comment an editor reads: why, which analyzer, how sure, which category.

    The analyzer name is left out when the comment already starts with it, since the
    shots analyzer writes ``"shots: ContentDetector ..."``, and the category when it is
    the analyzer's name too.
    """
    comment = str(m.get("comment") or "").strip()
    facts = []
    analyzer = m.get("analyzer")
    if analyzer and not comment.lower().startswith(str(analyzer).lower()):
        facts.append(str(analyzer))
    confidence = m.get("confidence")
    if isinstance(confidence, (int, float)):
        facts.append(f"confidence {confidence:.2f}")
    category = str(m.get("category", ""))
    if category not in facts:
        facts.append(category)
    tail = f"[{', '.join(f for f in facts if f)}]"
    return f"{comment} {tail}" if comment else tail


def _time_base(sidecar: dict[str, Any]) -> tuple[Fraction, Fraction, int, int, bool]:
    """(source rate, NLE rate, start TC frames at the NLE rate, frames at the NLE rate, drop frame)."""
    info = sidecar["timeline"]
    rate = parse_rate(info["rate"])
    nle = conform_rate(rate)
    start = int(info["start_tc_frames"])
    frames = int(info.get("frames") or 0)
    if frames <= 0:
        duration = float((sidecar.get("probe") or {}).get("duration_s") or 0.0)
        frames = seconds_to_frame(duration, rate)
    if nle != rate:
        start = seconds_to_frame(Fraction(start) / rate, nle)
        frames = seconds_to_frame(Fraction(frames) / rate, nle)
    drop = bool(info.get("drop_frame")) and supports_drop_frame(nle)
    return rate, nle, start, max(frames, 1), drop


def _to_nle_frame(frame: int, rate: Fraction, nle: Fraction) -> int:
    return frame if rate == nle else seconds_to_frame(Fraction(frame) / rate, nle)


def _slate(sidecar: dict[str, Any]) -> dict[str, str]:
    """Roll, scene and take read off the clip's slate (an analysis summary's ``slate``), as text."""
    for rec in (sidecar.get("analyses") or {}).values():
        slate = (rec.get("summary") or {}).get("slate") if isinstance(rec, dict) else None
        if isinstance(slate, dict):
            return {k: str(slate[k]) for k in ("roll", "scene", "take") if slate.get(k) not in (None, "")}
    return {}


def _transcript(sidecar: dict[str, Any]) -> list[dict[str, Any]]:
    """Speech segments (seconds from the clip's first frame) for the subtitle writers."""
    speech = (sidecar.get("analyses") or {}).get("speech") or {}
    out = []
    for seg in speech.get("items") or []:
        if not isinstance(seg, dict) or not str(seg.get("text") or "").strip():
            continue
        if "start_s" not in seg or "end_s" not in seg:
            continue
        words = [
            {"word": str(w.get("word", "")), "start_s": float(w["start_s"]), "end_s": float(w["end_s"])}
            for w in seg.get("words") or []
            if isinstance(w, dict) and "start_s" in w and "end_s" in w
        ]
        out.append(
            {
                "start_s": float(seg["start_s"]),
                "end_s": float(seg["end_s"]),
                "text": str(seg["text"]),
                "speaker": seg.get("speaker"),
                "words": words,
            }
        )
    return sorted(out, key=lambda s: (s["start_s"], s["end_s"]))


def _clip(
    sidecar: dict[str, Any], colors: dict[str, str], categories: frozenset[str] | None
) -> tuple[otio.schema.Clip, Fraction, bool]:
    """One OTIO clip with its markers, plus its NLE rate and drop-frame flag."""
    source = sidecar["source"]
    rate, nle, start, frames, drop = _time_base(sidecar)
    fr = float(nle)
    available = otio.opentime.TimeRange(otio.opentime.RationalTime(start, fr), otio.opentime.RationalTime(frames, fr))
    ref = _media_reference(sidecar, available, fr)
    ref.metadata["kinod"] = {"fingerprint": source.get("fingerprint"), "size": source.get("size")}
    probe = sidecar.get("probe") or {}
    audio = probe.get("audio") or []
    clip = otio.schema.Clip(name=source["name"], media_reference=ref, source_range=available)
    clip.metadata["kinod"] = {
        "path": source["path"],
        "rate": format_rate(nle),
        "source_rate": sidecar["timeline"]["rate"],
        "start_tc": frames_to_tc(start, nle, drop),
        "drop_frame": drop,
        "vfr": bool(probe.get("vfr")) or nle != rate,
        "reel": probe.get("reel") or _slate(sidecar).get("roll"),
        "slate": _slate(sidecar),
        "card": source.get("card"),
        "fingerprint": source.get("fingerprint"),
        "has_video": bool(probe.get("has_video", True)),
        "width": probe.get("width"),
        "height": probe.get("height"),
        "field_order": probe.get("field_order"),
        "audio_channels": sum(int(a.get("channels") or 0) for a in audio if isinstance(a, dict)),
        "audio_rate": next((int(a["sample_rate"]) for a in audio if isinstance(a, dict) and a.get("sample_rate")), 0),
        "sidecar_schema": f"{sidecar['schema']}/{sidecar['schema_version']}",
        "transcript": _transcript(sidecar),
    }
    for m in sidecar.get("markers", []):
        if categories is not None and m["category"] not in categories:
            continue
        frame = min(max(_to_nle_frame(int(m["frame"]), rate, nle), 0), frames - 1)
        duration = int(m.get("duration_frames") or 0)
        if duration:
            end = _to_nle_frame(int(m["frame"]) + duration, rate, nle)
            duration = max(1, min(end, frames) - frame)
        note = clean_text(marker_note(m))
        color = colors.get(m["category"], otio.schema.MarkerColor.RED)
        marker = otio.schema.Marker(
            name=clean_text(m["name"]),
            marked_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(start + frame, fr), otio.opentime.RationalTime(duration, fr)
            ),
            color=color,
            comment=note,
        )
        marker.metadata["kinod"] = {
            "category": m["category"],
            "analyzer": m.get("analyzer"),
            "comment": clean_text(m.get("comment", "")),
            "note": note,
            "confidence": m.get("confidence"),
            "frame": frame,
            "source_frame": m["frame"],
            "seconds": m.get("seconds"),
            "tc": frames_to_tc(start + frame, nle, drop),
        }
        marker.metadata["Resolve_OTIO"] = {"Note": note, "Keywords": []}
        clip.markers.append(marker)
    return clip, nle, drop


def _media_reference(sidecar: dict[str, Any], available: otio.opentime.TimeRange, fr: float) -> Any:
    """The clip's file, or for an image sequence its frames (OTIO ``ImageSequenceReference``):
    frame ``first`` at the start timecode, one number per frame; a missing frame is an error
    to a player (``MissingFramePolicy.error``), as gaps are never bridged."""
    seq = sidecar.get("sequence")
    if not seq:
        return otio.schema.ExternalReference(
            target_url=otio.url_utils.url_from_filepath(sidecar["source"]["path"]), available_range=available
        )
    policy = otio.schema.ImageSequenceReference.MissingFramePolicy.error
    return otio.schema.ImageSequenceReference(
        target_url_base=otio.url_utils.url_from_filepath(seq["folder"]).rstrip("/") + "/",
        name_prefix=seq["head"], name_suffix=seq["tail"], start_frame=int(seq["first"]), frame_step=1, rate=fr,
        frame_zero_padding=int(seq["padding"]), missing_frame_policy=policy, available_range=available,
    )  # fmt: skip


def _check(sidecar: dict[str, Any]) -> None:
    if not sidecar.get("timeline"):
        raise ValueError(f"{sidecar['source']['path']}: sidecar has no timeline (clip failed to probe)")


def clip_timeline(
    sidecar: dict[str, Any],
    colors: dict[str, str] | None = None,
    categories: Iterable[str] | None = None,
) -> otio.schema.Timeline:
    """One clip's timeline with all its markers. Raises ValueError for a sidecar without video time."""
    _check(sidecar)
    cats = frozenset(categories) if categories else None
    clip, rate, drop = _clip(sidecar, resolve_colors(colors), cats)
    start = clip.source_range.start_time
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(clip)
    timeline = otio.schema.Timeline(name=clip.name, global_start_time=start)
    timeline.tracks.append(track)
    add_people_tracks(timeline, people_ranges(clip, 0), float(rate))
    timeline.metadata["kinod"] = {
        "kind": "clip",
        "source": sidecar["source"]["path"],
        "rate": format_rate(rate),
        "drop_frame": drop,
        "excluded": [],
    }
    return timeline


_DIGITS = re.compile(r"(\d+)")


def camera_order_key(sidecar: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key for camera order: the camera's own clip numbering in the file name.

    Cameras number clips sequentially (A001C003, C0042, MVI_0815), so a natural sort of
    the file name is the shooting order even where the timecode is record-run or wraps
    at midnight; the full path breaks ties between identically named files.
    """
    name = str(sidecar["source"].get("name") or "")
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in _DIGITS.split(name) if p)
    return (parts, str(sidecar["source"].get("path") or ""))


def card_timeline(
    sidecars: Sequence[dict[str, Any]],
    name: str = "card",
    colors: dict[str, str] | None = None,
    categories: Iterable[str] | None = None,
    max_gap_seconds: float = 10.0,
) -> otio.schema.Timeline:
    """Every clip of a card in camera order, gaps where the time of day jumps, all markers.

    The timeline runs at the rate most clips share; clips at another rate, and sidecars
    of clips that failed to probe, are left out and listed in ``metadata["kinod"]["excluded"]``
    because an EDL or an NLE sequence cannot hold them at their own frames. A forward jump
    between one clip's last frame and the next clip's start timecode becomes a gap, capped at
    ``max_gap_seconds`` so an overnight pause does not make an empty day-long sequence; the
    gap's metadata keeps the real jump. Raises ValueError when no clip can be placed.
    """
    cats = frozenset(categories) if categories else None
    palette = resolve_colors(colors)
    excluded: list[dict[str, str]] = []
    placed: list[tuple[otio.schema.Clip, Fraction, bool]] = []
    for sc in sorted(sidecars, key=camera_order_key):
        if not sc.get("timeline"):
            excluded.append({"path": sc["source"]["path"], "why": "no timeline (clip failed to probe)"})
            continue
        placed.append(_clip(sc, palette, cats))
    if not placed:
        raise ValueError(f"card {name!r}: no clip with a timeline to place")
    rate = Counter(r for _, r, _ in placed).most_common(1)[0][0]
    drop = Counter(d for _, r, d in placed if r == rate).most_common(1)[0][0]
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    cursor: int | None = None
    start_frames = 0
    people: list[PersonRange] = []
    cap = seconds_to_frame(Fraction(max_gap_seconds).limit_denominator(1000), rate)
    for clip, clip_rate, _ in placed:
        if clip_rate != rate:
            excluded.append(
                {
                    "path": clip.metadata["kinod"]["path"],
                    "why": f"rate {format_rate(clip_rate)} differs from the card's {format_rate(rate)}",
                }
            )
            continue
        clip_start = int(clip.source_range.start_time.value)
        if cursor is None:
            start_frames = cursor = clip_start
        elif clip_start > cursor and cap > 0:
            jump = clip_start - cursor
            gap = otio.schema.Gap(duration=otio.opentime.RationalTime(min(jump, cap), float(rate)))
            gap.name = f"TC jump {frames_to_tc(jump, rate, False)}"
            gap.metadata["kinod"] = {"jump_frames": jump, "capped": jump > cap}
            track.append(gap)
            cursor += min(jump, cap)
        track.append(clip)
        people += people_ranges(clip, cursor - start_frames)
        cursor += int(clip.source_range.duration.value)
    timeline = otio.schema.Timeline(name=name, global_start_time=otio.opentime.RationalTime(start_frames, float(rate)))
    timeline.tracks.append(track)
    add_people_tracks(timeline, people, float(rate))
    timeline.metadata["kinod"] = {
        "kind": "card",
        "rate": format_rate(rate),
        "drop_frame": drop and supports_drop_frame(rate),
        "excluded": excluded,
    }
    return timeline
