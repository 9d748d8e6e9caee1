"""Synced clips and multicam groups as OTIO timelines, and as FCP7 XML for Premiere.

One timeline per synced clip: the picture on V1, the camera's scratch sound on a
disabled track, and the recorder take on one audio track per iXML track name, placed so
its samples line up with the picture. One timeline per multicam group: an angle per
video track, each after a gap of its start, and the recorder take(s) below: what
Premiere calls a multicam source sequence.

Audio times stay in recorder samples in the ``.otio`` (exact). FCP7 XML counts in
frames, so its copy is written through the OTIO ``fcp_xml`` adapter from a timeline
rescaled to the picture rate (the sound lands on the nearest frame, as Premiere's own
merged clips do).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from kinod.export.sync_model import MulticamGroup, PictureClip, SoundFile, SyncedClip
from kinod.media.fsutil import atomic_write_text

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


def _picture_clip(p: PictureClip) -> otio.schema.Clip:
    rate = float(p.rate)
    available = TR(RT(p.start_frames, rate), RT(p.frames, rate))
    ref = otio.schema.ExternalReference(target_url=Path(p.path).as_uri(), available_range=available)
    return otio.schema.Clip(name=p.name, media_reference=ref, source_range=available)


def _sound_items(s: SoundFile, at: Fraction, length: Fraction) -> list[otio.core.Composable]:
    """A gap then ``s`` so that its first sample is at track time ``at``, cut at ``length``."""
    sr = s.sample_rate
    start = s.time_reference if s.start_s is not None else 0
    available = TR(RT(start, sr), RT(s.samples, sr))
    skip = max(Fraction(0), -at)
    take = min(s.duration_s - skip, length - max(at, Fraction(0)))
    items: list[otio.core.Composable] = []
    if take <= 0:
        return items
    if at > 0:
        items.append(otio.schema.Gap(source_range=TR(RT(0, sr), RT(round(at * sr), sr))))
    ref = otio.schema.ExternalReference(target_url=Path(s.path).as_uri(), available_range=available)
    source = TR(RT(start + round(skip * sr), sr), RT(round(take * sr), sr))
    items.append(otio.schema.Clip(name=s.name, media_reference=ref, source_range=source))
    return items


def _sound_tracks(s: SoundFile, at: Fraction, length: Fraction) -> list[otio.schema.Track]:
    names = s.track_names or [s.name]
    tracks = []
    for ch, name in enumerate(names, start=1):
        track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio)
        track.metadata["kinod"] = {"sound": s.path, "channel": ch}
        track.extend(_sound_items(s, at, length))
        tracks.append(track)
    return tracks


def synced_timeline(clip: SyncedClip) -> otio.schema.Timeline:
    p = clip.picture
    tl = otio.schema.Timeline(name=f"{p.name} synced", global_start_time=RT(p.start_frames, float(p.rate)))
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    video.append(_picture_clip(p))
    tl.tracks.append(video)
    if p.audio_channels:
        scratch = otio.schema.Track(name="scratch", kind=otio.schema.TrackKind.Audio)
        scratch.append(_picture_clip(p))
        scratch.enabled = False
        tl.tracks.append(scratch)
    for m in clip.synced:
        for track in _sound_tracks(m.sound, m.offset_s, p.duration_s):
            track.metadata["kinod"].update(method=m.method, offset_samples=m.offset_samples)
            tl.tracks.append(track)
    return tl


def multicam_timeline(group: MulticamGroup) -> otio.schema.Timeline:
    rate = float(group.rate)
    tl = otio.schema.Timeline(name=group.name, global_start_time=RT(0, rate))
    for i, angle in enumerate(group.angles, start=1):
        track = otio.schema.Track(name=f"V{i} {angle.picture.name}", kind=otio.schema.TrackKind.Video)
        track.metadata["kinod"] = {"at_s": str(angle.at_s), "method": angle.method}
        if angle.at_s > 0:
            track.append(otio.schema.Gap(source_range=TR(RT(0, rate), RT(round(angle.at_s * group.rate), rate))))
        track.append(_picture_clip(angle.picture))
        tl.tracks.append(track)
    for sound, at in group.sounds:
        tl.tracks.extend(_sound_tracks(sound, at, group.duration_s))
    return tl


def _on_frames(tl: otio.schema.Timeline, rate: float) -> otio.schema.Timeline:
    """A copy whose every range counts whole frames at ``rate`` (what FCP7 XML can hold)."""
    copy = tl.deepcopy()
    for item in copy.find_children():
        if isinstance(item, (otio.schema.Clip, otio.schema.Gap)) and item.source_range is not None:
            sr = item.source_range
            item.source_range = TR(sr.start_time.rescaled_to(rate).round(), sr.duration.rescaled_to(rate).round())
        if isinstance(item, otio.schema.Clip) and isinstance(item.media_reference, otio.schema.ExternalReference):
            ar = item.media_reference.available_range
            if ar is not None:
                item.media_reference.available_range = TR(
                    ar.start_time.rescaled_to(rate).round(), ar.duration.rescaled_to(rate).round()
                )
    return copy


def write_otio(tl: otio.schema.Timeline, dest: Path) -> Path:
    atomic_write_text(dest, otio.adapters.write_to_string(tl, "otio_json"))
    return dest


def write_fcp7(timelines: list[otio.schema.Timeline], rate: Fraction, dest: Path) -> Path:
    """All timelines as sequences of one FCP7 XML (Premiere: File > Import)."""
    framed = [_on_frames(t, float(rate)) for t in timelines]
    collection = otio.schema.SerializableCollection(name="kinod sync", children=framed)
    atomic_write_text(dest, otio.adapters.write_to_string(collection, "fcp_xml"))
    return dest
