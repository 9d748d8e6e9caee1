"""From what the sources say to the probe's fields: rate, length, picture, camera, start timecode, reel.

MediaInfo and libavformat each know some facts better (see :mod:`kinod.media.probe`);
the choices between them, and between the camera sidecar, a Broadcast WAV's chunks
and the container, are made here, one field or group of fields per function, so
that each rule reads on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from kinod.media.timecode import StartTimecode, TimecodeSource, parse_rate, snap_rate, tc_to_frames

_FIELD_ORDER = {"TFF": "tff", "BFF": "bff"}


def to_int(v: Any) -> int | None:
    """``v`` as an int (MediaInfo writes numbers as strings, some with decimals); None if it is none."""
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return None


def to_float(v: Any) -> float | None:
    """``v`` as a float; None if it is none."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def first_value(*values: Any) -> Any:
    """The first value that is neither None nor empty: sources in order of trust."""
    for v in values:
        if v not in (None, ""):
            return v
    return None


def frame_rates(v: dict[str, Any], av_info: dict[str, Any]) -> tuple[Fraction | None, Fraction | None]:
    """(rate, container_rate): the NLE's exact rate and the container's own rational before snapping."""
    rate: Fraction | None = None
    container_rate: Fraction | None = None
    if v:
        num, den = to_int(v.get("framerate_num")), to_int(v.get("framerate_den"))
        raw = Fraction(num, den) if num and den else None
        if raw is None and av_info.get("video_rate"):
            raw = av_info["video_rate"]
        if raw is None and v.get("frame_rate"):
            raw = parse_rate(str(v["frame_rate"]))
        if raw:
            container_rate = raw
            # 2997/100 (short_hamilton_clip.mp4) is what an NLE calls 29.97 NTSC: snap to 30000/1001.
            rate = snap_rate(raw)
    elif av_info.get("video_rate"):
        rate = parse_rate(av_info["video_rate"])
    return rate, container_rate


def duration_and_frames(
    v: dict[str, Any], general: dict[str, Any], av_info: dict[str, Any], rate: Fraction | None
) -> tuple[float, int]:
    """Length in seconds and in frames: libavformat's frame count first, else MediaInfo's, else computed."""
    duration_ms = to_float(first_value(v.get("duration"), general.get("duration")))
    duration_s = duration_ms / 1000 if duration_ms else float(av_info.get("duration_s") or 0.0)
    frames = int(av_info.get("video_frames") or 0)
    if not frames and v:
        frames = to_int(v.get("frame_count")) or 0
    if not frames and rate and duration_s:
        frames = round(duration_s * rate)
    return duration_s, frames


def picture_fields(v: dict[str, Any], av_info: dict[str, Any]) -> dict[str, Any]:
    """The probe's fields describing the picture (size, aspect, scan, codec, colour, rotation, VFR)."""
    return {
        "width": to_int(v.get("width")),
        "height": to_int(v.get("height")),
        "pixel_aspect": v.get("pixel_aspect_ratio"),
        "display_aspect": v.get("display_aspect_ratio"),
        "field_order": _field_order(v),
        "codec": v.get("format") or av_info.get("video_codec"),
        "codec_profile": v.get("format_profile"),
        "bit_depth": to_int(v.get("bit_depth")),
        "chroma_subsampling": v.get("chroma_subsampling"),
        "color_primaries": v.get("color_primaries"),
        "transfer": v.get("transfer_characteristics"),
        "matrix": v.get("matrix_coefficients"),
        "color_range": v.get("color_range"),
        "rotation": to_float(v.get("rotation")) or 0.0,
        "vfr": str(v.get("frame_rate_mode", "")).upper() == "VFR",
        "video_start_s": float(av_info.get("video_start_s") or 0.0),
        "audio_start_s": float(av_info.get("audio_start_s") or 0.0),
    }


