"""Bad input on a sync day: each file gets a clear result and nothing stops the others.

One folder holds, beside a good camera clip and its take: a WAV with a corrupt bext
chunk, one with a broken iXML chunk, a 0-length recording, a camera clip without audio,
a 44.1 kHz take (camera at 48 kHz) and a take stamped 48.048 kHz (a pull-up).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sync_media import FF, camera_clip, speech, write_bwf

from kinod.sync.session import SyncRun, sync_folders

EARLY_S = 2.35


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyncRun, Path]:
    root = tmp_path_factory.mktemp("bad")
    good = speech(seed=1, seconds=24.0, rate=48000)
    write_bwf(root / "GOOD.WAV", [good], 48000)
    camera_clip(root / "A001.mov", good, 48000, start_sample=int(EARLY_S * 48000), seconds=12, tc=None)
    write_bwf(root / "BADBEXT.WAV", [speech(seed=3, seconds=10.0)], 48000, bext=b"\xff" * 40)
    write_bwf(root / "BADIXML.WAV", [speech(seed=4, seconds=10.0)], 48000, ixml=b"<BWFXML><SCENE>1</SCE")
    write_bwf(root / "EMPTY.WAV", [np.zeros(0, dtype=np.float32)], 48000)
    camera_clip(root / "NOAUDIO.mov", None, seconds=4, tc=None)
    cd = speech(seed=5, seconds=24.0, rate=44100)
    write_bwf(root / "CD441.WAV", [cd], 44100)
    camera_clip(root / "B001.mov", cd, 44100, start_sample=int(EARLY_S * 44100), seconds=12, tc=None, audio_rate=48000)
    pulled = speech(seed=6, seconds=24.0, rate=48048)
    write_bwf(root / "PULL48048.WAV", [pulled], 48048)
    camera_clip(root / "C001.mov", pulled, 48048, start_sample=int(EARLY_S * 48048), seconds=12, tc=None)
    (root / "NOTWAV.WAV").write_bytes(b"this is not a wav file")
    return sync_folders([root], root / "out", FF), root


def _clip(run: SyncRun, name: str):
    return next(c for c in run.clips if c.picture.name == name)


def test_good_pairs_still_sync_beside_the_bad_files(day: tuple[SyncRun, Path]) -> None:
    run, _root = day
    (m,) = _clip(run, "A001").synced
    assert m.sound.name == "GOOD" and abs(m.offset_samples + EARLY_S * 48000) <= 48


def test_mismatched_and_pulled_up_rates_sync_in_the_takes_own_samples(day: tuple[SyncRun, Path]) -> None:
    run, _root = day
    (cd,) = _clip(run, "B001").synced
    assert cd.sound.sample_rate == 44100 and abs(cd.offset_samples + EARLY_S * 44100) <= 44
    (pulled,) = _clip(run, "C001").synced
    assert pulled.sound.sample_rate == 48048 and abs(pulled.offset_samples + EARLY_S * 48048) <= 48
    assert any("48048" in p for p in pulled.sound.problems)


def test_each_bad_file_is_named_with_its_reason(day: tuple[SyncRun, Path]) -> None:
    run, root = day
    table = json.loads((root / "out" / "sync.json").read_text())
    unused = {s["name"]: " ".join(s["problems"]) for s in table["unused_sounds"]}
    assert "no audio samples" in unused["EMPTY"]
    assert "not a WAV" in unused["NOTWAV"]
    assert "iXML" in unused["BADIXML"]
    assert "BADBEXT" in unused
    noaudio = _clip(run, "NOAUDIO")
    assert noaudio.synced == [] and "no scratch audio" in (noaudio.unsynced_reason or "")
