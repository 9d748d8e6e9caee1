"""The categories analyzer: where a clip sits in a taxonomy, by zero-shot sentence embeddings.

A model analyzer that reads results, not pictures: the transcript (``speech``), on-screen
text (``ocr``), picture tags (``visual``) and named people (``faces``) of the same clip are
embedded with MiniLM (:mod:`kinod.analyzers.text_embed`) and compared with each taxonomy category's description. The
top categories go to ``summary.top`` as ``{"path": [...], "score": cosine}``, best first;
``summary.uncertain`` is true when the first two are closer than ``min_margin`` (the
margin is what separates right from wrong answers on the labelled set; one absolute
score does not) or the best is below ``min_score``. Packaged tiny
LLMs scored 1-4 right out of 10 here, so none is bundled; an OpenAI-compatible endpoint
can be configured (``llm_url``) for summaries, scene annotations and a category.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import structlog

from kinod.analyzers import text_embed
from kinod.analyzers.base import (
    AnalyzerError,
    ClipInfo,
    Marker,
    ModelAnalyzer,
    ModelInfo,
    Needs,
    ReadContext,
    Resources,
    Result,
    SearchEntry,
    UiSection,
)
from kinod.analyzers.categories import reading, taxonomy
from kinod.analyzers.categories.config import CategoriesConfig

log = structlog.get_logger(__name__)
_leaf_cache: dict[tuple[str, int, int], tuple[list[taxonomy.Leaf], np.ndarray]] = {}
_cache_lock = threading.Lock()


class CategoriesAnalyzer(ModelAnalyzer):
    name = "categories"
    version = "2"
    needs: ClassVar[Needs] = Needs(cache=True, results_of=("shots", "speech", "ocr", "visual", "faces"))
    resources: ClassVar[Resources] = Resources(cpu=1, ram_mb=512)
    Config = CategoriesConfig

    @classmethod
    def search_entries(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[SearchEntry]:
        return reading.search_entries(record, ctx)

    @classmethod
    def ui_sections(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]:
        return reading.ui_sections(record, ctx)

    def __init__(self, config: Any = None, runtime: Any = None) -> None:
        super().__init__(config, runtime)
        self.cfg: CategoriesConfig = self.config  # type: ignore[assignment]
        self._results: dict[str, Any] = {}

    def checks(self) -> list[tuple[str, bool, str]]:
        rows: list[tuple[str, bool, str]] = []
        try:
            text_embed.package_dir()
            rows.append(("minilm weights", True, text_embed.DISTRIBUTION))
        except AnalyzerError as e:
            rows.append(("minilm weights", False, str(e)))
        try:
            leaves = taxonomy.load(self._taxonomy_path())
            rows.append(
                ("taxonomy", True, f"{len(leaves)} categories in {self._taxonomy_path() or 'the shipped file'}")
            )
        except taxonomy.TaxonomyError as e:
            rows.append(("taxonomy", False, str(e)))
        if self.cfg.llm_url:
            rows.append(("llm endpoint", True, f"{self.cfg.llm_url} (not contacted by doctor)"))
        return rows

    def model_info(self) -> ModelInfo | None:
        return ModelInfo("all-minilm-l6-v2", text_embed.MODEL_ID, text_embed.DISTRIBUTION)

    def use_results(self, results: Mapping[str, Result]) -> None:
        self._results = dict(results)

    def _taxonomy_path(self) -> Path | None:
        return Path(self.cfg.taxonomy).expanduser() if self.cfg.taxonomy else None

    def leaves(self) -> tuple[list[taxonomy.Leaf], np.ndarray]:
        """The taxonomy's leaves and their embeddings (cached per file and modification time)."""
        path = self._taxonomy_path() or taxonomy.default_path()
        try:
            st = path.stat()
            key = (str(path), st.st_mtime_ns, st.st_size)
        except OSError as e:
            raise taxonomy.TaxonomyError(f"{path}: cannot read the taxonomy file ({e.strerror or e})") from None
        with _cache_lock:
            if key not in _leaf_cache:
                leaves = taxonomy.load(path)
                _leaf_cache[key] = (leaves, text_embed.embed([leaf.text for leaf in leaves]))
            return _leaf_cache[key]

    def run(self, clip: ClipInfo, cache: Any) -> Result:
        info = self.model_info()
        try:
            leaves, vectors = self.leaves()
        except taxonomy.TaxonomyError as e:
            raise AnalyzerError(f"analyzers.categories.taxonomy: {e}") from None
        texts = clip_texts(self._results, self.cfg.chunk_words, self.cfg.ocr_weight, self.cfg.tags_weight)
        summary: dict[str, Any] = {"sources": sorted({src for src, _t, _w in texts})}
        result = Result(summary=summary, model=info)
        if not texts:
            summary |= {"status": "no_text", "reason": "no transcript, on-screen text or picture tags", "top": []}
            summary["uncertain"] = True
        else:
            summary |= self.score(texts, leaves, vectors)
            if summary["top"]:
                best = summary["top"][0]
                result.markers.append(
                    Marker("tag", 0, "Category: " + " > ".join(best["path"]), 0, "categories", best["score"])
                )
        if self.cfg.llm_url:
            from kinod.analyzers.categories.llm import annotate

            annotate(self.cfg, clip, self._results, leaves, result)
        return result

    def score(
        self, texts: list[tuple[str, str, float]], leaves: list[taxonomy.Leaf], vectors: np.ndarray
    ) -> dict[str, Any]:
        """Top categories for weighted texts: the weighted mean of their embeddings against each leaf."""
        emb = text_embed.embed([t for _s, t, _w in texts])
        weights = np.array([w for _s, _t, w in texts], np.float32)
        clip_vec = (emb * weights[:, None]).sum(0)
        norm = float(np.linalg.norm(clip_vec))
        if norm == 0.0:
            return {"top": [], "uncertain": True}
        scores = vectors @ (clip_vec / norm)
        order = np.argsort(-scores)[: self.cfg.top]
        top = [{"path": list(leaves[i].path), "score": round(float(scores[i]), 4)} for i in order]
        ranked = np.sort(scores)[::-1]
        margin = float(ranked[0] - ranked[1]) if len(ranked) > 1 else 1.0
        uncertain = margin < self.cfg.min_margin or float(ranked[0]) < self.cfg.min_score
        return {"top": top, "margin": round(margin, 4), "uncertain": bool(uncertain)}


