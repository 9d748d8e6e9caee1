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

from collections.abc import Mapping
from typing import Any

from kinod.analyzers.alignment import snap_range
from kinod.analyzers.base import ClipInfo, Marker, Result
from kinod.analyzers.categories.config import CategoriesConfig
from kinod.analyzers.categories.taxonomy import Leaf
from kinod.analyzers.llm_client import Endpoint, chat_json, parse_json
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
    endpoint = Endpoint(
        url=str(cfg.llm_url), model=cfg.llm_model, timeout_s=cfg.llm_timeout_s, key=KEY, api_key=cfg.llm_api_key
    )
    messages = [
        {"role": "system", "content": "You annotate video clips for film editors. Answer in JSON."},
        {"role": "user", "content": text},
    ]
    return chat_json(endpoint, messages, SCHEMA)


def parse_reply(content: str) -> dict[str, Any]:
    """The reply's JSON object (code fences allowed), or an AnalyzerError naming the key and the fault."""
    return parse_json(content, SCHEMA, KEY)


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