def _field_order(v: dict[str, Any]) -> str:
    """progressive, tff, bff or unknown (interlaced, order not said)."""
    scan = str(v.get("scan_type", "")).lower()
    order = str(v.get("scan_order", "")).upper()
    if not v:
        return "progressive"
    if scan in ("interlaced", "mbaff") or order in _FIELD_ORDER:
        return _FIELD_ORDER.get(order, "unknown")
    return "progressive"


def camera_fields(general: dict[str, Any], av_info: dict[str, Any], side: Any) -> dict[str, Any]:
    """The probe's fields about the camera and the shot: the camera sidecar first, then the container's tags."""
    return {
        "creation_date": first_value(
            general.get("encoded_date"), general.get("recorded_date"), av_info.get("creation_time")
        ),
        "camera_make": first_value(
            side.camera.make if side else None, general.get("make"), general.get("manufacturer"), av_info.get("make")
        ),
        "camera_model": first_value(
            side.camera.model if side else None,
            general.get("model"),
            general.get("camera_model_name"),
            av_info.get("model"),
        ),
        "camera_serial": first_value(side.camera.serial if side else None, general.get("serialnumber")),
        "clip_name": side.user_clip_name if side else None,
        "sidecar": side.sidecars[0] if side and side.sidecars else None,
    }


def timecode_candidates(
    hints: Sequence[tuple[TimecodeSource | str, str]],
    side: Any,
    bwf: dict[str, Any] | None,
    others: list[dict[str, Any]],
    v: dict[str, Any],
    av_info: dict[str, Any],
) -> tuple[list[tuple[TimecodeSource, str]], Any]:
    """Every start timecode candidate with its source, and the reel named by a timecode track.

    Order matters within a source (the first wins there): the card parser's hints,
    the camera sidecar, the BWF bext start, timecode tracks, the video track, file tags.
    """
    candidates: list[tuple[TimecodeSource, str]] = [(TimecodeSource(src), label) for src, label in hints]
    if side is not None and side.start_tc:
        candidates.append((TimecodeSource.CAMERA_XML, side.start_tc))
    if bwf is not None and bwf.get("start_tc"):
        candidates.append((TimecodeSource.CONTAINER, bwf["start_tc"]))
    reel = None
    for o in others:
        if str(o.get("type", "")).lower().startswith("time code") and o.get("time_code_of_first_frame"):
            candidates.append((TimecodeSource.CONTAINER, str(o["time_code_of_first_frame"])))
            reel = reel or o.get("title")
    for key in ("time_code_of_first_frame",):
        if v.get(key):
            candidates.append((TimecodeSource.CONTAINER, str(v[key])))
    for tag in av_info.get("timecodes", []):
        candidates.append((TimecodeSource.FILE_TAGS, tag))
    return candidates, reel


def choose_reel(
    track_reel: Any,
    side: Any,
    bwf: dict[str, Any] | None,
    general: dict[str, Any],
    v: dict[str, Any],
    av_info: dict[str, Any],
) -> Any:
    """The reel: the camera sidecar's, else the timecode track's or a tag's, else a WAV's tape name."""
    reel = track_reel or av_info.get("reel") or general.get("reel_name") or v.get("title") or None
    if side is not None and side.reel:
        reel = side.reel
    if bwf is not None and bwf.get("tape") and not reel:
        reel = bwf["tape"]
    return reel


def warn_disagreement(
    candidates: list[tuple[TimecodeSource, str]], chosen: StartTimecode, rate: Fraction, warnings: list[str]
) -> None:
    """Say so when the camera XML and the container disagree: one of them was re-stamped."""
    for source, label in candidates:
        if source == chosen.source or source.priority > TimecodeSource.CONTAINER.priority:
            continue
        try:
            frames = tc_to_frames(label, rate)
        except ValueError:
            continue
        if frames != chosen.frames:
            warnings.append(
                f"start timecode {chosen.text} ({chosen.source.value}) differs from {label} ({source.value})"
            )
            return
