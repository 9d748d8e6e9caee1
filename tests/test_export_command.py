"""``kinod export``: regenerate files from sidecars, per clip or per card, with clear errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml
from export_sidecars import make_sidecar, marker

from kinod.cli.export import register
from kinod.config import Config, ConfigError, load_config


def _run(config: Config, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="kinod")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["export", *argv])
    return args.func(config, args)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    f = tmp_path / "config.toml"
    f.write_text(f'[output]\nroot = "{tmp_path / "out"}"\nformats = ["json", "otio", "resolve-edl"]\n')
    return load_config(f)


@pytest.fixture
def card(tmp_path: Path) -> Path:
    folder = tmp_path / "out" / "A001"
    folder.mkdir(parents=True)
    for name, tc in (("C0002.MP4", "10:01:00:00"), ("C0001.MP4", "10:00:00:00")):
        sc = make_sidecar(name=name, start_tc=tc, markers=[marker("shot", 5, "Cut"), marker("speech", 9, "Talk")])
        (folder / f"{name}.kino.json").write_text(json.dumps(sc), encoding="utf-8")
    (folder / "card.kino.json").write_text('{"schema": "kinod.card"}', encoding="utf-8")
    return folder


def test_default_formats_come_from_output_formats(config: Config, card: Path, capsys: pytest.CaptureFixture) -> None:
    assert _run(config, str(card)) == 0
    names = sorted(p.name for p in card.iterdir())
    assert "C0001.MP4.otio" in names and "C0002.MP4.resolve.edl" in names
    assert "4 file(s) written, 0 failure(s)" in capsys.readouterr().err


def test_formats_categories_and_out(config: Config, card: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere"
    assert (
        _run(config, str(card / "C0001.MP4.kino.json"), "-f", "csv,avid", "--categories", "speech", "--out", str(out))
        == 0
    )
    text = (out / "C0001.MP4.avid.txt").read_text()
    assert "Talk" in text and "Cut" not in text


def test_card_mode_writes_one_timeline_per_folder(config: Config, card: Path) -> None:
    assert _run(config, str(card), "--card", "--format", "fcp7", "-f", "edl") == 0
    xml = (card / "card.fcp7.xml").read_text()
    assert xml.index("C0001.MP4") < xml.index("C0002.MP4")
    assert (card / "card.edl").is_file()


def test_bad_arguments_and_bad_sidecars(config: Config, card: Path, capsys: pytest.CaptureFixture) -> None:
    assert _run(config, str(card), "-f", "aaf") == 2
    assert "unknown format(s) aaf" in capsys.readouterr().err
    assert _run(config, str(card), "--categories", "cuts") == 2
    broken = card / "broken.mov.kino.json"
    broken.write_text("{not json", encoding="utf-8")
    assert _run(config, str(card), "-f", "otio") == 1
    err = capsys.readouterr().err
    assert f"{broken}: cannot read sidecar" in err
    assert _run(config, str(card / "missing.kino.json")) == 1
    assert "no such sidecar" in capsys.readouterr().err


def test_media_file_finds_its_sidecar(config: Config, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    media = tmp_path / "footage" / "clip.mov"
    media.parent.mkdir()
    media.write_bytes(b"not really media")
    assert _run(config, str(media)) == 1
    assert "not scanned yet" in capsys.readouterr().err
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    (out / "clip.mov.kino.json").write_text(json.dumps(make_sidecar(name="clip.mov")), encoding="utf-8")
    assert _run(config, str(media), "-f", "otio") == 0
    assert (out / "clip.mov.otio").is_file()


def test_yaml_per_clip_and_per_card(config: Config, card: Path) -> None:
    assert _run(config, str(card), "-f", "yaml") == 0
    sidecar = json.loads((card / "C0001.MP4.kino.json").read_text(encoding="utf-8"))
    assert yaml.safe_load((card / "C0001.MP4.kino.yaml").read_text(encoding="utf-8")) == sidecar
    assert _run(config, str(card), "--card", "-f", "yaml,otio") == 0
    assert yaml.safe_load((card / "card.kino.yaml").read_text(encoding="utf-8")) == {"schema": "kinod.card"}
    assert (card / "card.otio").is_file()


def test_yaml_in_output_formats_and_export_keys_in_config(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    f.write_text(
        '[output]\nformats = ["json", "yaml"]\n[export]\nresolve_record_start = "01:00:00:00"\n'
        'otio_target_version = "0.14.0"\n'
    )
    cfg = load_config(f)
    assert "yaml" in cfg.output.formats and cfg.export.otio_target_version == "0.14.0"
    f.write_text('[export]\notio_target_version = "0.1"\n')
    with pytest.raises(ConfigError, match="otio_target_version"):
        load_config(f)
