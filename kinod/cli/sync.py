"""``kinod sync PATH... [--out DIR]``: sync camera clips with recorder takes (and cameras) already on disk.

The same pairing and delivery the daemon runs when a day's cards land, on demand: for
folders copied before kinod watched them, or to sync again with other thresholds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kinod.config import Config
from kinod.export.layout import output_dir_for
from kinod.export.sidecar import sidecar_path
from kinod.media.ffmpeg import ffmpeg_path


def register(subparsers: Any) -> argparse.ArgumentParser:
    s = subparsers.add_parser(
        "sync",
        help="pair camera clips with sound recorder takes and group cameras (FCPXML, FCP7 XML, OTIO)",
        description="Sync picture and sound by timecode, slate or waveform, and write synced/multicam clips.",
    )
    s.add_argument("paths", nargs="+", metavar="PATH", help="folders or files: camera clips and Broadcast WAVs")
    s.add_argument("--out", type=Path, metavar="DIR", help="write here (default: the output folder of the first PATH)")
    s.set_defaults(func=cmd_sync)
    return s


def cmd_sync(config: Config, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from kinod.sync.session import sync_folders

    paths = [Path(p) for p in args.paths]
    missing = [p for p in paths if not p.exists()]
    for m in missing:
        print(f"kinod sync: {m}: no such file or folder", file=sys.stderr)
    paths = [p for p in paths if p.exists()]
    if not paths:
        return 2
    first = paths[0] if paths[0].is_dir() else paths[0].parent
    out = args.out or output_dir_for(first / "_", config, first.parent)
    bar = tqdm(desc="sync", unit="file", disable=None, leave=False)

    def progress(name: str, done: int, total: int) -> None:
        bar.total = total
        bar.set_postfix_str(name[:30])
        bar.update(done - bar.n)

    def sidecar_for(clip: Path) -> Path:
        return sidecar_path(output_dir_for(clip, config, first.parent), clip.name)

    try:
        run = sync_folders(
            paths,
            out,
            ffmpeg_path(config.media.ffmpeg),
            config.sync,
            sidecar_for=sidecar_for,
            cache_dir=config.state.dir / "cache" / "sync",
            progress=progress,
        )
    finally:
        bar.close()
    for clip in run.clips:
        for m in clip.matches:
            print(f"{m.status}: {clip.picture.name} <- {m.sound.name} by {m.method}, offset {m.offset_samples} samples")
        if clip.unsynced_reason and not clip.synced:
            print(f"unsynced: {clip.picture.name}: {clip.unsynced_reason}")
    for g in run.groups:
        print(f"multicam: {g.name}: " + ", ".join(f"{a.picture.name} at {float(a.at_s):.4f} s" for a in g.angles))
    print(f"wrote {len(run.written)} files to {out}")
    return 1 if missing else 0