def clip_texts(
    results: Mapping[str, Any], chunk_words: int, ocr_weight: float = 0.5, tags_weight: float = 0.25
) -> list[tuple[str, str, float]]:
    """(source, text, weight) to embed: transcript chunks share weight 1, then on-screen text, tags, named people."""
    out: list[tuple[str, str, float]] = []
    speech = getattr(results.get("speech"), "items", None) or []
    words = " ".join(str(it.get("text", "")).strip() for it in speech if isinstance(it, dict)).split()
    chunks = [" ".join(words[i : i + chunk_words]) for i in range(0, len(words), chunk_words)]
    out += [("speech", c, 1.0 / len(chunks)) for c in chunks]
    ocr = getattr(results.get("ocr"), "items", None) or []
    lines = list(
        dict.fromkeys(
            str(it.get("text", "")).strip() for it in ocr if isinstance(it, dict) and it.get("kind") != "burned_in_tc"
        )
    )
    lines = [line for line in lines if len(line) > 2]
    if lines:
        out.append(("ocr", "On screen: " + "; ".join(lines)[:1000], ocr_weight if chunks else 1.0))
    visual = getattr(results.get("visual"), "items", None) or []
    tags: list[str] = []
    for it in visual:
        if isinstance(it, dict):
            tags += [str(t.get("label")) for t in it.get("tags", [])[:2] if isinstance(t, dict)]
            tags += [str(e) for e in it.get("editorial", [])]
    tags = list(dict.fromkeys(t for t in tags if t))
    if tags:
        out.append(("visual", "The picture shows " + ", ".join(tags[:30]), tags_weight if (chunks or lines) else 1.0))
    faces = getattr(results.get("faces"), "items", None) or []
    names = [str(it["person_name"]) for it in faces if isinstance(it, dict) and it.get("person_name")]
    names = list(dict.fromkeys(names))
    if names:
        out.append(("people", "People on screen: " + ", ".join(names[:10]), tags_weight if len(out) else 1.0))
    return out
