"""What the vision model is sent (shot keyframes as base64 JPEG, transcript excerpt) and must answer.

The answer asked for, FineVideo-style: a caption per shot and a clip summary saying what
happens, who is there, where, and the mood. The reply is checked by
:mod:`kinod.analyzers.llm_client`; a shot number the model invents is ignored.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

KEY = "analyzers.describe.url"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["shots", "summary"],
    "properties": {
        "shots": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["shot", "caption"],
                "properties": {"shot": {"type": "integer"}, "caption": {"type": "string"}},
            },
        },
        "summary": {
            "type": "object",
            "required": ["what_happens", "who", "where", "mood"],
            "properties": {
                "what_happens": {"type": "string"},
                "who": {"type": "string"},
                "where": {"type": "string"},
                "mood": {"type": "string"},
            },
        },
    },
}
SCHEMA_SUMMARY_KEYS = ("what_happens", "who", "where", "mood")
SYSTEM = (
    "You describe video footage for film editors: plainly, what is visible and audible, no guesses "
    "about identity beyond what is shown or said. Answer in JSON only."
)


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def messages(
    clip_name: str, shots: list[tuple[int, float, float, Path]], transcript: str, tag_lines: dict[int, str]
) -> list[dict[str, Any]]:
    """One user message: the task, then per shot its number, times, tag line and keyframe picture."""
    intro = [
        f"Clip {clip_name}: {len(shots)} shots, each with its keyframe below.",
        f"Transcript excerpt: {transcript}" if transcript else "No speech was transcribed.",
        "Reply with JSON: shots = [{shot, caption}] (one sentence each, by shot number) and summary = "
        "{what_happens, who, where, mood}.",
    ]
    content: list[dict[str, Any]] = [{"type": "text", "text": "\n".join(intro)}]
    for n, start, end, jpeg in shots:
        hint = f" (automatic tags: {tag_lines[n]})" if tag_lines.get(n) else ""
        content.append({"type": "text", "text": f"Shot {n}, {_mmss(start)}-{_mmss(end)}{hint}:"})
        data = base64.b64encode(jpeg.read_bytes()).decode("ascii")
        content.append({"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{data}"}})
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": content}]
