"""Visual analyzer on real pictures: scikit-image's sample images rendered into a clip by ffmpeg.

The clip goes through the real pipeline (one decode pass, shots, the analysis cache, then
the visual model analyzer reading the cache and the shots result), so these tests check
what a user gets in the sidecar.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from media import ffmpeg

from kinod.analyzers.base import ClipInfo, ModelMissingError, Result, RuntimeContext
from kinod.analyzers.shots import ShotsAnalyzer
from kinod.analyzers.visual import VisualAnalyzer, VisualConfig, effnet
from kinod.analyzers.visual.torchload import StateDictError, load_state_dict
from kinod.analyzers.weights import sha256_file
from kinod.config import load_config
from kinod.jobs.store import JobStore
from kinod.media.cache import AnalysisCacheWriter, FrameCacheSpec
from kinod.run.processor import ClipProcessor

skimage = pytest.importorskip("skimage")
SAMPLES = Path(skimage.__file__).parent / "data"


def _pictures(tmp: Path) -> list[Path]:
    """Five 640x360 pictures: coffee, chelsea, camera, a face-filling astronaut, the astronaut small in a field."""
    astro = cv2.imread(str(SAMPLES / "astronaut.png"))
    face = cv2.resize(astro[60:220, 150:290], (640, 360), interpolation=cv2.INTER_CUBIC)
    field = np.full((360, 640, 3), (70, 120, 60), np.uint8)
    field[230:300, 520:590] = cv2.resize(astro, (70, 70), interpolation=cv2.INTER_AREA)
    out = []
    for name, image in [
        ("coffee", cv2.imread(str(SAMPLES / "coffee.png"))),
        ("chelsea", cv2.imread(str(SAMPLES / "chelsea.png"))),
        ("camera", cv2.imread(str(SAMPLES / "camera.png"))),
        ("face", face),
        ("field", field),
    ]:
        p = tmp / f"{name}.png"
        cv2.imwrite(str(p), image)
        out.append(p)
    return out


def _render(pictures: list[Path], path: Path) -> Path:
    """One second of each picture at 25 fps, letterboxed to 640x360: cuts at 25, 50, 75, 100."""
    args: list[str] = []
    chains = []
    for i, p in enumerate(pictures):
        args += ["-loop", "1", "-framerate", "25", "-t", "1", "-i", str(p)]
        chains.append(
            f"[{i}:v]scale=640:360:force_original_aspect_ratio=decrease,pad=640:360:(ow-iw)/2:(oh-ih)/2,"
            f"setsar=1,format=yuv420p,trim=end_frame=25,setpts=PTS-STARTPTS[v{i}]"
        )
    n = len(pictures)
    graph = ";".join(chains) + ";" + "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[v]"
    ffmpeg(*args, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "16",
           str(path))  # fmt: skip
    return path


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("visual")
    for d in ("footage", "out", "var"):
        (tmp / d).mkdir()
    cfg = tmp / "config.toml"
    cfg.write_text(
        f'[[watch.roots]]\npath = "{tmp / "footage"}"\n[output]\nroot = "{tmp / "out"}"\n'
        f'[state]\ndir = "{tmp / "var"}"\n[logging]\nformat = "json"\n[analyzers]\nenabled = ["shots", "visual"]\n'
    )
    clip = _render(_pictures(tmp), tmp / "footage" / "samples.mp4")
    config = load_config(cfg)
    store = JobStore(config.state.dir / "kinod.sqlite")
    try:
        outcome = ClipProcessor(config, store, classes=[ShotsAnalyzer, VisualAnalyzer]).process(clip, tmp / "out")
    finally:
        store.close()
    assert outcome.ok, outcome.error
    assert outcome.sidecar is not None
    data = json.loads(Path(outcome.sidecar).read_text())
    data["_out"] = str(Path(outcome.sidecar).parent)
    return data


def _labels(item: dict[str, Any]) -> list[str]:
    return [t["label"] for t in item["tags"]]


def test_tags_of_real_pictures(sidecar: dict[str, Any]) -> None:
    visual = sidecar["analyses"]["visual"]
    items = visual["items"]
    assert [it["start_frame"] for it in items] == [0, 25, 50, 75, 100]
    coffee, chelsea, camera, _face, _field = items
    assert {"espresso", "cup"} & set(_labels(coffee)[:2])
    assert "food" in coffee["editorial"]
    assert any("cat" in t for t in _labels(chelsea)[:2])
    assert "animal" in chelsea["editorial"]
    assert {"tripod", "reflex camera", "Polaroid camera"} & set(_labels(camera)[:2])
    assert visual["model"]["name"] == "efficientnet-lite0"
    assert visual["model"]["sha256"] == effnet.PTH_SHA256
    for it in items:
        assert it["generated_from"] == "tags"
        assert it["camera"] == "static"
        assert it["day_night"] == "day"
        assert it["description"] and it["palette"][0]["hex"].startswith("#")
        assert {"start_s", "end_s", "keyframe_frame", "scale", "scale_source", "people"} <= set(it)


def test_astronaut_is_a_person_and_scale_follows_framing(sidecar: dict[str, Any]) -> None:
    items = sidecar["analyses"]["visual"]["items"]
    face, field = items[3], items[4]
    assert "people" in face["editorial"], face
    assert face["scale"] in ("close-up", "extreme close-up") and face["scale_source"] == "picture"
    assert field["scale"] in ("wide", "extreme wide")


def test_keyframe_thumbnails_carry_their_tags(sidecar: dict[str, Any]) -> None:
    item = sidecar["analyses"]["visual"]["items"][0]
    thumbs = list(Path(sidecar["_out"]).rglob(Path(item["thumbnail"]).name))
    assert thumbs, item["thumbnail"]
    data = thumbs[0].read_bytes()
    assert b"tags: espresso" in data or b"tags: cup" in data
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None


def _cache(tmp: Path, images: list[np.ndarray]) -> Any:
    from fractions import Fraction

    w = AnalysisCacheWriter(tmp / "cache", 16000, 0, FrameCacheSpec(640, 1.0), Fraction(25))
    for i, im in enumerate(images):
        w.write_frame(i * 25, im)
    return w.commit()


def _clip(tmp: Path, frames: int) -> ClipInfo:
    from fractions import Fraction

    from kinod.media.probe import Probe

    return ClipInfo(path=tmp / "x.mp4", probe=Probe.__new__(Probe), rate=Fraction(25), frames=frames,
                    artefact_dir=tmp / "art")  # fmt: skip


def test_faces_result_gives_scale_and_people(tmp_path: Path) -> None:
    image = cv2.imread(str(SAMPLES / "astronaut.png"))
    cache = _cache(tmp_path, [image, image])
    a = VisualAnalyzer(VisualConfig(thumbnails=False), RuntimeContext(tmp_path / "var"))
    faces = Result(items=[{"track": 1, "person": "person-1", "start_frame": 0, "end_frame": 50,
                           "boxes": [[0.3, 0.1, 0.25, 0.3]]}])  # fmt: skip
    a.use_results({"faces": faces})
    result = a.run(_clip(tmp_path, 50), cache)
    (item,) = result.items
    # A face 0.3 of the picture high is a waist-up shot (bounds measured by benchmarks/tags.py).
    assert item["scale"] == "medium" and item["scale_source"] == "faces"
    assert item["people"] == 1 and "people" in item["editorial"]


def test_corrupt_keyframe_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    image = cv2.imread(str(SAMPLES / "coffee.png"))
    cache = _cache(tmp_path, [image, image, image])
    blob = (cache.dir / "frames.jpg").read_bytes()
    first = cache.frame_index()[1]
    (cache.dir / "frames.jpg").write_bytes(blob[: first[1]] + b"\0" * first[2] + blob[first[1] + first[2] :])
    a = VisualAnalyzer(VisualConfig(thumbnails=False), RuntimeContext(tmp_path / "var"))
    shots = Result(items=[{"start_frame": 0, "end_frame": 25}, {"start_frame": 25, "end_frame": 50},
                          {"start_frame": 50, "end_frame": 75}])  # fmt: skip
    a.use_results({"shots": shots})
    result = a.run(_clip(tmp_path, 75), cache)
    assert [it["start_frame"] for it in result.items] == [0, 50]
    assert any("corrupt" in w and "shot 2" in w for w in result.warnings)


def test_tampered_weights_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "pkg" / effnet.PTH
    fake.parent.mkdir(parents=True)
    fake.write_bytes(effnet.weights_path().read_bytes()[:-10] + b"0123456789")
    monkeypatch.setattr(effnet, "weights_path", lambda: fake)
    with pytest.raises(ModelMissingError, match=r"analyzers\.visual\.model.*sha256 mismatch"):
        effnet.ensure_onnx(tmp_path / "models")
    assert not (tmp_path / "models" / effnet.ONNX_NAME).exists()


def test_tampered_onnx_is_rebuilt(tmp_path: Path) -> None:
    path, sha = effnet.ensure_onnx(tmp_path)
    path.write_bytes(b"garbage")
    again, sha2 = effnet.ensure_onnx(tmp_path)
    assert sha2 == sha and sha256_file(again) == sha


def test_state_dict_reader_refuses_code(tmp_path: Path) -> None:
    import pickle

    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps(1) + pickle.dumps(1001) + pickle.dumps({}) + pickle.dumps(print))
    with pytest.raises(StateDictError, match=r"evil\.pth"):
        load_state_dict(evil)


def test_clip_backend_without_weights_names_the_key(tmp_path: Path) -> None:
    a = VisualAnalyzer(VisualConfig(backend="clip"), RuntimeContext(tmp_path))
    assert not a.checks()[0][1]
    image = np.zeros((36, 64, 3), np.uint8)
    with pytest.raises(ModelMissingError, match=r"analyzers\.visual\.model_dir"):
        a.run(_clip(tmp_path, 25), _cache(tmp_path, [image]))


def test_onnx_graph_matches_torch_reference(tmp_path: Path) -> None:
    """Logits from the reference PyTorch implementation, computed once (tests/data/visual)."""
    import onnxruntime as ort

    ref = json.loads((Path(__file__).parent / "data" / "visual" / "effnet_torch_logits.json").read_text())
    path, _sha = effnet.ensure_onnx(tmp_path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for name, want in ref["logits"].items():
        x = effnet.preprocess(cv2.imread(str(SAMPLES / f"{name}.png")))
        got = session.run(None, {"image": x})[0][0]
        assert np.abs(got - np.asarray(want)).max() < 1e-3, name


def test_portraits_are_never_tagged_with_bodies_or_clothes(tmp_path: Path) -> None:
    """The reviewed person-label list hides "suit", "lab coat", "groom", "brassiere"... unless enabled."""
    from media import FIXTURE_MEDIA

    from kinod.analyzers.visual import tags, vocab

    policy = tags.person_labels()
    assert {"brassiere", "bikini", "maillot", "suit", "groom", "Windsor tie", "lab coat"} <= policy
    assert policy <= set(vocab.labels()), policy - set(vocab.labels())
    portraits = [cv2.imread(str(FIXTURE_MEDIA / n)) for n in ("alex-lacamoire.png", "obama.jpg", "two_people.jpg")]
    portraits.append(cv2.imread(str(SAMPLES / "astronaut.png")))
    frames = [cv2.resize(p, (640, 360)) for p in portraits]
    clip = _clip(tmp_path, 25 * len(frames))
    shots = Result(items=[{"start_frame": 25 * i, "end_frame": 25 * (i + 1)} for i in range(len(frames))])
    hidden = VisualAnalyzer(VisualConfig(thumbnails=False, min_score=0.0), RuntimeContext(tmp_path / "var"))
    hidden.use_results({"shots": shots})
    items = hidden.run(clip, _cache(tmp_path / "a", frames)).items
    assert len(items) == len(frames)
    for it in items:
        assert not {t["label"] for t in it["tags"]} & policy, it["tags"]
        assert not any(word in it["description"] for word in ("suit", "coat", "groom", "tie", "brassiere"))
    assert "people" in items[0]["editorial"]  # hidden labels still say a person is there
    shown = VisualAnalyzer(VisualConfig(thumbnails=False, min_score=0.0, show_person_labels=True),
                           RuntimeContext(tmp_path / "var"))  # fmt: skip
    shown.use_results({"shots": shots})
    items = shown.run(clip, _cache(tmp_path / "b", frames)).items
    assert any({t["label"] for t in it["tags"]} & policy for it in items)


def test_low_scores_are_not_tags(tmp_path: Path) -> None:
    """A still the classifier is unsure of gets no tag at all (no best-tag-always rule)."""
    flat = np.full((360, 640, 3), 128, np.uint8)
    a = VisualAnalyzer(VisualConfig(thumbnails=False), RuntimeContext(tmp_path / "var"))
    (item,) = a.run(_clip(tmp_path, 25), _cache(tmp_path, [flat])).items
    assert all(t["score"] >= VisualConfig().min_score for t in item["tags"])
