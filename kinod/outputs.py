"""Where a clip's outputs go: one rule shared by the daemon, ``kinod scan`` and ``kinod export``.

Why a module of its own: the exporters and the commands need the rule without the
pipeline, and the pipeline's rooms all agree on it by importing it from here.
"""

from __future__ import annotations

from pathlib import Path

from kinod.config import Config


def output_dir_for(path: Path, config: Config, base: Path | None = None) -> Path:
    """Where a clip's outputs go: the output root mirrors the clip's place in its watch root.

    A clip outside every watch root mirrors its place below ``base`` (the folder
    given to ``kinod scan``), or lands directly in the output root.
    """
    src = path.absolute()
    for root in config.watch.roots:
        r = root.path.absolute()
        if src.is_relative_to(r):
            return config.output.root / src.parent.relative_to(r)
    if base is not None:
        b = base.absolute()
        if src.is_relative_to(b):
            return config.output.root / b.name / src.parent.relative_to(b)
    return config.output.root
