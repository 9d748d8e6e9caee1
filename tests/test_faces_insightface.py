"""The insightface backend on a tiny SCRFD/ArcFace-format ONNX pair made here (no pack ships in a package):
the detector's three strides of scores, distances and keypoints decode to the planted box and points,
and the recogniser's aligned 112x112 crop comes back as a unit vector. Also: dlib, when it installs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from kinod.analyzers.faces.backends import build_stack, stack_model_info
from kinod.analyzers.faces.config import FacesConfig

SIZE = 640
STRIDES = (8, 16, 32)
#: The planted face: stride 16, grid place (10, 12), first anchor; distances and points in strides.
STRIDE, GX, GY = 16, 10, 12
DIST = np.array([3, 4, 3, 4], np.float32)
KPS = np.array([[-1.2, -1], [1.2, -1], [0, 0.3], [-0.9, 1.6], [0.9, 1.6]], np.float32)


def _scrfd(path: Path) -> Path:
    """Nine outputs (scores, distances, keypoints per stride) as SCRFD has them, constants plus 0 x input."""
    inp = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, SIZE, SIZE])
    nodes = [helper.make_node("ReduceMean", ["input.1"], ["mean"], keepdims=0),
             helper.make_node("Mul", ["mean", "zero"], ["nothing"])]  # fmt: skip
    inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    outputs = []
    for kind, width in (("score", 1), ("bbox", 4), ("kps", 10)):
        for stride in STRIDES:
            n = (SIZE // stride) ** 2 * 2
            value = np.zeros((n, width), np.float32)
            if stride == STRIDE:
                j = (GY * (SIZE // stride) + GX) * 2
                value[j] = {"score": [0.9], "bbox": DIST, "kps": KPS.reshape(-1)}[kind]
            name = f"{kind}_{stride}"
            inits.append(numpy_helper.from_array(value, f"c_{name}"))
            nodes.append(helper.make_node("Add", [f"c_{name}", "nothing"], [name]))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [n, width]))
    graph = helper.make_graph(nodes, "scrfd-tiny", [inp], outputs, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def _arcface(path: Path, dim: int = 8) -> Path:
    """112x112 in, a ``dim`` vector out: the mean of each colour through a fixed matrix."""
    inp = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 112, 112])
    out = helper.make_tensor_value_info("683", TensorProto.FLOAT, [1, dim])
    w = np.random.default_rng(3).standard_normal((3, dim)).astype(np.float32)
    nodes = [helper.make_node("GlobalAveragePool", ["input.1"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["683"])]  # fmt: skip
    graph = helper.make_graph(nodes, "arcface-tiny", [inp], [out], [numpy_helper.from_array(w, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("pack")
    _scrfd(d / "det_tiny.onnx")
    _arcface(d / "w600k_tiny.onnx")
    cfg = FacesConfig(backend="insightface", model_dir=str(d))
    assert stack_model_info(cfg).name == "insightface-scrfd-arcface"
    return build_stack(cfg)


def test_scrfd_outputs_decode_to_box_and_points(stack) -> None:
    image = np.full((SIZE, SIZE, 3), 90, np.uint8)
    (face,) = stack.detect(image)
    cx, cy = GX * STRIDE, GY * STRIDE
    assert face.box == pytest.approx((cx - 48, cy - 64, cx + 48, cy + 64))
    assert face.score == pytest.approx(0.9)
    assert face.landmarks.shape == (5, 2)
    assert face.landmarks == pytest.approx(KPS * STRIDE + [cx, cy])
    # A picture half the size: the same face at half the coordinates (the detector sees it scaled to 640).
    (small,) = stack.detect(np.full((SIZE // 2, SIZE // 2, 3), 90, np.uint8))
    assert small.box == pytest.approx(tuple(v / 2 for v in face.box))


def test_arcface_embedding_is_an_aligned_unit_vector(stack) -> None:
    rng = np.random.default_rng(5)
    image = rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
    (face,) = stack.detect(image)
    v = stack.embed(image, face)
    assert v.shape == (8,) and abs(float(np.linalg.norm(v)) - 1) < 1e-5
    assert np.allclose(v, stack.embed(image.copy(), face))
    red = image.copy()
    red[..., 2] = 255
    assert float(v @ stack.embed(red, face)) < 0.999  # another picture, another vector


def test_dlib_backend_end_to_end() -> None:
    """Runs only where the dlib-bin and face_recognition_models wheels are installed."""
    pytest.importorskip("dlib", reason="dlib-bin is not installed here (no wheel in this environment's index)")
    pytest.importorskip("face_recognition_models", reason="face_recognition_models is not installed here")
    from media import FIXTURE_MEDIA

    from kinod.analyzers.faces.find_person import reference_embedding

    stack = build_stack(FacesConfig(backend="dlib"))
    obama = reference_embedding(FIXTURE_MEDIA / "obama.jpg", stack)[0]
    biden = reference_embedding(FIXTURE_MEDIA / "biden.jpg", stack)[0]
    assert float(obama @ biden) < 0.9
