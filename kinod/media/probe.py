"""Probe: what a clip is, from MediaInfo (bundled in the pymediainfo wheel) and PyAV.

We have no ffprobe (the imageio-ffmpeg wheel ships ffmpeg alone), and each of the two
libraries is better at different facts: MediaInfo reads camera metadata, timecode
tracks, scan type, colour and truncation flags; PyAV (libavformat) gives the exact
stream time bases and frame counts that the decode pass will see. Reading headers is
cheap; nothing here decodes a frame.

Rates are exact fractions. A rate MediaInfo reports as "29.970" is stored as
30000/1001 because that is what the NLE will assume; the container's own rational is
kept as ``container_rate`` for the curious.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from kinod.media.timecode import (
    StartTimecode,
    TimecodeSource,
    format_rate,
    parse_rate,
    pick_start_timecode,
    supports_drop_frame,
)


class ProbeError(RuntimeError):
    """The file is not media we can read; the message names the file and the reason."""


@dataclass
class AudioStreamInfo:
    index: int
    codec: str
    channels: int
    sample_rate: int
    bit_depth: int | None = None
    channel_layout: str = ""
    duration_s: float | None = None
    title: str = ""


@dataclass
class Probe:
    path: str
    size: int
    container: str
    duration_s: float
    has_video: bool
    rate: str | None = None  # "30000/1001"
    container_rate: str | None = None
    frames: int = 0
    width: int | None = None
    height: int | None = None
    pixel_aspect: str | None = None
    display_aspect: str | None = None
    field_order: str = "progressive"  # progressive | tff | bff | unknown
    codec: str | None = None
    codec_profile: str | None = None
    bit_depth: int | None = None
    chroma_subsampling: str | None = None
    color_primaries: str | None = None
    transfer: str | None = None
    matrix: str | None = None
    color_range: str | None = None
    rotation: float = 0.0
    vfr: bool = False
    video_start_s: float = 0.0
    audio_start_s: float = 0.0
    start_tc: str = "00:00:00:00"
    start_tc_frames: int = 0
    drop_frame: bool = False
    tc_source: str = TimecodeSource.DEFAULT.value
    reel: str | None = None
    creation_date: str | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    truncated: bool = False
    audio: list[AudioStreamInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rate_fraction(self) -> Fraction:
        return Fraction(self.rate) if self.rate else Fraction(25)

    @property
    def audio_channels(self) -> int:
        return sum(a.channels for a in self.audio)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Probe:
        d = dict(data)
        d["audio"] = [AudioStreamInfo(**a) for a in d.get("audio", [])]
        return cls(**d)


def _int(v: Any) -> int | None:
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return None


def _float(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _first(*values: Any) -> Any:
    for v in values:
        if v not in (None, ""):
            return v
    return None


_FIELD_ORDER = {"TFF": "tff", "BFF": "bff"}


def probe(path: str | os.PathLike[str]) -> Probe:
    """Probe one file. Raises ProbeError (never anything else) when it is not usable media."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as e:
        raise ProbeError(f"{p}: cannot read: {e.strerror}") from None
    if not p.is_file():
        raise ProbeError(f"{p}: not a regular file")
    if st.st_size == 0:
        raise ProbeError(f"{p}: file is empty (0 bytes)")
    if not os.access(p, os.R_OK):
        raise ProbeError(f"{p}: permission denied")

    from pymediainfo import MediaInfo

    try:
        mi = MediaInfo.parse(str(p))
    except Exception as e:  # libmediainfo raises a variety of things on odd input
        raise ProbeError(f"{p}: MediaInfo could not parse the file: {e}") from None
    general = next((t.to_data() for t in mi.tracks if t.track_type == "General"), {})
    videos = [t.to_data() for t in mi.tracks if t.track_type == "Video"]
    audios = [t.to_data() for t in mi.tracks if t.track_type == "Audio"]
    others = [t.to_data() for t in mi.tracks if t.track_type == "Other"]

    av_info = _pyav_facts(p)
    if not videos and not audios and not av_info.get("streams"):
        fmt = general.get("format") or "unknown format"
        raise ProbeError(f"{p}: not a media file (no audio or video streams; MediaInfo says {fmt})")

    v = videos[0] if videos else {}
    warnings: list[str] = []
    truncated = str(general.get("istruncated", "")).lower() in ("yes", "true", "1")
    if truncated:
        warnings.append("MediaInfo reports the file is truncated")
    if av_info.get("error"):
        if not videos and not audios:
            raise ProbeError(f"{p}: {av_info['error']}")
        warnings.append(av_info["error"])

    rate: Fraction | None = None
    container_rate: str | None = None
    if v:
        num, den = _int(v.get("framerate_num")), _int(v.get("framerate_den"))
        raw = Fraction(num, den) if num and den else None
        if raw is None and av_info.get("video_rate"):
            raw = av_info["video_rate"]
        if raw is None and v.get("frame_rate"):
            raw = parse_rate(str(v["frame_rate"]))
        if raw:
            container_rate = format_rate(raw)
            # 2997/100 (short_hamilton_clip.mp4) is what an NLE calls 29.97 NTSC: snap to 30000/1001.
            rate = raw if raw.denominator == 1 else parse_rate(float(raw))
    elif av_info.get("video_rate"):
        rate = parse_rate(av_info["video_rate"])

    duration_ms = _float(_first(v.get("duration"), general.get("duration")))
    duration_s = duration_ms / 1000 if duration_ms else float(av_info.get("duration_s") or 0.0)
    frames = int(av_info.get("video_frames") or 0)
    if not frames and v:
        frames = _int(v.get("frame_count")) or 0
    if not frames and rate and duration_s:
        frames = round(duration_s * rate)

    vfr = str(v.get("frame_rate_mode", "")).upper() == "VFR"

    # Start timecode, best source first (camera XML comes from card parsers).
    candidates: list[tuple[TimecodeSource, str]] = []
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
    tc: StartTimecode = pick_start_timecode(candidates, rate or Fraction(25))
    reel = reel or av_info.get("reel") or general.get("reel_name") or v.get("title") or None

    audio_streams: list[AudioStreamInfo] = []
    for i, a in enumerate(audios):
        audio_streams.append(
            AudioStreamInfo(
                index=i,
                codec=str(a.get("format", "")),
                channels=_int(_first(a.get("channel_s"), a.get("channels"))) or 0,
                sample_rate=_int(a.get("sampling_rate")) or 0,
                bit_depth=_int(a.get("bit_depth")),
                channel_layout=str(a.get("channel_layout") or ""),
                duration_s=(_float(a.get("duration")) or 0) / 1000 or None,
                title=str(a.get("title") or ""),
            )
        )

    scan = str(v.get("scan_type", "")).lower()
    order = str(v.get("scan_order", "")).upper()
    if not v:
        field_order = "progressive"
    elif scan in ("interlaced", "mbaff") or order in _FIELD_ORDER:
        field_order = _FIELD_ORDER.get(order, "unknown")
    else:
        field_order = "progressive"

    return Probe(
        path=str(p.resolve()),
        size=st.st_size,
        container=str(_first(general.get("format"), av_info.get("format"), "unknown")),
        duration_s=round(duration_s, 6),
        has_video=bool(v),
        rate=format_rate(rate) if rate else None,
        container_rate=container_rate,
        frames=frames,
        width=_int(v.get("width")),
        height=_int(v.get("height")),
        pixel_aspect=v.get("pixel_aspect_ratio"),
        display_aspect=v.get("display_aspect_ratio"),
        field_order=field_order,
        codec=v.get("format") or av_info.get("video_codec"),
        codec_profile=v.get("format_profile"),
        bit_depth=_int(v.get("bit_depth")),
        chroma_subsampling=v.get("chroma_subsampling"),
        color_primaries=v.get("color_primaries"),
        transfer=v.get("transfer_characteristics"),
        matrix=v.get("matrix_coefficients"),
        color_range=v.get("color_range"),
        rotation=_float(v.get("rotation")) or 0.0,
        vfr=vfr,
        video_start_s=float(av_info.get("video_start_s") or 0.0),
        audio_start_s=float(av_info.get("audio_start_s") or 0.0),
        start_tc=tc.text,
        start_tc_frames=tc.frames,
        drop_frame=tc.drop_frame and bool(rate and supports_drop_frame(rate)),
        tc_source=tc.source.value,
        reel=str(reel) if reel else None,
        creation_date=_first(general.get("encoded_date"), general.get("recorded_date"), av_info.get("creation_time")),
        camera_make=_first(general.get("make"), general.get("manufacturer"), av_info.get("make")),
        camera_model=_first(general.get("model"), general.get("camera_model_name"), av_info.get("model")),
        truncated=truncated,
        audio=audio_streams,
        warnings=warnings,
    )


def _pyav_facts(p: Path) -> dict[str, Any]:
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
            elif s.type == "audio" and "audio_start_s" not in facts:
                if s.start_time is not None and s.time_base is not None:
                    facts["audio_start_s"] = float(s.start_time * s.time_base)
    return facts
