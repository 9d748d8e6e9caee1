"""Descriptions from a vision model the user runs: per-shot captions and a clip summary (opt-in).

Analyzer: :mod:`.analyzer`; its config section ``[analyzers.describe]``: :mod:`.config`;
the request and the reply's shape: :mod:`.request`.
"""

from kinod.analyzers.describe.analyzer import DescribeAnalyzer
from kinod.analyzers.describe.config import DescribeConfig

__all__ = ["DescribeAnalyzer", "DescribeConfig"]
