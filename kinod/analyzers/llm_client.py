"""A small client for OpenAI-compatible chat endpoints (llama.cpp server, vLLM, Ollama) that answer JSON.

Why here, not in one analyzer: the categories analyzer's endpoint and the optional
vision descriptions speak the same API, and both must tell a person *why* a reply was
not used. Every failure is an :class:`LlmError` whose ``kind`` says what happened
("unreachable", "timeout", "http", "not_chat", "refused", "not_json", "malformed") and
whose message names the config key; the caller decides whether that fails the analyzer
or falls back. A reply is checked against a small JSON-schema subset (object, array,
string, required keys) because not every server enforces ``response_format``.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from kinod.analyzers.base import AnalyzerError


class LlmError(AnalyzerError):
    """The endpoint's answer could not be used; ``kind`` says why (see the module docstring)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Endpoint:
    """Where to ask and how long to wait; ``key`` is the config key named in errors."""

    url: str
    model: str
    timeout_s: float
    key: str
    api_key: str | None = None


def chat_json(endpoint: Endpoint, messages: list[dict[str, Any]], schema: dict[str, Any]) -> dict[str, Any]:
    """POST ``messages`` to ``{url}/chat/completions`` asking for JSON matching ``schema``; the checked object."""
    url = endpoint.url.rstrip("/") + "/chat/completions"
    body = {
        "model": endpoint.model,
        "temperature": 0,
        "messages": messages,
        "response_format": {"type": "json_schema", "json_schema": {"name": "kinod", "schema": schema}},
    }
    headers = {"Content-Type": "application/json"}
    if endpoint.api_key:
        headers["Authorization"] = f"Bearer {endpoint.api_key}"
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    key = endpoint.key
    try:
        with urllib.request.urlopen(req, timeout=endpoint.timeout_s) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as e:
        raise LlmError("http", f"{key}: {url} answered HTTP {e.code} {e.reason}") from None
    except TimeoutError:
        raise LlmError("timeout", f"{key}: {url} did not answer within {endpoint.timeout_s:g} s") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            raise LlmError("timeout", f"{key}: {url} did not answer within {endpoint.timeout_s:g} s") from None
        raise LlmError("unreachable", f"{key}: cannot reach {url} ({e.reason})") from None
    except OSError as e:
        raise LlmError("unreachable", f"{key}: cannot reach {url} ({e})") from None
    try:
        message = json.loads(raw)["choices"][0]["message"]
        content = message.get("content")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise LlmError("not_chat", f"{key}: {url}: not an OpenAI-style chat completion reply") from None
    if message.get("refusal"):
        raise LlmError("refused", f"{key}: the model refused: {str(message['refusal'])[:200]}")
    return parse_json(str(content or ""), schema, key)


def parse_json(content: str, schema: dict[str, Any], key: str) -> dict[str, Any]:
    """The reply's JSON object (code fences allowed), or LlmError saying what is wrong."""
    text = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", content.strip())
    try:
        data = json.loads(text)
    except ValueError as e:
        raise LlmError("not_json", f"{key}: the reply is not JSON ({e}): {content[:200]!r}") from None
    problem = check(data, schema, "reply")
    if problem:
        raise LlmError("malformed", f"{key}: malformed reply: {problem}")
    return data


def check(value: Any, schema: dict[str, Any], where: str) -> str | None:
    """What is wrong with ``value`` against ``schema`` (types object/array/string/integer, required), or None."""
    kind = schema["type"]
    types: dict[str, Any] = {"object": dict, "array": list, "string": str, "integer": int}
    if not isinstance(value, types[kind]) or (kind == "integer" and isinstance(value, bool)):
        return f"{where} must be a {kind}, not {type(value).__name__}"
    if kind == "object":
        for key in schema.get("required", []):
            if key not in value:
                return f"{where} lacks {key!r}"
        for key, sub in schema.get("properties", {}).items():
            if key in value and (problem := check(value[key], sub, f"{where}.{key}")):
                return problem
    if kind == "array":
        for i, item in enumerate(value):
            if problem := check(item, schema["items"], f"{where}[{i}]"):
                return problem
    return None
