"""Probe: what a clip is, from MediaInfo (bundled in the pymediainfo wheel) and PyAV.

We have no ffprobe (the imageio-ffmpeg wheel ships ffmpeg alone), and each of the two
libraries is better at different facts: MediaInfo reads camera metadata, timecode
tracks, scan type, colour and truncation flags; PyAV (libavformat) gives the exact
stream time bases and frame counts that the decode pass will see. Reading headers is
cheap; nothing here decodes a frame.

Rates are exact fractions. A rate MediaInfo reports as "29.970" is stored as
30000/1001 because that is what the NLE will assume; the container's own rational is
kept as ``container_rate`` for the curious.

Start timecode is chosen by source priority (``TimecodeSource``): the camera's XML
sidecar (Sony ``M01.XML``, P2 clip XML, Canon clip XML; found beside the file, or
passed in as ``timecode_hints`` by the card parser) beats the container's ``tmcd``
or MXF timecode, which beats loose file tags, which beat ``00:00:00:00``. Every
candidate seen is kept in ``timecode_candidates`` with its source, so a mismatch
between the camera and the container is visible. Broadcast WAV files get their
start from ``bext`` time reference at the recorder's iXML timecode rate.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kinod.media.timecode import (
    StartTimecode,
    TimecodeSource,
    format_rate,
    frames_to_tc,
    parse_rate,
    pick_start_timecode,
    snap_rate,
    supports_drop_frame,
)

if TYPE_CHECKING:
    from kinod.media.cards.model import CameraFacts


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
    #: Exact frame rate (30000/1001); None for audio without a timecode rate. JSON holds "30000/1001".
    rate: Fraction | None = None
    #: The container's own rational before NTSC snapping (2997/100), kept for the curious.
    container_rate: Fraction | None = None
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
    #: The start timecode as a frame count from 00:00:00:00 at ``timeline_rate``; its label
    #: (``start_tc``) is derived, so correcting the frames corrects every label.
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
    camera_serial: str | None = None
    #: The camera's user clip name (P2 UserClipName, Sony Title), when it wrote one.
    clip_name: str | None = None
    #: Every start timecode candidate seen: [{"source": "camera-xml", "label": "01:00:00;00"}].
    timecode_candidates: list[dict[str, str]] = field(default_factory=list)
    #: The camera sidecar the metadata came from (absolute path), if any.
    sidecar: str | None = None
    #: Broadcast WAV facts (bext/iXML: scene, take, tape, time_reference, track names...).
    bwf: dict[str, Any] | None = None

    @property
    def timeline_rate(self) -> Fraction:
        """The rate of the clip's frame axis: its own rate, or :data:`NO_RATE_TIMELINE` when it has none.

        Results are frame indices and the writers need a rate, so a clip without one
        (audio with no timecode rate) is put on a stated grid rather than none. Callers
        for whom a missing rate means something else (proxy, card report) read ``rate``.
        """
        return self.rate if self.rate is not None else NO_RATE_TIMELINE

    @property
    def start_tc(self) -> str:
        """The start timecode label (``"01:00:00;00"``), from the frames, rate and counting."""
        return frames_to_tc(self.start_tc_frames, self.timeline_rate, self.drop_frame)

    @property
    def audio_channels(self) -> int:
        return sum(a.channels for a in self.audio)

    def to_json(self) -> dict[str, Any]:
        """The probe as JSON: rates become ``"num/den"`` strings, the only place they are written."""
        d: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if key == "start_tc_frames":
                d["start_tc"] = self.start_tc  # the label, for readers of the JSON; never read back
            d[key] = format_rate(value) if key in _RATE_FIELDS and value is not None else value
        return d

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Probe:
        """The probe from :meth:`to_json` (a stored clip row, a task, a sidecar): rates parsed here, once."""
        d = dict(data)
        d["audio"] = [AudioStreamInfo(**a) for a in d.get("audio", [])]
        d.pop("start_tc", None)  # derived from start_tc_frames
        for key in _RATE_FIELDS:
            d[key] = parse_rate(d[key]) if d.get(key) else None
        return cls(**d)


#: Probe fields holding a frame rate (Fractions in memory, "num/den" in JSON).
_RATE_FIELDS = ("rate", "container_rate")

#: The frame grid of a clip with no rate of its own (audio without a timecode rate):
#: 25, the rate such clips have always been placed on, so their results keep their frames.
NO_RATE_TIMELINE = Fraction(25)


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


def _utf8_name(p: Path) -> bool:
    try:
        str(p).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def probe(
    path: str | os.PathLike[str],
    *,
    timecode_hints: Sequence[tuple[TimecodeSource | str, str]] = (),
    camera_sidecar: bool = True,
    audio_tc_rate: tuple[Fraction, str] | None = None,
    camera: CameraFacts | None = None,
) -> Probe:
    """Probe one file. Raises ProbeError (never anything else) when it is not usable media.

    ``timecode_hints`` are extra start-TC candidates with their source, e.g. the card
    parser's ``CardClip.timecode_hints()``; with ``camera_sidecar`` the probe also
    looks for the camera's own sidecar beside the file. ``audio_tc_rate`` (rate, source)
    labels a Broadcast WAV's bext start when no iXML rate says how
    (:func:`kinod.media.cards.tcrate.audio_tc_rate`). ``camera``: what the card parser
    already read from the camera's sidecar for this clip; given, the sidecar is not
    looked for or parsed again.
    """
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
        if _utf8_name(p):
            mi = MediaInfo.parse(str(p))
        else:  # libmediainfo cannot open a name that is not UTF-8; it reads a file object fine
            with open(p, "rb") as fh:
                mi = MediaInfo.parse(fh)
    except Exception as e:  # libmediainfo raises a variety of things on odd input
        raise ProbeError(f"{p}: MediaInfo could not parse the file: {e}") from None
    general = next((t.to_data() for t in mi.tracks if t.track_type == "General"), {})
    videos = [t.to_data() for t in mi.tracks if t.track_type == "Video"]
    audios = [t.to_data() for t in mi.tracks if t.track_type == "Audio"]
    others = [t.to_data() for t in mi.tracks if t.track_type == "Other"]

    av_info = _pyav_facts(p)
    if not videos and not audios and not av_info.get("streams"):
        from kinod.media.integrity import iso_bmff_problems

        box_problems = iso_bmff_problems(p)
        if box_problems:
            raise ProbeError(box_problems[-1])
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
    container_rate: Fraction | None = None
    if v:
        num, den = _int(v.get("framerate_num")), _int(v.get("framerate_den"))
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

    if camera is not None:
        side: Any = camera.as_card_clip()
    else:
        side = _camera_sidecar(p, warnings) if camera_sidecar else None
    bwf = _bwf_facts(p, warnings, audio_tc_rate) if not v and p.suffix.lower() in (".wav", ".bwf") else None
    if rate is None and bwf is not None and bwf.get("tc_rate"):
        # An audio-only take counts frames at its recorder's timecode rate, as NLEs do.
        rate = parse_rate(bwf["tc_rate"])

    duration_ms = _float(_first(v.get("duration"), general.get("duration")))
    duration_s = duration_ms / 1000 if duration_ms else float(av_info.get("duration_s") or 0.0)
    frames = int(av_info.get("video_frames") or 0)
    if not frames and v:
        frames = _int(v.get("frame_count")) or 0
    if not frames and rate and duration_s:
        frames = round(duration_s * rate)

    vfr = str(v.get("frame_rate_mode", "")).upper() == "VFR"

    # Start timecode: every candidate with its source; pick_start_timecode takes the best.
    candidates: list[tuple[TimecodeSource, str]] = [(TimecodeSource(src), label) for src, label in timecode_hints]
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
    # Without a rate the labels are read on the grid the clip's results will use.
    tc_rate = rate if rate is not None else NO_RATE_TIMELINE
    tc: StartTimecode = pick_start_timecode(candidates, tc_rate)
    _warn_disagreement(candidates, tc, tc_rate, warnings)
    reel = reel or av_info.get("reel") or general.get("reel_name") or v.get("title") or None
    if side is not None and side.reel:
        reel = side.reel
    if bwf is not None and bwf.get("tape") and not reel:
        reel = bwf["tape"]

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
        rate=rate,
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
        start_tc_frames=tc.frames,
        drop_frame=tc.drop_frame and bool(rate and supports_drop_frame(rate)),
        tc_source=tc.source.value,
        reel=str(reel) if reel else None,
        creation_date=_first(general.get("encoded_date"), general.get("recorded_date"), av_info.get("creation_time")),
        camera_make=_first(
            side.camera.make if side else None, general.get("make"), general.get("manufacturer"), av_info.get("make")
        ),
        camera_model=_first(
            side.camera.model if side else None,
            general.get("model"),
            general.get("camera_model_name"),
            av_info.get("model"),
        ),
        truncated=truncated,
        audio=audio_streams,
        warnings=warnings,
        camera_serial=_first(side.camera.serial if side else None, general.get("serialnumber")),
        clip_name=side.user_clip_name if side else None,
        timecode_candidates=[{"source": s.value, "label": label} for s, label in candidates],
        sidecar=side.sidecars[0] if side and side.sidecars else None,
        bwf=bwf,
    )


def _camera_sidecar(p: Path, warnings: list[str]) -> Any:
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


def _bwf_facts(p: Path, warnings: list[str], fallback: tuple[Fraction, str] | None = None) -> dict[str, Any] | None:
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


def _warn_disagreement(
    candidates: list[tuple[TimecodeSource, str]], chosen: StartTimecode, rate: Fraction, warnings: list[str]
) -> None:
    """Say so when the camera XML and the container disagree: one of them was re-stamped."""
    from kinod.media.timecode import tc_to_frames

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
            elif (
                s.type == "audio"
                and "audio_start_s" not in facts
                and s.start_time is not None
                and s.time_base is not None
            ):
                facts["audio_start_s"] = float(s.start_time * s.time_base)
    return facts
