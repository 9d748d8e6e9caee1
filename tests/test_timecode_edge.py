"""Exact values travel as themselves: timecode labels are derived when a sidecar is written,
and the clip's outputs are named (and cleaned up) as the writers name them.

Real media (lavfi through ffmpeg), the real pipeline and a real SQLite state file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import opentimelineio as otio
from media import cuts_clip

from kinod.config import load_config
from kinod.export.layout import clip_out_dir, clip_outputs, output_dir_for
from kinod.jobs.store import JobStore
from kinod.media.probe import Probe
from kinod.media.timecode import tc_to_frames
from kinod.run.processor import ClipProcessor


def _keys(value: Any) -> Iterator[str]:
    """Every key of every dict inside ``value``."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v)


def test_corrected_start_tc_relabels_the_sidecar_without_analysing_again(workspace: dict[str, Path]) -> None:
    clip = cuts_clip(
        workspace["root"] / "A001.mov",
        [("testsrc2", 40), ("color=c=red", 30), ("color=c=black", 50)],
        rate="30000/1001",
        extra=["-timecode", "01:00:00;00"],
        audio=False,
    )
    config = load_config(workspace["config"])
    store = JobStore(config.state.dir / "kinod.sqlite")
    try:
        processor = ClipProcessor(config, store)
        outcome = processor.process(clip, workspace["out"])
        assert outcome.ok and outcome.sidecar is not None
        first = json.loads(outcome.sidecar.read_text())
        assert [m["tc"] for m in first["markers"]] == ["01:00:01;10", "01:00:02;10"]

        # What the pass stored: frames and seconds, no timecode label anywhere.
        jobs = store.query("SELECT key, record, finished FROM jobs WHERE state='done'")
        stored = {r["key"]: (r["record"], r["finished"]) for r in jobs}
        records = [json.loads(rec) for rec, _ in stored.values()]
        assert records and all("start_frame" in it for r in records for it in r["items"])
        labels = {k for k in _keys(records) if k.endswith("_tc") or k == "tc"}
        assert labels == set(), labels

        # The start timecode is corrected (say the camera's XML turned up): the stored probe changes.
        fp = store.query("SELECT fingerprint FROM clips")[0]["fingerprint"]
        row = store.clips.get(fp)
        assert row is not None
        assert row.probe is not None
        pr = Probe.from_json(row.probe)
        assert pr.rate is not None and pr.start_tc == "01:00:00;00"
        pr.start_tc_frames = tc_to_frames("02:00:00;00", pr.rate)
        pr.tc_source = "camera-xml"
        store.clips.set_state(fp, row.state, row.last_error, probe=pr.to_json())

        processor.finalize(fp)
        again = json.loads(outcome.sidecar.read_text())
        assert {r["key"]: (r["record"], r["finished"]) for r in store.query(
            "SELECT key, record, finished FROM jobs WHERE state='done'")} == stored  # nothing ran again
    finally:
        store.close()
    assert again["timeline"]["start_tc"] == "02:00:00;00"
    assert again["probe"]["start_tc"] == "02:00:00;00" and again["probe"]["tc_source"] == "camera-xml"
    assert [(m["frame"], m["tc"]) for m in again["markers"]] == [(40, "02:00:01;10"), (70, "02:00:02;10")]
    items = again["analyses"]["shots"]["items"]
    assert [(it["start_frame"], it["start_tc"], it["end_tc"]) for it in items] == [
        (0, "02:00:00;00", "02:00:01;10"),
        (40, "02:00:01;10", "02:00:02;10"),
        (70, "02:00:02;10", "02:00:04;00"),
    ]
    tl = otio.adapters.read_from_file(str(workspace["out"] / "A001.mov.otio"))
    assert next(iter(tl.find_clips())).source_range.start_time.value == tc_to_frames("02:00:00;00", pr.rate)


def test_rename_removes_the_outputs_of_a_long_named_clip(workspace: dict[str, Path]) -> None:
    long = workspace["root"] / ("L" * 246 + ".mp4")  # 250 bytes: the outputs' names are shortened
    cuts_clip(long, [("testsrc2", 25), ("color=c=blue", 25)], audio=False)
    config = load_config(workspace["config"])
    out = clip_out_dir(None, long, config)
    assert out == output_dir_for(long, config) and clip_out_dir(str(workspace["out"]), long, config) == out
    store = JobStore(config.state.dir / "kinod.sqlite")
    try:
        processor = ClipProcessor(config, store)
        assert processor.process(long, out).ok
        written = _outputs(out)
        assert len(written) > 3 and all(len(os.fsencode(p.name)) <= 255 for p in written)
        assert {p for p in clip_outputs(long, out, config) if p.exists()} == written  # it names every one

        short = long.with_name("A001.mp4")
        long.rename(short)
        assert processor.process(short, out).ok  # same content: the old name's outputs go
    finally:
        store.close()
    assert not any(p.exists() for p in clip_outputs(long, out, config))
    assert _outputs(out) == {p for p in clip_outputs(short, out, config) if p.exists()}


def _outputs(out: Path) -> set[Path]:
    """The files in an output folder, and each clip's keyframes folder."""
    return {p for p in out.iterdir() if p.name != "keyframes"} | set((out / "keyframes").iterdir())
