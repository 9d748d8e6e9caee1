"""Issue 13: security checks as tests — no shell, local metrics by default, no world-writable folders."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from cardkit import BILLION_LAUGHS, EXTERNAL_ENTITY
from daemon_harness import Daemon, make_clip

from kinod.config import Config, load_config
from kinod.export.readers import MarkerReadError, read_markers
from kinod.media.cards.xmlsafe import UnsafeXMLError, parse_xml_bytes
from kinod.media.mhl import find_manifests
from kinod.service.metrics import is_loopback, parse_listen

REPO = Path(__file__).resolve().parents[1]
SHELL = re.compile(r"shell\s*=\s*True|\bos\.system\s*\(|\bos\.popen\s*\(|\bcommands\.getoutput")


def test_no_shell_anywhere() -> None:
    hits = []
    for folder in ("kinod", "exporters", "benchmarks", "tests"):
        for p in sorted((REPO / folder).rglob("*.py")):
            if p.name == Path(__file__).name:
                continue
            for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
                if SHELL.search(line):
                    hits.append(f"{p.relative_to(REPO)}:{n}: {line.strip()}")
    assert not hits, "\n".join(hits)


def test_metrics_are_local_by_default() -> None:
    assert is_loopback(parse_listen(Config().metrics.listen)[0])
    assert is_loopback(parse_listen(load_config(REPO / "config.toml").metrics.listen)[0])
    assert is_loopback("::1") and is_loopback("localhost") and not is_loopback("0.0.0.0")


def test_no_entity_expansion_in_any_xml_reader(tmp_path: Path) -> None:
    t0 = time.monotonic()
    for doc in (BILLION_LAUGHS, EXTERNAL_ENTITY):
        with pytest.raises(UnsafeXMLError):
            parse_xml_bytes(doc.encode(), "x.xml")
        for fmt, suffix in (("fcp7", ".xml"), ("fcpxml", ".fcpxml")):
            f = tmp_path / ("m" + suffix)
            f.write_text(doc)
            with pytest.raises(MarkerReadError):
                read_markers(fmt, f)
        (tmp_path / "card.mhl").write_text(doc)
        manifests, failures = find_manifests(tmp_path)
        assert not manifests and failures
    assert time.monotonic() - t0 < 5


def test_wide_metrics_are_warned_and_folders_not_world_writable_under_umask_000(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "src" / "a.mp4", 1)
    d = Daemon(tmp_path / "d", prefix=["sh", "-c", 'umask 000; exec "$@"', "sh"])
    d.config.write_text(d.config.read_text().replace('listen = "127.0.0.1:', 'listen = "0.0.0.0:'))
    with d:
        d.start()
        warn = [e for e in d.log_events() if e.get("event", "").startswith("metrics listen beyond")]
        assert warn and warn[0]["level"] == "warning" and "0.0.0.0" in warn[0]["listen"]
        (d.base / "stage" / "A001" / "sub").mkdir(parents=True)
        shutil.copy(clip, d.base / "stage" / "A001" / "sub" / "a.mp4")
        (d.base / "stage" / "A001").rename(d.root / "A001")
        d.wait_metric("kinod_cards_done_total", 1)
        assert d.stop() == 0
    made = [p for base in (d.out, d.state) for p in base.rglob("*")]
    assert any(p.is_dir() for p in made) and any(p.is_file() for p in made)
    loose = [f"{p} {p.stat().st_mode & 0o777:o}" for p in made if p.stat().st_mode & 0o002]
    assert not loose, loose


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_unit_exposure_stays_ok() -> None:
    r = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(REPO / "systemd" / "kinod.service")],
        capture_output=True, text=True, timeout=60,
    )
    m = re.search(r"Overall exposure level for kinod\.service: ([0-9.]+)", r.stdout + r.stderr)
    if m is None:
        pytest.skip(f"systemd-analyze security gave no score here: {(r.stdout + r.stderr)[-300:]}")
    assert float(m.group(1)) <= 4.0, r.stdout[-2000:]
