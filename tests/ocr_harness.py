"""One clip through the real pipeline with shots and ocr: what the OCR tests read."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kinod.analyzers.ocr import OcrAnalyzer
from kinod.analyzers.shots import ShotsAnalyzer
from kinod.config import load_config
from kinod.jobs.store import JobStore
from kinod.run.processor import ClipProcessor


def ocr_sidecar(tmp: Path, name: str, render: Callable[[Path], Path]) -> dict[str, Any]:
    """The sidecar of the clip ``render`` writes to ``tmp/footage/name``, processed with shots and ocr."""
    for d in ("footage", "out", "var"):
        (tmp / d).mkdir()
    cfg = tmp / "config.toml"
    cfg.write_text(
        f'[[watch.roots]]\npath = "{tmp / "footage"}"\n[output]\nroot = "{tmp / "out"}"\n'
        f'[state]\ndir = "{tmp / "var"}"\n[logging]\nformat = "json"\n[analyzers]\nenabled = ["shots", "ocr"]\n'
    )
    clip = render(tmp / "footage" / name)
    config = load_config(cfg)
    store = JobStore(config.state.dir / "kinod.sqlite")
    try:
        outcome = ClipProcessor(config, store, classes=[ShotsAnalyzer, OcrAnalyzer]).process(clip, tmp / "out")
    finally:
        store.close()
    assert outcome.ok, outcome.error
    return json.loads(Path(str(outcome.sidecar)).read_text())
