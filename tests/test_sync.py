"""Dual-system sound and multicam sync on generated media whose truth is known by construction.

The recorder take is clean speech; a camera clip is a stretch of the same take heard
through a band-limited, reverberant camera microphone with room noise (tests/sync_media.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sync_media import FF, camera_clip, speech, write_bwf

from kinod.config import SyncConfig
from kinod.export.sync_model import SyncedClip
from kinod.sync.session import SyncRun, sync_files, sync_folders

SR = 48000
#: The recorder rolled this long before the camera (samples at 48 kHz).
EARLY = int(2.35 * SR)
ONE_MS = SR // 1000


@pytest.fixture(scope="module")
def take() -> np.ndarray:
    return speech(seed=1, seconds=32.0, rate=SR)


def _clip(run: SyncRun, name: str) -> SyncedClip:
    return next(c for c in run.clips if c.picture.name == name)


def test_timecode_pairs_exact_to_the_sample_and_measures_drift(take: np.ndarray, tmp_path: Path) -> None:
    # Camera at 01:00:00:00 (25 fps = 3600 s); the recorder's bext says 2.35 s earlier.
    write_bwf(tmp_path / "T001.WAV", [take, take * 0.5], SR, time_reference=3600 * SR - EARLY, tracks=["Boom", "Lav"])
    camera_clip(tmp_path / "A001.mov", take, SR, start_sample=EARLY, seconds=24, tc="01:00:00:00")
    run = sync_folders([tmp_path], tmp_path / "out", FF)
    m = _clip(run, "A001").synced[0]
    assert (m.method, m.status, m.offset_samples) == ("timecode", "synced", -EARLY)
    assert m.offset_frames(_clip(run, "A001").picture.rate) == pytest.approx(-58.75)
    assert m.drift_ppm is not None and abs(m.drift_ppm) < 20
    assert m.sound.track_names == ["Boom", "Lav"]


def test_without_timecode_the_waveform_places_it_within_a_millisecond(take: np.ndarray, tmp_path: Path) -> None:
    write_bwf(tmp_path / "T001.WAV", [take], SR, time_reference=0)
    camera_clip(tmp_path / "A001.mov", take, SR, start_sample=EARLY, seconds=14, tc="00:00:00:00")
    run = sync_files([tmp_path / "A001.mov"], [tmp_path / "T001.WAV"], FF)
    m = _clip(run, "A001").synced[0]
    assert (m.method, m.status) == ("waveform", "synced")
    assert abs(m.offset_samples + EARLY) <= ONE_MS
    assert run.stats.coarse_pairs == 1


def test_a_different_take_of_similar_speech_is_never_synced(take: np.ndarray, tmp_path: Path) -> None:
    other = speech(seed=7, seconds=32.0, rate=SR)  # the same sentences, another order and pacing
    write_bwf(tmp_path / "T002.WAV", [other], SR)
    camera_clip(tmp_path / "A001.mov", take, SR, start_sample=EARLY, seconds=14, tc=None)
    alone = sync_files([tmp_path / "A001.mov"], [tmp_path / "T002.WAV"], FF)
    assert _clip(alone, "A001").synced == []
    assert _clip(alone, "A001").unsynced_reason
    # With the right take beside it, the right one wins.
    write_bwf(tmp_path / "T001.WAV", [take], SR)
    both = sync_files([tmp_path / "A001.mov"], [tmp_path / "T001.WAV", tmp_path / "T002.WAV"], FF)
    (m,) = _clip(both, "A001").synced
    assert m.sound.name == "T001" and abs(m.offset_samples + EARLY) <= ONE_MS


def test_two_cameras_and_a_recorder_become_one_multicam_group(take: np.ndarray, tmp_path: Path) -> None:
    late = int(5.1 * SR)
    (tmp_path / "CamA").mkdir()
    (tmp_path / "CamB").mkdir()
    (tmp_path / "Sound").mkdir()
    write_bwf(tmp_path / "Sound" / "T001.WAV", [take], SR)
    camera_clip(tmp_path / "CamA" / "A001.mov", take, SR, start_sample=EARLY, seconds=14, tc=None, noise_seed=2)
    camera_clip(tmp_path / "CamB" / "B001.mov", take, SR, start_sample=late, seconds=14, tc=None, noise_seed=3)
    run = sync_folders([tmp_path], tmp_path / "out", FF)
    (group,) = run.groups
    at = {a.picture.name: a.at_s for a in group.angles}
    assert set(at) == {"A001", "B001"}
    assert abs(float(at["B001"] - at["A001"]) - (late - EARLY) / SR) <= 0.001
    (_sound, sound_at) = group.sounds[0]
    assert abs(float(at["A001"] - sound_at) - EARLY / SR) <= 0.001
    assert abs(_clip(run, "B001").synced[0].offset_samples + late) <= ONE_MS


def test_the_slate_picks_the_right_take_among_five(take: np.ndarray, tmp_path: Path) -> None:
    sound_dir, out = tmp_path / "Sound", tmp_path / "out"
    sound_dir.mkdir()
    out.mkdir()
    for n in range(1, 6):
        pcm = take if n == 4 else speech(seed=20 + n, seconds=32.0, rate=SR)
        write_bwf(sound_dir / f"12_{n:02d}.WAV", [pcm], SR, scene="12", take=str(n), tape="D01")
    camera_clip(tmp_path / "A001.mov", take, SR, start_sample=EARLY, seconds=14, tc=None)
    sidecar = out / "A001.kino.json"
    slate = {"roll": "A001", "scene": "12", "take": "4"}
    sidecar.write_text(json.dumps({"schema": "kinod.clip", "analyses": {"ocr": {"summary": {"slate": slate}}}}))
    run = sync_folders([tmp_path / "A001.mov", sound_dir], out, FF, sidecar_for=lambda p: out / f"{p.stem}.kino.json")
    (m,) = _clip(run, "A001").synced
    assert (m.method, m.sound.take, m.sound.scene) == ("slate", "4", "12")
    assert abs(m.offset_samples + EARLY) <= ONE_MS
    block = json.loads(sidecar.read_text())["sync"]
    assert block["sounds"][0]["method"] == "slate" and block["sounds"][0]["offset_samples"] == m.offset_samples


def test_uncertain_threshold_is_configurable(take: np.ndarray, tmp_path: Path) -> None:
    write_bwf(tmp_path / "T001.WAV", [take], SR)
    camera_clip(tmp_path / "A001.mov", take, SR, start_sample=EARLY, seconds=14, tc=None)
    strict = SyncConfig(min_confidence=0.99)
    run = sync_files([tmp_path / "A001.mov"], [tmp_path / "T001.WAV"], FF, strict)
    clip = _clip(run, "A001")
    assert clip.synced == [] and clip.matches[0].status == "uncertain"
    assert clip.unsynced_reason and clip.unsynced_reason.startswith("uncertain")


def test_the_sidecar_sync_block_meets_the_published_schema(take: np.ndarray, tmp_path: Path) -> None:
    import jsonschema

    from kinod.export.sidecar import SCHEMA_VERSION, json_schema
    from kinod.export.sync_model import sync_block

    write_bwf(tmp_path / "T001.WAV", [take], SR, scene="3", take="1", tracks=["Boom"])
    camera_clip(tmp_path / "A001.mov", take, SR, start_sample=EARLY, seconds=14, tc=None)
    run = sync_files([tmp_path / "A001.mov"], [tmp_path / "T001.WAV"], FF)
    block = json.loads(json.dumps(sync_block(run.clips[0], run.groups)))
    jsonschema.validate(block, json_schema()["properties"]["sync"])
    assert SCHEMA_VERSION == "1.1" and block["sounds"][0]["track_names"] == ["Boom"]
