"""Issue 13, item 5: a truncated file is flagged (sidecar, card report, metric) and results stop at the break."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from daemon_harness import Daemon, make_clip


def test_truncated_faststart_mp4_is_flagged_and_results_end_at_the_break(tmp_path: Path) -> None:
    src = tmp_path / "src"
    good = make_clip(src / "good.mp4", 2, extra=("-movflags", "+faststart"))
    whole = make_clip(src / "whole.mp4", 6, size="320x240", src="testsrc", extra=("-movflags", "+faststart"))
    data = whole.read_bytes()
    with Daemon(tmp_path / "d") as d:
        d.start()
        stage = d.base / "stage" / "T001"
        stage.mkdir(parents=True)
        shutil.copy(good, stage / "C001.mp4")
        (stage / "C002.mp4").write_bytes(data[: int(len(data) * 0.7)])  # the copy was cut short
        stage.rename(d.root / "T001")
        d.wait_metric("kinod_cards_done_total", 1, timeout=120)
        assert d.metric("kinod_errors_total", kind="integrity") >= 1

        bad = d.sidecar("T001/C002.mp4")
        msgs = [e["message"] for e in bad["errors"] if e["stage"] == "integrity"]
        assert any("truncated" in m for m in msgs), bad["errors"]
        integ = bad["decode"]["integrity"]
        assert integ["ok"] is False and integ["problems"]
        shots = bad["analyses"]["shots"]
        cov = shots["coverage"]
        assert cov["complete"] is False and 0 < cov["until_frame"] < bad["timeline"]["frames"]
        assert all(it["start_frame"] < cov["until_frame"] for it in shots["items"])
        assert all(it.get("end_frame", 0) <= cov["until_frame"] for it in shots["items"])
        assert any("breaks" in w for w in shots["warnings"])

        ok = d.sidecar("T001/C001.mp4")
        assert ok["decode"]["integrity"]["ok"] is True and "coverage" not in ok["analyses"]["shots"]
        assert not [e for e in ok["errors"] if e["stage"] == "integrity"]

        d.wait_for(lambda: (d.out / "T001" / "card.kino.json").exists(), 30, "the card report")  # after the count
        report = json.loads((d.out / "T001" / "card.kino.json").read_text())
        assert any("C002" in p["path"] and "truncated" in p["message"] for p in report["problems"]), report
        clip = next(c for c in report["clips"] if c["name"].startswith("C002"))
        assert clip["integrity_ok"] is False
        html = (d.out / "T001" / "card.html").read_text()
        assert html.index("Problems") < html.index("<h2>Clips")
        assert d.stop() == 0


def test_model_records_are_cut_at_finalize_too() -> None:
    """A model analyzer (speech) reads the cache later; its record is cut where the pass found the break."""
    from fractions import Fraction

    from kinod.media.probe import Probe
    from kinod.run.integrity import cut_at_break
    pr = Probe(path="/x.mp4", size=1, container="mp4", duration_s=4.0, has_video=True, rate=Fraction(25), frames=100)
    rec = {"items": [{"start_frame": 10, "end_frame": 60, "text": "a"}, {"start_frame": 70, "end_frame": 80}],
           "warnings": []}
    cut_at_break({"speech": rec}, {"integrity": {"ok": False, "break_frame": 50}}, pr)
    assert rec["coverage"]["until_frame"] == 50 and rec["coverage"]["complete"] is False
    assert len(rec["items"]) == 1 and rec["items"][0]["end_frame"] == 50 and rec["items"][0]["cut_at_break"]
    whole = {"items": [{"start_frame": 70}]}
    cut_at_break({"speech": whole}, {"integrity": {"ok": True}}, pr)
    assert "coverage" not in whole
