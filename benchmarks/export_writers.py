"""Export benchmark: our marker writers against the OTIO adapters, side by side in one run.

Builds one 29.97 DF clip sidecar with N markers (default 5000, every category, hostile
names) and times, best of 3, each kinod writer and, where OTIO has one, the adapter for
the same format (fcp_xml, fcpx_xml, cmx_3600) writing the same timeline, then the
sidecar as YAML and OTIO downgraded to 0.14.0 (``export.otio_target_version``). Prints
milliseconds and the ratio ours / adapter. The adapters are the baseline only for speed:
they are the ones that lose drop-frame labels, comments, colours and frame-exact times.

    .venv/bin/python benchmarks/export_writers.py [--markers 5000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from kinod.export.timeline import MARKER_CATEGORIES, clip_timeline
from kinod.export.writers import ExportOptions, get_writer
from kinod.export.yaml_out import write_yaml
from kinod.media.timecode import format_rate, frames_to_tc, tc_to_frames

RATE = Fraction(30000, 1001)
NAMES = ('Tom & Jerry <b>"q"</b>', "line\nbreak", "pipe | x", "日本語", "emoji 🎬", "=SUM(A1)", "plain name")


def sidecar(markers: int) -> dict:
    frames = markers * 10
    start = tc_to_frames("00:59:00;02", RATE, True)
    recs = [
        {
            "category": MARKER_CATEGORIES[i % len(MARKER_CATEGORIES)],
            "frame": i * 10,
            "duration_frames": i % 3,
            "name": NAMES[i % len(NAMES)],
            "comment": NAMES[(i + 3) % len(NAMES)],
            "confidence": 0.9,
            "analyzer": "bench",
            "seconds": float(i * 10 / RATE),
            "tc": frames_to_tc(start + i * 10, RATE, True),
        }
        for i in range(markers)
    ]
    return {
        "schema": "kinod.clip",
        "schema_version": "1.0",
        "source": {"path": "/mnt/nas/A001/A001C001.mov", "name": "A001C001.mov", "size": 1, "fingerprint": "x"},
        "probe": {"has_video": True, "width": 1920, "height": 1080, "audio": []},
        "timeline": {
            "rate": format_rate(RATE),
            "frames": frames,
            "start_tc": "00:59:00;02",
            "start_tc_frames": start,
            "drop_frame": True,
        },
        "analyses": {},
        "markers": recs,
    }


def best_of(fn: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--markers", type=int, default=5000)
    args = ap.parse_args()
    sc = sidecar(args.markers)
    t_model = best_of(lambda: clip_timeline(sc))
    tl = clip_timeline(sc)
    opts = ExportOptions()
    adapters = {"fcp7": "fcp_xml", "fcpxml": "fcpx_xml", "edl": "cmx_3600", "otio": "otio_json"}
    print(f"{args.markers} markers at 29.97 DF; sidecar -> OTIO model: {t_model:.1f} ms")
    print(f"{'format':<12} {'kinod ms':>10} {'adapter':>10} {'adapter ms':>11} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("otio", "edl", "resolve-edl", "fcp7", "fcpxml", "avid", "csv"):
            writer = get_writer(fmt)
            dest = Path(tmp) / ("clip" + writer.suffix)
            ours = best_of(lambda writer=writer, dest=dest: writer.write(tl, dest, opts))
            line = f"{fmt:<12} {ours:>10.1f}"
            if fmt in adapters:
                theirs = best_of(lambda fmt=fmt: otio.adapters.write_to_string(tl, adapters[fmt]))
                line += f" {adapters[fmt]:>10} {theirs:>11.1f} {ours / theirs:>7.2f}"
            print(line)
        # The sidecar's YAML twin, and OTIO written for an older release (downgraded by OTIO).
        yaml_ms = best_of(lambda: write_yaml(Path(tmp) / "clip.kino.yaml", sc))
        print(f"{'yaml':<12} {yaml_ms:>10.1f}")
        old = ExportOptions(otio_target_version="0.14.0")
        otio_writer = get_writer("otio")
        old_ms = best_of(lambda: otio_writer.write(tl, Path(tmp) / "old.otio", old))
        print(f"{'otio@0.14.0':<12} {old_ms:>10.1f}")


if __name__ == "__main__":
    main()
