"""The ``[analyzers.categories]`` config section: every default works offline on a 2-core CPU."""

from __future__ import annotations

from pydantic import Field

from kinod.analyzers.base import AnalyzerConfig


class CategoriesConfig(AnalyzerConfig):
    """Keys of ``[analyzers.categories]`` (documented in the shipped config.toml)."""

    #: Taxonomy file (TOML, see the shipped one); None = the shipped two-level taxonomy.
    taxonomy: str | None = None
    #: Categories kept in ``summary.top``, best first.
    top: int = Field(default=3, ge=1, le=20)
    #: The result is ``uncertain`` when the first two answers are closer than this (cosine points;
    #: chosen from the calibration table benchmarks/categories.py prints) ...
    min_margin: float = Field(default=0.03, ge=0.0, le=1.0)
    #: ... or when the best score (cosine similarity) is below this (nothing said fits any category).
    min_score: float = Field(default=0.2, ge=-1.0, le=1.0)
    #: Words per transcript chunk embedded on its own (chunks are averaged).
    chunk_words: int = Field(default=15, ge=5, le=250)
    #: Weight of on-screen text and of picture tags against the transcript (1.0 = as much as all speech).
    ocr_weight: float = Field(default=0.5, ge=0.0)
    tags_weight: float = Field(default=0.25, ge=0.0)
    #: Optional OpenAI-compatible endpoint (llama.cpp server, vLLM, Ollama), e.g. "http://127.0.0.1:8080/v1".
    llm_url: str | None = None
    #: Model name sent to the endpoint, request timeout, and an optional API key (sent as a Bearer token).
    llm_model: str = "local"
    llm_timeout_s: float = Field(default=60.0, gt=0.0)
    llm_api_key: str | None = None
    #: Snap returned time ranges to the nearest shot cut within this many seconds ...
    snap_s: float = Field(default=2.0, ge=0.0)
    #: ... and reject (and record) a range whose boundary would move more than this.
    reject_s: float = Field(default=5.0, ge=0.0)
