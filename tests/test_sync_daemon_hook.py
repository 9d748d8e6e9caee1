"""The card hook syncs a day when its cards land: the sound card arriving after the camera card."""

from __future__ import annotations

from pathlib import Path

from sync_media import camera_clip, speech, write_bwf

from kinod.config import load_config
from kinod.run.card_sync import sync_after_card


def test_a_late_sound_card_syncs_the_day(workspace: dict[str, Path]) -> None:
    day = workspace["root"] / "DAY01"
    (day / "A001").mkdir(parents=True)
    take = speech(seed=1, seconds=24.0)
    camera_clip(day / "A001" / "A001C001.mov", take, start_sample=int(2.35 * 48000), seconds=12, tc=None)
    config = load_config(workspace["config"])
    assert sync_after_card(config, day / "A001") == []  # no sound yet: nothing to pair, nothing written
    (day / "SOUND").mkdir()
    write_bwf(day / "SOUND" / "T001.WAV", [take])
    written = sync_after_card(config, day / "SOUND")
    out = workspace["out"] / "DAY01"
    assert out / "sync.fcpxml" in written and (out / "sync.json").is_file()
    off = config.model_copy(update={"sync": config.sync.model_copy(update={"enabled": False})})
    assert sync_after_card(off, day / "SOUND") == []
