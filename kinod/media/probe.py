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

Where things are: the readers of each source in :mod:`kinod.media.probe_sources`,
the rules that turn their words into the probe's fields in
:mod:`kinod.media.probe_fields`; this module holds :class:`Probe` and the order in
which :func:`probe` asks.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kinod.media.probe_fields import (
    camera_fields,
    choose_reel,
    duration_and_frames,
    first_value,
    frame_rates,
    picture_fields,
    timecode_candidates,
    to_float,
    to_int,
    warn_disagreement,
)
from kinod.media.probe_sources import (
    MediaInfoTracks,
    ProbeError,
    bwf_facts,
    mediainfo_tracks,
    pyav_facts,
    read_camera_sidecar,
)
from kinod.media.timecode import (
    StartTimecode,
    TimecodeSource,
    format_rate,
    frames_to_tc,
    parse_rate,
    pick_start_timecode,
    supports_drop_frame,
)

if TYPE_CHECKING:
    from kinod.media.cards.model import CameraFacts

__all__ = ["NO_RATE_TIMELINE", "AudioStreamInfo", "Probe", "ProbeError", "probe"]


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
    #: An image sequence's block (:func:`kinod.media.imageseq_probe.probe_sequence`): pattern,
    #: first/last, count, gaps, header facts; the decode pass reads its frames from it.
    sequence: dict[str, Any] | None = None

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
    size = _readable_size(p)
    tracks = mediainfo_tracks(p)
    av_info = pyav_facts(p)
    if not tracks.videos and not tracks.audios and not av_info.get("streams"):
        _refuse_non_media(p, tracks)

    general = tracks.general
    v = tracks.videos[0] if tracks.videos else {}
    truncated, warnings = _read_problems(p, tracks, av_info)

    rate, container_rate = frame_rates(v, av_info)
    if camera is not None:
        side: Any = camera.as_card_clip()
    else:
        side = read_camera_sidecar(p, warnings) if camera_sidecar else None
    bwf = bwf_facts(p, warnings, audio_tc_rate) if not v and p.suffix.lower() in (".wav", ".bwf") else None
    if rate is None and bwf is not None and bwf.get("tc_rate"):
        # An audio-only take counts frames at its recorder's timecode rate, as NLEs do.
        rate = parse_rate(bwf["tc_rate"])
    duration_s, frames = duration_and_frames(v, general, av_info, rate)

    # Start timecode: every candidate with its source; pick_start_timecode takes the best.
    candidates, track_reel = timecode_candidates(timecode_hints, side, bwf, tracks.others, v, av_info)
    # Without a rate the labels are read on the grid the clip's results will use.
    tc_rate = rate if rate is not None else NO_RATE_TIMELINE
    tc: StartTimecode = pick_start_timecode(candidates, tc_rate)
    warn_disagreement(candidates, tc, tc_rate, warnings)
    reel = choose_reel(track_reel, side, bwf, general, v, av_info)

    return Probe(
        path=str(p.resolve()),
        size=size,
        container=str(first_value(general.get("format"), av_info.get("format"), "unknown")),
        duration_s=round(duration_s, 6),
        has_video=bool(v),
        rate=rate,
        container_rate=container_rate,
        frames=frames,
        start_tc_frames=tc.frames,
        drop_frame=tc.drop_frame and bool(rate and supports_drop_frame(rate)),
        tc_source=tc.source.value,
        reel=str(reel) if reel else None,
        truncated=truncated,
        audio=_audio_streams(tracks.audios),
        warnings=warnings,
        timecode_candidates=[{"source": s.value, "label": label} for s, label in candidates],
        bwf=bwf,
        **picture_fields(v, av_info),
        **camera_fields(general, av_info, side),
    )


def _readable_size(p: Path) -> int:
    """The size of a file we may read; ProbeError naming why not (missing, not a file, empty, denied)."""
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
    return st.st_size


def _read_problems(p: Path, tracks: MediaInfoTracks, av_info: dict[str, Any]) -> tuple[bool, list[str]]:
    """Whether MediaInfo calls the file truncated, and the first warnings (ProbeError if nothing is readable)."""
    warnings: list[str] = []
    truncated = str(tracks.general.get("istruncated", "")).lower() in ("yes", "true", "1")
    if truncated:
        warnings.append("MediaInfo reports the file is truncated")
    if av_info.get("error"):
        if not tracks.videos and not tracks.audios:
            raise ProbeError(f"{p}: {av_info['error']}")
        warnings.append(av_info["error"])
    return truncated, warnings


def _refuse_non_media(p: Path, tracks: MediaInfoTracks) -> None:
    """Raise ProbeError for a file with no streams: a broken MP4/MOV box if that is why, else "not media"."""
    from kinod.media.integrity import iso_bmff_problems

    box_problems = iso_bmff_problems(p)
    if box_problems:
        raise ProbeError(box_problems[-1])
    fmt = tracks.general.get("format") or "unknown format"
    raise ProbeError(f"{p}: not a media file (no audio or video streams; MediaInfo says {fmt})")


def _audio_streams(audios: list[dict[str, Any]]) -> list[AudioStreamInfo]:
    """One entry per MediaInfo audio track, in file order."""
    audio_streams: list[AudioStreamInfo] = []
    for i, a in enumerate(audios):
        audio_streams.append(
            AudioStreamInfo(
                index=i,
                codec=str(a.get("format", "")),
                channels=to_int(first_value(a.get("channel_s"), a.get("channels"))) or 0,
                sample_rate=to_int(a.get("sampling_rate")) or 0,
                bit_depth=to_int(a.get("bit_depth")),
                channel_layout=str(a.get("channel_layout") or ""),
                duration_s=(to_float(a.get("duration")) or 0) / 1000 or None,
                title=str(a.get("title") or ""),
            )
        )
    return audio_streams
