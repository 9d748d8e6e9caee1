"""Optional LLM endpoint (OpenAI-compatible: llama.cpp server, vLLM, Ollama) for summary, scenes, category.

Why optional and remote: packaged tiny LLMs scored 1-4 right out of 10 here, so none is
bundled; a site that runs a real model can point ``analyzers.categories.llm_url`` at it.
The request asks for JSON matching :data:`SCHEMA` (``response_format`` json_schema, which
those servers enforce); the reply is still checked here, and anything malformed is an
:class:`AnalyzerError` naming the key, which fails this analyzer only. Every time range
in the reply is parsed leniently and snapped to the shot cuts (:mod:`kinod.analyzers.alignment`);
ranges that cannot be placed are recorded in ``summary.llm.rejected`` with the reason.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from kinod.analyzers.alignment import snap_range
from kinod.analyzers.base import AnalyzerError, ClipInfo, Marker, Result
from kinod.analyzers.categories.config import CategoriesConfig
from kinod.analyzers.categories.taxonomy import Leaf
from kinod.analyzers.shotlist import cut_frames

KEY = "analyzers.categories.llm_url"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["summary", "category", "scenes"],
    "properties": {
        "summary": {"type": "string"},
        "category": {"type": "string"},
        "scenes": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["start", "end", "title", "description", "mood", "key_moments"],
                "properties": {
                    "start": {"type": "string"},
                    "end": {"type": "string"},
                    "title": {"type": "string"},
                    "description": {"type": "string"},
                    "mood": {"type": "string"},
                    "key_moments": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def prompt(clip: ClipInfo, results: Mapping[str, Any], leaves: list[Leaf]) -> str:
    """What the model is told: cuts, transcript with times, on-screen text, tags, and the categories."""
    rate = float(clip.rate) if clip.rate else 25.0
    lines = [f"Clip: {clip.path.name}, {clip.frames / rate:.1f} s long."]
    cuts = cut_frames(results.get("shots"))
    if cuts:
        lines.append("Shot cuts at: " + ", ".join(_mmss(c / rate) for c in cuts))
    for it in getattr(results.get("speech"), "items", None) or []:
        if isinstance(it, dict) and it.get("text"):
            lines.append(f"[{_mmss(float(it.get('start_frame', 0)) / rate)}] {it['text']}")
    texts = [it.get("text") for it in getattr(results.get("ocr"), "items", None) or [] if isinstance(it, dict)]
    if texts:
        lines.append("On-screen text: " + "; ".join(dict.fromkeys(str(t) for t in texts if t)))
    lines.append("Categories: " + "; ".join(" > ".join(leaf.path) for leaf in leaves))
    lines.append(
        "Reply with JSON only: a one-paragraph summary, the best category (as written above), and scenes "
        'with start and end as m:ss or "end", a title, a description, a mood and key moments.'
    )
    return "\n".join(lines)


def request(cfg: CategoriesConfig, text: str) -> dict[str, Any]:
    """POST to ``{llm_url}/chat/completions`` and return the reply's JSON object (checked against SCHEMA)."""
    url = str(cfg.llm_url).rstrip("/") + "/chat/completions"
    body = {
        "model": cfg.llm_model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": "You annotate video clips for film editors. Answer in JSON."},
            {"role": "user", "content": text},
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": "kinod_clip", "schema": SCHEMA}},
    }
    headers = {"Content-Type": "application/json"}
    if cfg.llm_api_key:
        headers["Authorization"] = f"Bearer {cfg.llm_api_key}"
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=cfg.llm_timeout_s) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as e:
        raise AnalyzerError(f"{KEY}: {url} answered HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        raise AnalyzerError(f"{KEY}: cannot reach {url} ({getattr(e, 'reason', e)})") from None
    try:
        content = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise AnalyzerError(f"{KEY}: {url}: not an OpenAI-style chat completion reply") from None
    return parse_reply(str(content))


def parse_reply(content: str) -> dict[str, Any]:
    """The reply's JSON object (code fences allowed), or AnalyzerError saying what is wrong."""
    text = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", content.strip())
    try:
        data = json.loads(text)
    except ValueError as e:
        raise AnalyzerError(f"{KEY}: the reply is not JSON ({e}): {content[:200]!r}") from None
    problem = _check(data, SCHEMA, "reply")
    if problem:
        raise AnalyzerError(f"{KEY}: malformed reply: {problem}")
    return data


def _check(value: Any, schema: dict[str, Any], where: str) -> str | None:
    kind = schema["type"]
    types = {"object": dict, "array": list, "string": str}
    if not isinstance(value, types[kind]):
        return f"{where} must be a {kind}, not {type(value).__name__}"
    if kind == "object":
        for key in schema.get("required", []):
            if key not in value:
                return f"{where} lacks {key!r}"
        for key, sub in schema.get("properties", {}).items():
            if key in value and (problem := _check(value[key], sub, f"{where}.{key}")):
                return problem
    if kind == "array":
        for i, item in enumerate(value):
            if problem := _check(item, schema["items"], f"{where}[{i}]"):
                return problem
    return None


def annotate(
    cfg: CategoriesConfig, clip: ClipInfo, results: Mapping[str, Any], leaves: list[Leaf], result: Result
) -> None:
    """Ask the endpoint and add its summary, category and snapped scenes to ``result``."""
    reply = request(cfg, prompt(clip, results, leaves))
    rate = float(clip.rate) if clip.rate else 25.0
    cuts = cut_frames(results.get("shots"))
    rejected: list[dict[str, Any]] = []
    for scene in reply["scenes"]:
        fields, why = snap_range(
            scene["start"], scene["end"], cuts=cuts, rate=rate, frames=clip.frames, snap_s=cfg.snap_s,
            reject_s=cfg.reject_s,
        )  # fmt: skip
        if fields is None:
            rejected.append({"title": scene["title"], "start": scene["start"], "end": scene["end"], "reason": why})
            continue
        result.items.append(
            {**fields, "title": scene["title"], "description": scene["description"], "mood": scene["mood"],
             "key_moments": scene["key_moments"], "source": "llm"}
        )  # fmt: skip
        result.markers.append(Marker("tag", fields["start_frame"], f"Scene: {scene['title']}", 0, scene["description"]))
    wanted = reply["category"].strip().casefold()
    path = next(
        (list(leaf.path) for leaf in leaves if wanted in (" > ".join(leaf.path).casefold(), leaf.path[-1].casefold())),
        None,
    )
    local = result.summary.get("top") or []
    result.summary["llm"] = {
        "summary": reply["summary"],
        "category": reply["category"],
        "category_path": path,
        # Recorded beside the local answer (summary.top), never in its place: a reader sees both.
        "agrees_with_local": bool(path and local and path == local[0]["path"]),
        "rejected": rejected,
        "model": cfg.llm_model,
    }
