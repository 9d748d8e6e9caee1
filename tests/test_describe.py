"""The describe analyzer against a stand-in OpenAI-compatible vision server (the same API, on loopback).

Real parts: a real HTTP server in a thread, real JPEG keyframes (scikit-image's astronaut and
coffee) where the shots analyzer writes them, real Result objects of shots, speech and visual.
The server's behaviour per test: a good answer, a stall past the timeout, an answer that is
not JSON, a refusal, an HTTP error.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import pytest
from skimage import data as skdata

from kinod.analyzers.base import ClipInfo, Result, RuntimeContext
from kinod.analyzers.describe import DescribeAnalyzer, DescribeConfig
from kinod.analyzers.llm_client import Endpoint, LlmError, chat_json

GOOD = {
    "shots": [
        {"shot": 1, "caption": "An astronaut in a white suit poses before a flag."},
        {"shot": 2, "caption": "A cup of coffee on a saucer, seen from above."},
        {"shot": 9, "caption": "A shot that was never sent."},
    ],
    "summary": {"what_happens": "A portrait, then a coffee cup.", "who": "An astronaut", "where": "A studio",
                "mood": "calm"},
}  # fmt: skip


class StandIn:
    """What the server answers next, what it was sent, and an event that releases a stalled answer."""

    def __init__(self) -> None:
        self.mode = "good"
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()


def _handler(state: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append({"path": self.path, "body": body})
            if state.mode == "stall":
                state.release.wait(10)  # released by the test once the client has given up
            if state.mode == "http":
                self.send_error(503, "model loading")
                return
            message: dict[str, Any] = {"role": "assistant", "content": json.dumps(GOOD)}
            if state.mode == "not_json":
                message["content"] = "Sure! The first shot shows an astronaut."
            if state.mode == "refused":
                message = {"role": "assistant", "content": None, "refusal": "I can't describe people."}
            raw = json.dumps({"choices": [{"index": 0, "message": message}]}).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except OSError:
                pass  # the client gave up (timeout test)

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, StandIn]]:
    state = StandIn()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _clip(tmp_path: Path) -> tuple[ClipInfo, dict[str, Result]]:
    """A 10 s clip of two shots whose keyframes the shots analyzer saved, with words and tag lines."""
    art = tmp_path / "artefacts"
    art.mkdir()
    for name, img in (("shot_0000000.jpg", skdata.astronaut()), ("shot_0000125.jpg", skdata.coffee())):
        cv2.imwrite(str(art / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    shots = Result(items=[
        {"index": 1, "start_frame": 0, "end_frame": 125, "keyframe": 60, "thumbnail": "shot_0000000.jpg"},
        {"index": 2, "start_frame": 125, "end_frame": 250, "keyframe": 190, "thumbnail": "shot_0000125.jpg"},
    ])  # fmt: skip
    speech = Result(items=[{"start_frame": 10, "end_frame": 80, "text": "Welcome aboard the station."}])
    visual = Result(items=[
        {"start_frame": 0, "end_frame": 125, "description": "Medium shot, one person, flag", "generated_from": "tags"},
        {"start_frame": 125, "end_frame": 250, "description": "Close-up, cup, espresso", "generated_from": "tags"},
    ])  # fmt: skip
    clip = ClipInfo(tmp_path / "clip.mov", None, Fraction(25), 250, art)  # type: ignore[arg-type]
    return clip, {"shots": shots, "speech": speech, "visual": visual}


def _run(tmp_path: Path, url: str | None, **cfg: Any) -> Result:
    clip, results = _clip(tmp_path)
    analyzer = DescribeAnalyzer(DescribeConfig(url=url, model="llava-test", **cfg), RuntimeContext(tmp_path / "s"))
    analyzer.use_results(results)
    return analyzer.run(clip, None)


def test_captions_and_summary_recorded_beside_the_tag_lines(tmp_path: Path, server: tuple[str, StandIn]) -> None:
    url, state = server
    result = _run(tmp_path, url)
    assert result.summary["status"] == "ok" and result.summary["generated_from"] == "llava-test"
    assert result.summary["summary"]["who"] == "An astronaut"
    assert set(result.summary["summary"]) == {"what_happens", "who", "where", "mood"}
    first, second = result.items
    assert first["caption"].startswith("An astronaut") and first["generated_from"] == "llava-test"
    assert first["tag_description"] == "Medium shot, one person, flag" and first["tag_generated_from"] == "tags"
    assert second["caption"].startswith("A cup of coffee")
    assert result.summary["ignored_captions"] == 1  # shot 9 was never sent
    # What was sent: both keyframes as base64 JPEG, the transcript excerpt, the tag lines.
    sent = state.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["body"]["model"] == "llava-test"
    content = sent["body"]["messages"][1]["content"]
    images = [c["image_url"]["url"] for c in content if c["type"] == "image_url"]
    assert len(images) == 2 and all(u.startswith("data:image/jpeg;base64,") for u in images)
    assert base64.b64decode(images[0].split(",", 1)[1])[:2] == b"\xff\xd8"
    said = " ".join(c["text"] for c in content if c["type"] == "text")
    assert "Welcome aboard the station." in said and "Close-up, cup, espresso" in said


@pytest.mark.parametrize("mode", ["not_json", "refused", "http"])
def test_a_bad_answer_leaves_the_tag_lines_and_says_why(tmp_path: Path, server: tuple[str, StandIn], mode: str) -> None:
    url, state = server
    state.mode = mode
    result = _run(tmp_path, url)
    assert result.summary["status"] == mode, result.summary
    assert "analyzers.describe.url" in result.summary["reason"]
    assert all("caption" not in it and it["tag_generated_from"] == "tags" for it in result.items)
    assert result.warnings and "tag-based lines stand" in result.warnings[0]


def test_a_stalled_endpoint_times_out(tmp_path: Path, server: tuple[str, StandIn]) -> None:
    url, state = server
    state.mode = "stall"
    result = _run(tmp_path, url, timeout_s=0.5)
    state.release.set()
    assert result.summary["status"] == "timeout", result.summary
    assert all("caption" not in it for it in result.items)


def test_without_url_only_tag_lines_and_no_request(tmp_path: Path, server: tuple[str, StandIn]) -> None:
    _url, state = server
    result = _run(tmp_path, None)
    assert result.summary["status"] == "off" and not state.requests
    assert [it["tag_description"] for it in result.items] == [
        "Medium shot, one person, flag",
        "Close-up, cup, espresso",
    ]


def test_unreachable_and_malformed_replies_are_named(server: tuple[str, StandIn]) -> None:
    url, _state = server
    dead = Endpoint("http://127.0.0.1:9/v1", "m", 2.0, "k.url")
    with pytest.raises(LlmError) as e:
        chat_json(dead, [{"role": "user", "content": "hi"}], {"type": "object"})
    assert e.value.kind == "unreachable" and "k.url" in str(e.value)
    schema = {"type": "object", "required": ["missing"], "properties": {"missing": {"type": "string"}}}
    with pytest.raises(LlmError) as e:
        chat_json(Endpoint(url, "m", 5.0, "k.url"), [{"role": "user", "content": "hi"}], schema)
    assert e.value.kind == "malformed" and "lacks 'missing'" in str(e.value)


def test_page_and_search_show_the_caption_beside_the_tag_line(tmp_path: Path, server: tuple[str, StandIn]) -> None:
    from kinod.analyzers.base import ReadContext

    url, _state = server
    result = _run(tmp_path, url)
    record = {
        "items": [{**it, "start_s": it["start_frame"] / 25, "end_s": it["end_frame"] / 25} for it in result.items]
    }
    ctx = ReadContext(duration_s=10.0)
    (section,) = DescribeAnalyzer.ui_sections(record, ctx)
    first = section.rows[0]["text"]
    assert "An astronaut" in first and "[llava-test]" in first and "tags: Medium shot, one person, flag" in first
    entries = DescribeAnalyzer.search_entries(record, ctx)
    assert entries[0].text.startswith("An astronaut") and entries[1].start_s == 5.0
