"""Which files are picture and which are sound, and what each says about time and slate.

A picture clip's time is its start timecode (probe) and its rate; its slate is the OCR
reading in its sidecar when there is one, else whatever scene/take its name spells. A
recorder take's time is its bext time reference and its slate the iXML SCENE/TAKE/TAPE.
Anything unreadable becomes a problem on the value, never an exception: one bad WAV
must not stop a card's sync.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from kinod.export.sync_model import PictureClip, SoundFile
from kinod.media.cards.bwf import BwfError, read_bwf
from kinod.media.probe import ProbeError, probe
from kinod.media.timecode import TimecodeSource

PICTURE_SUFFIXES = {".mov", ".mp4", ".mxf", ".mts", ".m2ts", ".avi", ".mkv", ".m4v", ".mpg"}
SOUND_SUFFIXES = {".wav", ".bwf"}
#: A bext time reference beyond two days is not a time of day but a broken chunk.
_MAX_TIME_REFERENCE_S = 2 * 86400
#: Scene and take in a clip name: ``S12_T3``, ``SC12-TK3``, ``12A_T04``, ``Scene 4 Take 2``.
_NAME_SLATE = re.compile(
    r"(?:^|[^A-Za-z0-9])(?:S|SC|SCENE)[ _-]?(?P<scene>\d+[A-Z]?)[ _-]*(?:T|TK|TAKE)[ _-]?(?P<take>\d+)",
    re.IGNORECASE,
)

SidecarLookup = Callable[[Path], Path | None]


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """(picture files, sound files) under ``paths``, sorted; hidden files and folders skipped."""
    pictures: set[Path] = set()
    sounds: set[Path] = set()
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for f in files:
            if any(part.startswith(".") for part in f.parts[len(root.parts) - 1 :]):
                continue
            suffix = f.suffix.lower()
            if suffix in PICTURE_SUFFIXES:
                pictures.add(f)
            elif suffix in SOUND_SUFFIXES:
                sounds.add(f)
    return sorted(pictures), sorted(sounds)


def read_sound(path: Path) -> SoundFile:
    """A recorder take's facts; a corrupt chunk leaves a problem and that fact unset."""
    try:
        info = read_bwf(path)
    except BwfError as e:
        return SoundFile(str(path), path.stem, 0, 0, 0, problems=[str(e)])
    frame_bytes = info.channels * max(1, info.bits // 8)
    samples = info.data_bytes // frame_bytes if frame_bytes else 0
    sound = SoundFile(
        path=str(path),
        name=path.stem,
        sample_rate=info.sample_rate,
        channels=info.channels,
        samples=samples,
        time_reference=info.time_reference,
        tc_rate=info.tc_rate,
        tc_drop_frame=info.tc_drop_frame,
        scene=info.scene,
        take=info.take,
        tape=info.tape,
        track_names=[t.name for t in sorted(info.tracks, key=lambda t: t.channel) if t.name],
        problems=list(info.problems),
    )
    if not info.has_bext:
        sound.problems.append(f"{path}: no bext chunk: no timecode")
    if info.sample_rate and info.time_reference and info.time_reference / info.sample_rate > _MAX_TIME_REFERENCE_S:
        sound.problems.append(f"{path}: bext time reference {info.time_reference} is not a time of day; ignored")
        sound.time_reference = None
    if samples == 0:
        sound.problems.append(f"{path}: no audio samples (empty recording)")
    if info.sample_rate and info.sample_rate not in (44100, 48000, 96000, 192000, 88200):
        sound.problems.append(f"{path}: sample rate {info.sample_rate} Hz (pull-up/down?); offsets are in its samples")
    return sound


def read_picture(path: Path, sidecar_for: SidecarLookup | None = None) -> PictureClip | None:
    """A camera clip's facts, or None when it is not picture at all."""
    try:
        pr = probe(path)
    except ProbeError:
        return None
    if not pr.has_video:
        return None
    clip = PictureClip(
        path=str(path),
        name=path.stem,
        rate=pr.timeline_rate,
        frames=pr.frames,
        start_frames=pr.start_tc_frames,
        drop_frame=pr.drop_frame,
        has_timecode=pr.tc_source != TimecodeSource.DEFAULT.value,
        audio_rate=pr.audio[0].sample_rate if pr.audio else None,
        audio_channels=pr.audio_channels,
        camera=_camera_of(path, pr.camera_serial, pr.camera_make, pr.camera_model),
        problems=list(pr.warnings),
    )
    if not pr.audio:
        clip.problems.append(f"{path}: no audio track: only timecode or slate can pair it")
    _slate(clip, path, sidecar_for)
    return clip


def _camera_of(path: Path, serial: str | None, make: str | None, model: str | None) -> str:
    """Which camera shot a clip: its serial or model, else its card folder (one card, one camera)."""
    named = " ".join(p for p in (make, model, serial) if p)
    return named or path.parent.name


def _slate(clip: PictureClip, path: Path, sidecar_for: SidecarLookup | None) -> None:
    """Scene/take from the OCR'd slate in the sidecar, else from the clip's name."""
    sidecar = sidecar_for(path) if sidecar_for else None
    if sidecar is not None and sidecar.is_file():
        try:
            data = json.loads(sidecar.read_text(encoding="utf-8"))
            slate = data["analyses"]["ocr"]["summary"]["slate"]
        except (OSError, ValueError, KeyError, TypeError):
            slate = None
        if isinstance(slate, dict) and slate.get("scene") and slate.get("take"):
            clip.scene, clip.take, clip.slate_source = str(slate["scene"]), str(slate["take"]), "ocr"
            return
    if m := _NAME_SLATE.search(path.stem):
        clip.scene, clip.take, clip.slate_source = m.group("scene"), m.group("take"), "name"


def same_slate(a_scene: str | None, a_take: str | None, b_scene: str | None, b_take: str | None) -> bool:
    """Scene and take equal as a slate reads them (``12A`` = ``12a``, take ``03`` = ``3``)."""
    if not (a_scene and a_take and b_scene and b_take):
        return False
    norm_scene = lambda s: re.sub(r"[^0-9A-Z]", "", s.upper()).lstrip("0")  # noqa: E731
    norm_take = lambda t: re.sub(r"\D", "", t).lstrip("0") or "0"  # noqa: E731
    return norm_scene(a_scene) == norm_scene(b_scene) and norm_take(a_take) == norm_take(b_take)
