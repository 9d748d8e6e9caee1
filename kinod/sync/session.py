"""One sync over a scope (folders of cards): read, pair, group, deliver.

``kinod sync`` and the daemon's card hook both call :func:`sync_folders`, so a day synced
by hand and a day synced as its cards landed give the same files. Nothing a single file
does stops the rest: unreadable sound, a camera clip without audio, a corrupt chunk all
end as a reason in the sync table.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kinod.config import SyncConfig
from kinod.export.sidecar import SCHEMA_VERSION
from kinod.export.sync_model import MulticamGroup, SoundFile, SyncedClip, sync_block
from kinod.export.sync_report import sync_table, write_sync_table
from kinod.export.writers.sync_fcpxml import write_sync_fcpxml
from kinod.export.writers.sync_otio import multicam_timeline, synced_timeline, write_fcp7, write_otio
from kinod.media.fsutil import atomic_write_json, fit_name
from kinod.sync.align import Aligner
from kinod.sync.audio import EnvelopeCache
from kinod.sync.multicam import group_cameras
from kinod.sync.pairing import Pairer, PairingStats, Thresholds
from kinod.sync.sources import SidecarLookup, discover, read_picture, read_sound


@dataclass
class SyncRun:
    clips: list[SyncedClip]
    groups: list[MulticamGroup]
    sounds: list[SoundFile]
    stats: PairingStats
    envelope_decodes: int = 0
    fine_decodes: int = 0
    cpu_s: float = 0.0
    written: list[Path] = field(default_factory=list)


Progress = Callable[[str, int, int], None]
DEFAULTS = SyncConfig()


def sync_files(
    pictures: list[Path],
    sounds: list[Path],
    ffmpeg: str,
    cfg: SyncConfig = DEFAULTS,
    *,
    sidecar_for: SidecarLookup | None = None,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> SyncRun:
    """Pair and group the given files (no output written)."""
    cpu0 = time.process_time()
    total = len(pictures) + len(sounds) + len(pictures)
    done = 0

    def step(name: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(name, done, total)

    snd = []
    for p in sounds:
        snd.append(read_sound(p))
        step(p.name)
    pics = []
    for p in pictures:
        clip = read_picture(p, sidecar_for)
        if clip is not None:
            pics.append(clip)
        step(p.name)
    envelopes = EnvelopeCache(ffmpeg, cache_dir)
    # The files the waveform comparison reads: clips without timecode, and every usable take.
    untimed = [Path(c.path) for c in pics if not c.has_timecode and c.audio_channels]
    if untimed:
        takes = [Path(s.path) for s in snd if s.samples and s.sample_rate]
        envelopes.prefetch([*untimed, *takes], workers=min(4, os.cpu_count() or 1))
    aligner = Aligner(ffmpeg, envelopes)
    pairer = Pairer(aligner, Thresholds(cfg.min_confidence, cfg.min_peak), cfg.measure_drift)
    clips = pairer.pair(pics, snd, lambda name: step(name))
    groups = group_cameras(clips, aligner, cfg.min_confidence) if cfg.multicam else []
    cpu = time.process_time() - cpu0
    return SyncRun(clips, groups, snd, pairer.stats, envelopes.decodes, aligner.fine_decodes, cpu)


def sync_folders(
    paths: list[Path],
    out_dir: Path,
    ffmpeg: str,
    cfg: SyncConfig = DEFAULTS,
    *,
    sidecar_for: SidecarLookup | None = None,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> SyncRun:
    """Sync everything under ``paths`` and deliver into ``out_dir``."""
    pictures, sounds = discover(paths)
    run = sync_files(pictures, sounds, ffmpeg, cfg, sidecar_for=sidecar_for, cache_dir=cache_dir, progress=progress)
    run.written = deliver(run, out_dir, sidecar_for)
    return run


def deliver(run: SyncRun, out_dir: Path, sidecar_for: SidecarLookup | None = None) -> list[Path]:
    """FCPXML, FCP7 XML, OTIO per synced clip and per group, the sync table, the sidecar blocks."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = write_sync_table(sync_table(run.clips, run.groups, run.sounds), out_dir)
    synced = [c for c in run.clips if c.synced]
    if not synced and not run.groups:
        return written + _sidecar_blocks(run, sidecar_for)
    written.append(write_sync_fcpxml(run.clips, run.groups, out_dir / "sync.fcpxml", out_dir.name or "kinod sync"))
    timelines = []
    for c in synced:
        tl = synced_timeline(c)
        timelines.append(tl)
        written.append(write_otio(tl, out_dir / f"{fit_name(c.picture.name, out_dir)}.sync.otio"))
    for g in run.groups:
        tl = multicam_timeline(g)
        timelines.append(tl)
        written.append(write_otio(tl, out_dir / f"{fit_name(g.name, out_dir)}.multicam.otio"))
    rate = (synced[0].picture if synced else run.groups[0].angles[0].picture).rate
    written.append(write_fcp7(timelines, rate, out_dir / "sync.fcp7.xml"))
    return written + _sidecar_blocks(run, sidecar_for)


def _sidecar_blocks(run: SyncRun, sidecar_for: SidecarLookup | None) -> list[Path]:
    """Each picture clip's ``sync`` block, in its sidecar when it has one (schema 1.1)."""
    written = []
    for c in run.clips:
        path = sidecar_for(Path(c.picture.path)) if sidecar_for else None
        if path is None or not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        data["sync"] = sync_block(c, run.groups)
        data["schema_version"] = SCHEMA_VERSION
        atomic_write_json(path, data)
        written.append(path)
    return written
