from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from media import FIXTURE_MEDIA


@pytest.fixture
def fixture_media() -> Path:
    if not FIXTURE_MEDIA.is_dir():
        pytest.fail(f"fixtures not found at {FIXTURE_MEDIA}: clone kinod beside shared/ as CI does")
    return FIXTURE_MEDIA


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, Path]:
    """A watch root, output root, state dir and a config file pointing at them."""
    ws = {"root": tmp_path / "footage", "out": tmp_path / "out", "state": tmp_path / "var"}
    for p in ws.values():
        p.mkdir()
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[[watch.roots]]\npath = "{ws["root"]}"\n[output]\nroot = "{ws["out"]}"\n[state]\ndir = "{ws["state"]}"\n'
        '[logging]\nformat = "json"\n[analyzers]\nenabled = ["shots"]\n'
    )
    ws["config"] = cfg
    return ws
