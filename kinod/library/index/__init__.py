"""The library search index: every clip's words, on-screen text, tags, people, categories,
scenes, problems and camera facts in one SQLite FTS5 file beside the job store.

It is derived data: the sidecars stay the one source of truth, so the index can be
dropped and rebuilt at any time (``kinod reindex``) and a broken index never stops
analysis. It lives in its own file (``<state dir>/search.sqlite``) rather than in the
job store so search readers never contend with the scheduler's write transactions.

Optional semantic search (``[search] semantic``) stores MiniLM vectors beside the FTS
rows (``kinod.library.index.semantic``, embedder in ``kinod.analyzers.text_embed``).
"""

from kinod.library.index.db import INDEX_NAME, SearchIndex, index_path
from kinod.library.index.search import Hit, SearchError, SearchFilters

__all__ = ["INDEX_NAME", "Hit", "SearchError", "SearchFilters", "SearchIndex", "index_path"]
