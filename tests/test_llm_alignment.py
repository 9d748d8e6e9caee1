"""Time ranges snapped to cuts, and the optional LLM endpoint against a local fake OpenAI-compatible server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from media import cuts_clip

from kinod.analyzers.alignment import TimeParseError, parse_time, snap_range
from kinod.analyzers.base import AnalyzerError
from kinod.analyzers.categories import CategoriesAnalyzer
from kinod.analyzers.categories.llm import parse_reply
from kinod.analyzers.shots import ShotsAnalyzer
from kinod.config import load_config
from kinod.jobs.store import JobStore
from kinod.run.processor import ClipProcessor


def test_lenient_times() -> None:
    assert parse_time("1:05", 90) == 65.0
    assert parse_time("65s", 90) == parse_time("1m5s", 90) == parse_time("65", 90) == 65.0
    assert parse_time("00:01:05.5", 90) == 65.5 and parse_time("end", 90) == 90.0 and parse_time(" Start ", 9) == 0
    with pytest.raises(TimeParseError, match="soon"):
        parse_time("soon", 90)


def test_snapping_is_recorded_per_boundary() -> None:
    got, why = snap_range("0:10", "0:21.4", cuts=[250, 500], rate=25, frames=1000, snap_s=2, reject_s=5)
    assert why is None and got is not None
    assert (got["start_frame"], got["start_snapped_to_cut"], got["start_snap_frames"]) == (250, True, 0)
    assert (got["end_frame"], got["end_snapped_to_cut"], got["end_snap_frames"]) == (500, True, -35)
    got, _ = snap_range("5", "15", cuts=[250], rate=25, frames=1000, snap_s=2, reject_s=5)
    assert got is not None and got["start_snapped_to_cut"] is False and got["end_frame"] == 375
    assert snap_range("0:30", "9:00", cuts=[], rate=25, frames=1000, snap_s=2, reject_s=5)[0] is None


class _Fake(BaseHTTPRequestHandler):
    reply: str = ""
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"path": self.path, "body": body})
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": type(self).reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def fake_llm() -> Iterator[type[_Fake]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Fake.seen = []
    _Fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"  # type: ignore[attr-defined]
    try:
        yield _Fake
    finally:
        server.shutdown()
        server.server_close()


def _run(tmp: Path, url: str) -> dict[str, Any]:
    for d in ("footage", "out", "var"):
        (tmp / d).mkdir(exist_ok=True)
    cfg = tmp / "config.toml"
    cfg.write_text(
        f'[[watch.roots]]\npath = "{tmp / "footage"}"\n[output]\nroot = "{tmp / "out"}"\n'
        f'[state]\ndir = "{tmp / "var"}"\n[logging]\nformat = "json"\n[analyzers]\nenabled = ["shots", "categories"]\n'
        f'[analyzers.categories]\nllm_url = "{url}"\nllm_timeout_s = 20\n'
    )
    # 80 s at 10 fps, small: cuts at 30 s (frame 300) and 63.5 s (frame 635).
    clip = cuts_clip(tmp / "footage" / "long.mp4", [("color=c=red", 300), ("testsrc2", 335), ("color=c=blue", 165)],
                     rate="10", size="128x72", audio=False)  # fmt: skip
    config = load_config(cfg)
    store = JobStore(config.state.dir / "kinod.sqlite")
    try:
        outcome = ClipProcessor(config, store, classes=[ShotsAnalyzer, CategoriesAnalyzer]).process(clip, tmp / "out")
    finally:
        store.close()
    return json.loads(Path(str(outcome.sidecar)).read_text())


def test_llm_ranges_snap_to_the_cuts_of_a_generated_clip(tmp_path: Path, fake_llm: type[_Fake]) -> None:
    fake_llm.reply = "```json\n" + json.dumps({
        "summary": "A red card, a test pattern, then blue.",
        "category": "Science & Technology > Science",
        "scenes": [
            {"start": "0:00", "end": "1:05", "title": "Opening", "description": "red then pattern", "mood": "calm",
             "key_moments": ["the pattern starts"]},
            {"start": "1:05", "end": "end", "title": "Blue", "description": "blue", "mood": "cool", "key_moments": []},
            {"start": "0:45", "end": "0:50", "title": "Middle", "description": "x", "mood": "-", "key_moments": []},
            {"start": "2:30", "end": "end", "title": "Ghost", "description": "x", "mood": "-", "key_moments": []},
        ],
    }) + "\n```"  # fmt: skip
    side = _run(tmp_path, fake_llm.url)  # type: ignore[attr-defined]
    cat = side["analyses"]["categories"]
    assert fake_llm.seen and fake_llm.seen[0]["path"] == "/v1/chat/completions"
    sent = fake_llm.seen[0]["body"]
    assert sent["response_format"]["type"] == "json_schema"
    assert "Shot cuts at: 0:30.0, 1:03.5" in sent["messages"][1]["content"]
    opening, blue, middle = cat["items"]
    assert (opening["start_frame"], opening["end_frame"]) == (0, 635)
    assert opening["end_snapped_to_cut"] is True and opening["end_snap_frames"] == -15
    assert (blue["start_frame"], blue["end_frame"], blue["end_snapped_to_cut"]) == (635, 800, True)
    assert (middle["start_frame"], middle["start_snapped_to_cut"]) == (450, False)
    assert blue["start_s"] == 63.5 and opening["key_moments"] == ["the pattern starts"]
    llm = cat["summary"]["llm"]
    assert llm["category_path"] == ["Science & Technology", "Science"]
    # Recorded beside the local answer, never in its place.
    local = cat["summary"]["top"][0]["path"] if cat["summary"]["top"] else None
    assert llm["agrees_with_local"] is (local == llm["category_path"])
    assert [r["title"] for r in llm["rejected"]] == ["Ghost"] and "outside the clip" in llm["rejected"][0]["reason"]


def test_malformed_reply_fails_that_analyzer_only(tmp_path: Path, fake_llm: type[_Fake]) -> None:
    fake_llm.reply = '{"summary": "no scenes here"}'
    side = _run(tmp_path, fake_llm.url)  # type: ignore[attr-defined]
    assert "shots" in side["analyses"] and "categories" not in side["analyses"]
    (err,) = [e for e in side["errors"] if e.get("analyzer") == "categories"]
    assert "analyzers.categories.llm_url: malformed reply: reply lacks 'category'" in err["message"]


def test_reply_checks() -> None:
    with pytest.raises(AnalyzerError, match="not JSON"):
        parse_reply("Sure! Here is the JSON you asked for")
    with pytest.raises(AnalyzerError, match=r"reply\.scenes\[0\]\.key_moments must be a array"):
        scene = {"start": "0", "end": "1", "title": "", "description": "", "mood": "", "key_moments": "none"}
        parse_reply(json.dumps({"summary": "", "category": "", "scenes": [scene]}))
