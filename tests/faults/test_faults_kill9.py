"""Issue 13: fault injection with the real daemon — seeded ``kill -9`` rounds (5 here, 50 in benchmarks/faults.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from faultkit import make_sources, run_round

ROUNDS = 5


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_sources(tmp_path_factory.mktemp("fault-media"), 4)


@pytest.mark.parametrize("seed", range(ROUNDS))
def test_kill9_round(tmp_path: Path, sources: list[Path], seed: int) -> None:
    res = run_round(tmp_path, sources, seed=1300 + seed)
    assert res.kills >= 1
    assert res.lost == 0 and res.duplicated == 0, res.problems
    assert not res.problems, res.problems
