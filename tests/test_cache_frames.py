"""Sampled frames in the analysis cache: model analyzers see pictures without a second decode."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from media import cuts_clip

from kinod.analyzers.base import ClipInfo, FrameNeeds, ModelAnalyzer, Needs, Result
from kinod.config import load_config
from kinod.jobs.store import JobStore
from kinod.media.cache import AnalysisCache, AnalysisCacheWriter, FrameCacheSpec
from kinod.run.processor import ClipProcessor

SEEN: dict[str, Any] = {}


class PictureModel(ModelAnalyzer):
    """A model analyzer that only looks at the cached pictures (what faces and visual do)."""

    name = "picture-model"
    version = "1"
    needs: ClassVar[Needs] = Needs(cache=True, cache_frames=FrameNeeds(every_frame=False, sample_fps=2, width=160))

    def run(self, clip: ClipInfo, cache: Any) -> Result:
        frames = list(cache.frames())
        SEEN["indices"] = [f.index for f in frames]
        SEEN["one_fps"] = [f.index for f in cache.frames(fps=1)]
        SEEN["shape"] = frames[0].image.shape
        SEEN["mean_first"] = float(frames[0].image[..., 2].mean())  # red channel of the red segment
        SEEN["near_60"] = cache.frame_near(60).index
        return Result(summary={"frames": len(frames)})


def test_model_analyzer_reads_sampled_frames_from_the_one_pass(
    workspace: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import kinod.media.decode as decode

    clip = cuts_clip(workspace["root"] / "two.mp4", [("color=c=red", 50), ("testsrc2", 50)], size="320x180")
    started: list[list[str]] = []
    real = decode.subprocess.Popen

    def spy(cmd: list[str], *a: object, **kw: object) -> subprocess.Popen[bytes]:
        started.append(cmd)
        return real(cmd, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(decode.subprocess, "Popen", spy)
    config = load_config(workspace["config"])
    store = JobStore(config.state.dir / "kinod.sqlite")
    try:
        processor = ClipProcessor(config, store, classes=[PictureModel])
        assert processor.cache_frame_spec() == FrameCacheSpec(160, 2.0)
        outcome = processor.process(clip, workspace["out"])
    finally:
        store.close()
    assert outcome.ok, outcome.error
    assert len([c for c in started if any(str(clip) in a for a in c)]) == 1
    # 2 fps of a 25 fps clip: the first frame of each half second.
    assert SEEN["indices"] == [0, 13, 25, 38, 50, 63, 75, 88]
    assert SEEN["one_fps"] == [0, 25, 50, 75]
    assert SEEN["shape"] == (90, 160, 3)
    assert SEEN["mean_first"] > 200
    assert SEEN["near_60"] == 63


def test_cache_covers_and_rejects_corrupt_frames(tmp_path: Path) -> None:
    from fractions import Fraction

    writer = AnalysisCacheWriter(tmp_path / "c", 16000, 0, FrameCacheSpec(320, 4.0), Fraction(25))
    writer.write_frame(0, np.full((18, 32, 3), 200, np.uint8))
    writer.write_frame(6, np.zeros((18, 32, 3), np.uint8))
    cache = writer.commit()
    assert cache.covers(FrameCacheSpec(160, 2.0))
    assert not cache.covers(FrameCacheSpec(640, 2.0))
    assert not cache.covers(FrameCacheSpec(320, 5.0))
    assert [f.index for f in cache.frames()] == [0, 6]
    assert cache.frame_size == (32, 18)
    (tmp_path / "c" / "frames.jpg").write_bytes(b"\0" * 10)
    with pytest.raises(ValueError, match="corrupt"):
        list(AnalysisCache.open(tmp_path / "c").frames())
    audio_only = AnalysisCacheWriter(tmp_path / "a", 16000, 1).commit()
    assert not audio_only.has_frames and audio_only.covers(None) and not audio_only.covers(FrameCacheSpec(1, 1))
