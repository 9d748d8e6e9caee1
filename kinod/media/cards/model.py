"""What a card is once kinod has understood it: logical clips, not files.

A camera writes one recording as whatever its format wants: one MP4, a video
essence plus one MXF per audio channel (P2), 4 GB chapters (GoPro), spanned R3D
parts. Editors think in recordings, so a card becomes a list of :class:`CardClip`,
each naming every file that belongs to it, in order, with the metadata the camera
wrote beside it. Files kinod deliberately leaves alone (camera proxies, thumbnails,
card indexes) are kept as :class:`SkippedFile` with the reason, so the card report
accounts for every byte on the card.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from kinod.media.imageseq import ImageSequence
from kinod.media.timecode import TimecodeSource, parse_rate

FileRole = Literal["av", "video", "audio", "part"]


@dataclass
class Camera:
    make: str | None = None
    model: str | None = None
    serial: str | None = None

    def is_empty(self) -> bool:
        return not (self.make or self.model or self.serial)


@dataclass
class Mark:
    """A mark the camera or recorder put on the clip (P2 shot mark, text memo, Sony essence mark)."""

    name: str
    frame: int | None = None  # None: the mark is on the whole clip
    comment: str = ""


@dataclass
class TelemetrySample:
    """One telemetry record (a DJI SRT subtitle): a time span and its values.

    ``index`` is the record's own counter (DJI: the frame number, from 1). Frames
    on the clip's timeline come from :meth:`CardClip.telemetry_by_frame` once the
    clip's rate is known from the probe.
    """

    index: int
    start_s: float
    end_s: float
    values: dict[str, float | str]


@dataclass
class ClipFile:
    """One file of a clip. ``role``: ``av`` (picture and sound), ``video``/``audio`` essence, or a ``part``."""

    path: Path
    rel: str
    role: FileRole
    size: int
    #: Audio essences split per channel (P2, split-mono WAV): 1-based channel number.
    channel: int | None = None
    track_name: str | None = None


@dataclass
class CardClip:
    name: str
    family: str
    files: list[ClipFile] = field(default_factory=list)
    #: Start timecode as the camera wrote it in a sidecar (None: take the container's).
    start_tc: str | None = None
    tc_source: str | None = None
    #: Rate the camera declared (exact, "num/den"); the probe has the container's.
    rate: str | None = None
    drop_frame: bool | None = None
    duration_frames: int | None = None
    camera: Camera = field(default_factory=Camera)
    user_clip_name: str | None = None
    reel: str | None = None
    scene: str | None = None
    take: str | None = None
    tape: str | None = None
    note: str | None = None
    marks: list[Mark] = field(default_factory=list)
    telemetry: list[TelemetrySample] = field(default_factory=list)
    #: Sidecars this clip's metadata was read from (card-relative).
    sidecars: list[str] = field(default_factory=list)
    #: The camera's own low-resolution copies (.LRV, .LRF, Sony SUB, P2 PROXY), card-relative.
    camera_proxies: list[str] = field(default_factory=list)
    #: False for formats ffmpeg cannot decode (R3D, BRAW, ARRIRAW, CRM): recorded, not analysed.
    analysable: bool = True
    not_analysed_reason: str | None = None
    problems: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    sequence: ImageSequence | None = None  # a numbered image sequence; ``files`` holds its first frame

    @property
    def media_files(self) -> list[ClipFile]:
        return list(self.files)

    @property
    def primary(self) -> Path | None:
        """The file to probe and decode first: picture if there is any, else the first sound file."""
        for f in self.files:
            if f.role in ("av", "video", "part"):
                return f.path
        return self.files[0].path if self.files else None

    @property
    def audio_files(self) -> list[ClipFile]:
        """Separate audio essences (P2 channels, split-mono WAV) in channel order."""
        return [f for f in self.files if f.role == "audio"]

    @property
    def spanned(self) -> bool:
        """True when the recording is split over several picture files (chapters, spans)."""
        return sum(1 for f in self.files if f.role in ("av", "video", "part")) > 1

    @property
    def size(self) -> int:
        return self.sequence.size if self.sequence is not None else sum(f.size for f in self.files)

    def timecode_hints(self) -> list[tuple[TimecodeSource, str]]:
        """Candidates for :func:`kinod.media.timecode.pick_start_timecode` / ``probe(timecode_hints=)``."""
        if not self.start_tc:
            return []
        return [(TimecodeSource(self.tc_source or TimecodeSource.CAMERA_XML.value), self.start_tc)]

    def telemetry_by_frame(self, rate: Fraction) -> dict[int, dict[str, float | str]]:
        """Telemetry keyed by frame of the clip at ``rate``: each record on the frame nearest its start.

        Nearest, not floor: SRT times are rounded to the millisecond, so the record of
        frame 2 at 29.97 says 0.066 s, a hair before that frame's true start (0.0667 s).
        """
        out: dict[int, dict[str, float | str]] = {}
        for s in self.telemetry:
            out.setdefault(round(Fraction(s.start_s).limit_denominator(1_000_000) * rate), s.values)
        return out

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["files"] = [{**asdict(f), "path": str(f.path)} for f in self.files]
        d["sequence"] = self.sequence.to_json() if self.sequence is not None else None
        d["spanned"] = self.spanned
        d["size"] = self.size
        d["telemetry_samples"] = len(self.telemetry)
        if len(self.telemetry) > 0:
            first, last = self.telemetry[0], self.telemetry[-1]
            d["telemetry_summary"] = {"first": asdict(first), "last": asdict(last)}
        del d["telemetry"]
        return d


@dataclass
class SkippedFile:
    rel: str
    reason: str
    #: The clip this file belongs to (a proxy or thumbnail of it), if any.
    clip: str | None = None


@dataclass
class CardProblem:
    rel: str
    message: str


@dataclass
class Card:
    root: Path
    families: list[str] = field(default_factory=list)
    clips: list[CardClip] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    #: Files no parser recognised (not media, not a known sidecar), card-relative.
    unknown: list[str] = field(default_factory=list)
    problems: list[CardProblem] = field(default_factory=list)
    #: MHL manifests found (ascmhl folders and legacy .mhl files), card-relative.
    manifests: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.root.name

    def clip(self, name: str) -> CardClip:
        for c in self.clips:
            if c.name == name:
                return c
        raise KeyError(f"{self.root}: no clip named {name!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "name": self.name,
            "families": list(self.families),
            "clips": [c.to_json() for c in self.clips],
            "skipped": [asdict(s) for s in self.skipped],
            "unknown": list(self.unknown),
            "problems": [asdict(p) for p in self.problems],
            "manifests": list(self.manifests),
        }


@dataclass(frozen=True)
class CameraFacts:
    """What the card parser read from the camera's own files for one clip.

    Handed to the probe with the clip, so the camera XML is parsed once, by the card
    parser, and a worker on another machine gets the same facts from the task alone.
    """

    name: str
    family: str
    start_tc: str | None = None
    tc_source: str | None = None
    reel: str | None = None
    make: str | None = None
    model: str | None = None
    serial: str | None = None
    user_clip_name: str | None = None
    sidecar: str | None = None
    #: For a Broadcast WAV whose recorder wrote no timecode rate: the rate its card gave
    #: (``tc_rate_source`` "card-video"), or None with "cards.audio_tc_rate" (the configured
    #: rate, read when the clip is probed). Both None: not looked up with the card.
    tc_rate: str | None = None
    tc_rate_source: str | None = None

    @classmethod
    def of(cls, clip: CardClip) -> CameraFacts | None:
        """The facts of a clip whose camera wrote a sidecar; None when there is none to hand on."""
        if not clip.sidecars:
            return None
        sidecar = clip.sidecars[0]
        if clip.files and not Path(sidecar).is_absolute():
            sidecar = str(clip.files[0].path.parents[len(Path(clip.files[0].rel).parts) - 1] / sidecar)
        return cls(
            clip.name, clip.family, clip.start_tc, clip.tc_source, clip.reel, clip.camera.make, clip.camera.model,
            clip.camera.serial, clip.user_clip_name, sidecar,
        )  # fmt: skip

    def as_card_clip(self) -> CardClip:
        """The same facts in the shape the probe reads a camera sidecar in."""
        return CardClip(
            name=self.name, family=self.family, start_tc=self.start_tc, tc_source=self.tc_source, reel=self.reel,
            camera=Camera(self.make, self.model, self.serial), user_clip_name=self.user_clip_name,
            sidecars=[self.sidecar] if self.sidecar else [],
        )  # fmt: skip

    def bwf_tc_rate(self, default: Fraction) -> tuple[Fraction, str] | None:
        """The (rate, source) labelling a rate-less BWF start, as its card gave it; None: not looked up."""
        if self.tc_rate_source is None:
            return None
        return (parse_rate(self.tc_rate) if self.tc_rate else default), self.tc_rate_source

    def to_json(self) -> dict[str, str | None]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for k in ("tc_rate", "tc_rate_source"):  # written only when set: older records stay as they were
            if out[k] is None:
                del out[k]
        return out

    @classmethod
    def from_json(cls, data: dict[str, str | None] | None) -> CameraFacts | None:
        if not data:
            return None
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


@dataclass(frozen=True)
class ClipFiles:
    """One clip of a card as every path that plans, decodes or finishes it reads it: its files
    as the layout grouped them, what the camera said about it, and the card it is on.

    ``parts``: the picture files in recording order (one file, or a spanned recording's
    chapters, read as one input); ``audio``: separate audio essences in channel order
    (P2 OP-Atom), inputs of the same pass, merged into the clip's channels; ``camera``:
    start TC with its source, reel, camera and clip name from the camera's sidecar (None:
    the probe looks beside the file itself, as for a loose file); ``card``/``card_path``:
    the card's name and folder (None: not known, as for a file scanned on its own).

    The value is stored with the clip's row (``to_json``/``from_json``) so that planning
    again, resuming and retrying read the clip the card parser found, never its first
    file alone: the fingerprint covers every file.
    """

    first: Path
    parts: tuple[Path, ...]
    audio: tuple[Path, ...] = ()
    camera: CameraFacts | None = None
    card: str | None = None
    card_path: str | None = None
    #: A numbered image sequence (``first`` is its first frame), decoded by ffmpeg's image2 demuxer.
    sequence: ImageSequence | None = None

    @property
    def files(self) -> tuple[Path, ...]:
        return (*self.parts, *self.audio)

    @property
    def single(self) -> bool:
        """One file, read alone (no chapters, no audio essences)."""
        return len(self.parts) == 1 and not self.audio

    @property
    def plain(self) -> bool:
        """Nothing to hand on beyond the one file's path (no camera facts either)."""
        return self.single and self.camera is None and self.sequence is None

    def on_card(self, name: str | None, path: str | Path | None) -> ClipFiles:
        """The same clip, placed on the card it was found on."""
        return replace(self, card=name, card_path=str(path) if path is not None else None)

    def with_paths(self, swap: Callable[[str], str]) -> ClipFiles:
        """The same clip with every path passed through ``swap`` (absolute paths, another mount)."""
        parts = tuple(Path(swap(str(p))) for p in self.parts)
        camera = self.camera
        if camera is not None and camera.sidecar:
            camera = replace(camera, sidecar=swap(camera.sidecar))
        return replace(
            self, first=parts[0], parts=parts, audio=tuple(Path(swap(str(p))) for p in self.audio), camera=camera,
            card_path=swap(self.card_path) if self.card_path else None,
            sequence=self.sequence.with_paths(swap) if self.sequence is not None else None,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"parts": [str(p) for p in self.parts], "audio": [str(p) for p in self.audio]}
        if self.camera is not None:
            out["camera"] = self.camera.to_json()
        if self.card is not None:
            out["card"] = self.card
        if self.card_path is not None:
            out["card_path"] = self.card_path
        if self.sequence is not None:
            out["sequence"] = self.sequence.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClipFiles:
        parts = tuple(Path(p) for p in data.get("parts", []))
        audio = tuple(Path(p) for p in data.get("audio", []))
        camera = CameraFacts.from_json(data.get("camera"))
        seq = ImageSequence.from_json(data["sequence"]) if data.get("sequence") else None
        return cls(parts[0], parts, audio, camera, data.get("card"), data.get("card_path"), seq)

    @classmethod
    def alone(cls, path: Path) -> ClipFiles:
        return cls(path, (path,))


