"""Config: strict, documented, and errors that name the key and the file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kinod.analyzers.shots import ShotsConfig
from kinod.config import ConfigError, config_hash, load_config

REPO = Path(__file__).resolve().parents[1]


def test_shipped_config_loads_and_matches_builtin_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = load_config(REPO / "config.toml")
    monkeypatch.chdir(REPO / "tests")  # no config.toml here: built-in defaults
    monkeypatch.delenv("KINOD_CONFIG", raising=False)
    builtin = load_config(None)
    assert shipped.source == REPO / "config.toml"
    assert builtin.source is None
    for section in ("media", "jobs", "metrics", "logging"):
        assert getattr(shipped, section) == getattr(builtin, section), section
    assert shipped.watch.roots[0].path == REPO / "footage"
    assert shipped.output.root == REPO / "kino-out"
    assert shipped.state.dir == REPO / "var"
    assert shipped.enabled_analyzers == builtin.enabled_analyzers


def test_every_documented_key_is_a_real_key() -> None:
    """Each key in the shipped file has a comment above it (the file is the manual)."""
    text = (REPO / "config.toml").read_text()
    tomllib.loads(text)
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#") and not line.startswith("["):
            above = [ln for ln in lines[max(0, i - 6) : i] if ln.strip()]
            assert any(ln.lstrip().startswith("#") for ln in above) or (above[-1:] and "=" in above[-1]), line


def test_typo_names_key_and_file(tmp_path: Path) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text("[watch]\nsetle_seconds = 5\n")
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert str(cfg) in str(e.value)
    assert "watch.setle_seconds" in str(e.value)
    assert "unknown key" in str(e.value)


def test_wrong_type_names_key(tmp_path: Path) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text('[jobs]\ncpu_workers = "many"\n')
    with pytest.raises(ConfigError, match=r"jobs\.cpu_workers"):
        load_config(cfg)


def test_analyzer_section_is_strict(tmp_path: Path) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text("[analyzers.shots]\nthreshhold = 30\n")
    with pytest.raises(ConfigError, match=r"analyzers\.shots\.threshhold"):
        load_config(cfg)
    cfg.write_text("[analyzers.shotz]\nthreshold = 30\n")
    with pytest.raises(ConfigError, match=r"analyzers\.shotz: unknown analyzer"):
        load_config(cfg)
    cfg.write_text('[analyzers]\nenabled = ["nope"]\n')
    with pytest.raises(ConfigError, match="unknown analyzer 'nope'"):
        load_config(cfg)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[watch\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_env_override_and_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "sub" / "kinod.toml"
    cfg.parent.mkdir()
    cfg.write_text('[output]\nroot = "out"\n[analyzers.shots]\nthreshold = 30.0\n')
    monkeypatch.setenv("KINOD_CONFIG", str(cfg))
    c = load_config(None)
    assert c.output.root == cfg.parent / "out"
    shots = c.analyzer_config("shots")
    assert isinstance(shots, ShotsConfig) and shots.threshold == 30.0


def test_config_hash_changes_only_with_settings() -> None:
    assert config_hash(ShotsConfig()) == config_hash(ShotsConfig())
    assert config_hash(ShotsConfig()) != config_hash(ShotsConfig(threshold=30))


@pytest.mark.parametrize("key", ["enabled_analyzers", "analyzer_configs", "source"])
def test_internal_fields_are_not_config_keys(tmp_path: Path, key: str) -> None:
    cfg = tmp_path / "kinod.toml"
    value = '"x"' if key == "source" else ('["bogus"]' if key == "enabled_analyzers" else "{}")
    cfg.write_text(f"{key} = {value}\n")
    with pytest.raises(ConfigError, match=rf"kinod.toml: {key}: not a config key"):
        load_config(cfg)


def test_every_path_key_is_resolved_against_the_config_folder(tmp_path: Path) -> None:
    cfg = tmp_path / "etc" / "kinod.toml"
    cfg.parent.mkdir()
    cfg.write_text(
        '[[watch.roots]]\npath = "footage"\n[state]\ndir = "~/kinod-state"\n'
        '[media]\nffmpeg = "bin/ffmpeg"\n[proxy]\nroot = "proxies"\nfontfile = "fonts/a.ttf"\n'
        '[analyzers]\nenabled = ["shots", "speech"]\n[analyzers.speech]\nmodel = "./models/whisper"\n'
    )
    c = load_config(cfg)
    base = cfg.parent
    assert c.watch.roots[0].path == base / "footage"
    assert c.state.dir == Path("~/kinod-state").expanduser()
    assert c.media.ffmpeg == str(base / "bin/ffmpeg")
    assert c.proxy.root == base / "proxies" and c.proxy.fontfile == str(base / "fonts/a.ttf")
    speech = c.analyzer_config("speech")
    assert speech is not None and speech.model == str(base / "models/whisper")  # type: ignore[attr-defined]
    # names stay names
    cfg.write_text(
        '[media]\nffmpeg = "ffmpeg"\n[analyzers]\nenabled = ["speech"]\n[analyzers.speech]\nmodel = "base"\n'
    )
    c = load_config(cfg)
    assert c.media.ffmpeg == "ffmpeg" and c.analyzer_config("speech").model == "base"  # type: ignore[union-attr]


def test_media_settings_that_change_results_are_part_of_the_job_key() -> None:
    from kinod.config import MediaConfig, analysis_hash

    own = config_hash(ShotsConfig())
    assert analysis_hash(ShotsConfig(), MediaConfig()) == own  # defaults: keys of existing results stay valid
    wide = analysis_hash(ShotsConfig(), MediaConfig(analysis_width=960))
    rate = analysis_hash(ShotsConfig(), MediaConfig(audio_rate=48000))
    assert len({own, wide, rate}) == 3
    assert analysis_hash(ShotsConfig(), MediaConfig(decode_threads=4)) == own  # speed only
