"""Categories analyzer: a clip's place in a content taxonomy (zero-shot MiniLM embeddings).

Entry point (group ``kinod.analyzers``): ``categories = "kinod.analyzers.categories:CategoriesAnalyzer"``.
Taxonomy: :mod:`.taxonomy` (``data/taxonomy.toml`` shipped); optional LLM endpoint: :mod:`.llm`.
"""

from kinod.analyzers.categories.analyzer import CategoriesAnalyzer
from kinod.analyzers.categories.config import CategoriesConfig

__all__ = ["CategoriesAnalyzer", "CategoriesConfig"]