def analysable_clips(card: Card, present: set[Path]) -> tuple[list[ClipFiles], list[SkippedFile]]:
    """The clips of a card the decode pass can read, with the files each is made of.

    Only files in ``present`` (settled, accepted by the watch filters) count. A spanned
    recording is one clip when every chapter is present; a P2 clip takes its audio
    essences along. What is left out is returned with the reason (a clip that cannot
    be decoded, a chapter missing, audio essences of a spanned P2 shot).
    """
    out: list[ClipFiles] = []
    left: list[SkippedFile] = []
    for clip in card.clips:
        if clip.sequence is not None:
            if clip.files[0].path in present:  # the first frame settled with its card
                out.append(ClipFiles(clip.files[0].path, (clip.files[0].path,), sequence=clip.sequence))
            continue
        if not clip.analysable and clip.not_analysed_reason == "empty file":
            # Still handed on, so it gets an error sidecar naming the problem, like a loose one.
            out += [ClipFiles.alone(f.path) for f in clip.files if f.path in present]
            continue
        if not clip.analysable:
            left += [SkippedFile(f.rel, clip.not_analysed_reason or "not decodable", clip.name) for f in clip.files]
            continue
        pictures = [f.path for f in clip.files if f.role in ("av", "video", "part")]
        if not pictures:  # a sound take: its first file (a split-mono take's others on their own)
            files = [f.path for f in clip.files if f.path in present]
            out += [ClipFiles.alone(p) for p in files]
            continue
        here = [p for p in pictures if p in present]
        if len(here) != len(pictures):
            missing = [f.rel for f in clip.files if f.path in pictures and f.path not in present]
            left += [SkippedFile(m, "chapter not present (yet); the others are analysed on their own", clip.name)
                     for m in missing]
            out += [ClipFiles.alone(p) for p in here]
            continue
        audio = [f.path for f in sorted(clip.audio_files, key=lambda f: f.channel or 0) if f.path in present]
        if audio and len(here) > 1:
            left += [SkippedFile(f.rel, "audio essence of a spanned shot: not analysed", clip.name)
                     for f in clip.audio_files]
            audio = []
        out.append(ClipFiles(here[0], tuple(here), tuple(audio), CameraFacts.of(clip)))
    return out, left
