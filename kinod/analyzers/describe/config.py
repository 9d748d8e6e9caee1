"""The ``[analyzers.describe]`` config section: an OpenAI-compatible vision endpoint the user runs."""

from __future__ import annotations

from pydantic import Field

from kinod.analyzers.base import AnalyzerConfig


class DescribeConfig(AnalyzerConfig):
    """Keys of ``[analyzers.describe]`` (documented in the shipped config.toml)."""

    #: OpenAI-compatible endpoint that accepts images (llama.cpp server with a vision model, Ollama,
    #: vLLM), e.g. "http://127.0.0.1:8080/v1". Unset: only the tag-based lines are recorded.
    url: str | None = None
    #: Model name sent to the endpoint (recorded as ``generated_from``), request timeout, optional API key.
    model: str = "local-vision"
    timeout_s: float = Field(default=120.0, gt=0.0)
    api_key: str | None = None
    #: Shots sent per clip (their keyframes, in order); later shots keep only their tag-based line.
    max_shots: int = Field(default=16, ge=1, le=64)
    #: Characters of transcript sent with the pictures.
    transcript_chars: int = Field(default=2000, ge=0, le=20000)
