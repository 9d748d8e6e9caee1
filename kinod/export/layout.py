"""Where a clip's outputs go: one rule shared by the daemon, ``kinod scan`` and ``kinod export``.

Why a module of its own: the exporters and the commands need the rule without the
pipeline, and the pipeline's parts all agree on it by importing it from here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from kinod.media.fsutil import fit_name

if TYPE_CHECKING:  # the layout reads the assembled config, which sits above this package
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


def clip_out_dir(stored: str | os.PathLike[str] | None, path: Path, config: Config) -> Path:
    """The clip's output folder: the one stored with it (``out_dir`` of its row), else the rule.

    A clip planned from a card or ``kinod scan`` keeps the folder it was planned with;
    a row without one (older state files, a clip found outside every card) falls back
    to :func:`output_dir_for`. Takes the stored value, not the row, so it serves any
    shape of clip row.
    """
    return Path(stored) if stored else output_dir_for(path, config)


def clip_outputs(path: Path, out_dir: Path, config: Config) -> list[Path]:
    """Every output kinod may have written for the clip at ``path``: sidecar, its YAML twin,
    format files, keyframes folder, proxy. What a renamed clip leaves behind under its old name.

    Names are built as the writers build them (:func:`kinod.media.fsutil.fit_name`), so a clip
    whose name had to be shortened to fit NAME_MAX is cleaned up too.
    """
    from kinod.export.sidecar import sidecar_path
    from kinod.export.writers import writer_classes
    from kinod.export.yaml_out import YAML_FORMAT, sidecar_yaml_path
    from kinod.media.proxy import proxy_path

    writers = writer_classes()
    name = fit_name(path.name, out_dir)
    out = [sidecar_path(out_dir, path.name)]
    if YAML_FORMAT in config.output.formats:
        out.append(sidecar_yaml_path(out_dir, path.name))
    out += [out_dir / (name + writers[f].suffix) for f in config.output.formats if f in writers]
    out.append(out_dir / "keyframes" / name)
    out.append(proxy_path(path, out_dir, config.proxy))
    return out


def remove_outputs(paths: list[Path]) -> list[Path]:
    """Delete these outputs (files or folders) where they exist; returns what was removed.

    Only ever called with paths from :func:`clip_outputs`, which all lie in the output
    tree: originals are never touched.
    """
    import shutil

    removed = []
    for p in paths:
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists() or p.is_symlink():
                p.unlink()
            else:
                continue
        except OSError:
            continue
        removed.append(p)
    return removed
