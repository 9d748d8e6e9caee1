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


def test_kinod_sync_command_writes_the_deliverables(workspace: dict[str, Path], capsys) -> None:
    from kinod.cli.main import main

    folder = workspace["root"] / "DAY02"
    folder.mkdir()
    take = speech(seed=2, seconds=24.0)
    write_bwf(folder / "T001.WAV", [take])
    camera_clip(folder / "A001.mov", take, start_sample=int(1.5 * 48000), seconds=12, tc=None)
    out = workspace["out"] / "manual"
    assert main(["--config", str(workspace["config"]), "sync", str(folder), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "synced: A001 <- T001 by waveform" in printed
    assert {p.name for p in out.iterdir()} >= {"sync.fcpxml", "sync.fcp7.xml", "A001.sync.otio", "sync.json"}
    assert main(["--config", str(workspace["config"]), "sync", str(folder / "missing")]) == 2
