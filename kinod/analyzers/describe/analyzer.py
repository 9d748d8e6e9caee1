"""The describe analyzer: per-shot captions and a clip summary from a vision endpoint, beside the tag lines.

A model analyzer that reads results: ``shots`` (ranges and keyframe JPEGs under the
clip's artefact folder), ``speech`` (the transcript excerpt) and ``visual`` (the
tag-based line of each shot). Both descriptions are recorded, never one in place of the
other: each item holds ``caption`` with ``generated_from`` (the model's name) and
``tag_description`` with ``tag_generated_from: "tags"``. The tag line stays the default
and the fallback: without ``url``, or when the endpoint times out, answers something
that is not JSON, refuses, or is unreachable, the items carry only the tag lines and the
summary says why (``status`` and ``reason``); the clip's other analyses are untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from kinod.analyzers.base import (
    ClipInfo,
    ModelAnalyzer,
    ModelInfo,
    Needs,
    ReadContext,
    Resources,
    Result,
    SearchEntry,
    UiSection,
)
from kinod.analyzers.describe import request
from kinod.analyzers.describe.config import DescribeConfig
from kinod.analyzers.llm_client import Endpoint, LlmError, chat_json
from kinod.analyzers.reading import items, num, span, text
from kinod.analyzers.shotlist import shot_ranges


class DescribeAnalyzer(ModelAnalyzer):
    name = "describe"
    version = "1"
    needs: ClassVar[Needs] = Needs(cache=True, results_of=("shots", "speech", "visual"))
    resources: ClassVar[Resources] = Resources(cpu=1, ram_mb=256)
    Config = DescribeConfig

    @classmethod
    def search_entries(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[SearchEntry]:
        """Each model caption over its shot (tag lines are indexed by the visual analyzer already)."""
        out = []
        for it in items(record):
            if text(it.get("caption")):
                start, end = span(it, ctx.duration_s)
                out.append(SearchEntry("scene", start, end, text(it.get("caption")), "caption"))
        return out

    @classmethod
    def ui_sections(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]:
        """Per shot the model's caption and, beside it, the tag line (both, as recorded)."""
        rows = []
        for it in items(record):
            caption, tags = text(it.get("caption")), text(it.get("tag_description"))
            if caption or tags:
                start = num(it.get("start_s"))
                said = f"{caption} [{it.get('generated_from')}]" if caption else ""
                rows.append({"t": start, "tc": ctx.tc(start), "title": f"Shot {it.get('index')}",
                             "text": " / ".join(x for x in (said, f"tags: {tags}" if tags else "") if x)})  # fmt: skip
        return [UiSection("Descriptions", "list", rows, order=45, key="describe")] if rows else []

    def __init__(self, config: Any = None, runtime: Any = None) -> None:
        super().__init__(config, runtime)
        self.cfg: DescribeConfig = self.config  # type: ignore[assignment]
        self._results: dict[str, Any] = {}

    def checks(self) -> list[tuple[str, bool, str]]:
        where = f"{self.cfg.url} (not contacted by doctor)" if self.cfg.url else "no url: tag lines only"
        return [("vision endpoint", True, where)]

    def model_info(self) -> ModelInfo | None:
        return ModelInfo(self.cfg.model, "", f"endpoint:{self.cfg.url}") if self.cfg.url else None

    def use_results(self, results: Mapping[str, Result]) -> None:
        self._results = dict(results)

    def _shots(self, clip: ClipInfo) -> list[dict[str, Any]]:
        """Per shot: its range, the keyframe file when one exists, and the visual analyzer's tag line."""
        thumbs = {int(it["start_frame"]): it.get("thumbnail") for it in items_of(self._results.get("shots"))
                  if isinstance(it.get("start_frame"), int)}  # fmt: skip
        lines = {int(it["start_frame"]): text(it.get("description")) for it in items_of(self._results.get("visual"))
                 if isinstance(it.get("start_frame"), int)}  # fmt: skip
        out = []
        for n, (start, end, _k) in enumerate(shot_ranges(self._results.get("shots"), clip.frames), start=1):
            thumb = thumbs.get(start)
            path = clip.artefact_dir / str(thumb) if thumb else None
            item: dict[str, Any] = {"index": n, "start_frame": start, "end_frame": end}
            if lines.get(start):
                item |= {"tag_description": lines[start], "tag_generated_from": "tags"}
            out.append({"item": item, "jpeg": path if path is not None and path.is_file() else None})
        return out

    def run(self, clip: ClipInfo, cache: Any) -> Result:
        shots = self._shots(clip)
        result = Result(items=[s["item"] for s in shots], model=self.model_info())
        if not self.cfg.url:
            result.summary = {"status": "off", "reason": "no analyzers.describe.url: tag lines only"}
            return result
        rate = float(clip.rate) if clip.rate else 25.0
        sent = [(s["item"]["index"], s["item"]["start_frame"] / rate, s["item"]["end_frame"] / rate, s["jpeg"])
                for s in shots if s["jpeg"] is not None][: self.cfg.max_shots]  # fmt: skip
        if not sent:
            result.summary = {"status": "no_keyframes", "reason": "the shots analyzer saved no keyframes"}
            return result
        words = " ".join(text(it.get("text")) for it in items_of(self._results.get("speech")))
        tag_lines = {s["item"]["index"]: s["item"].get("tag_description", "") for s in shots}
        endpoint = Endpoint(self.cfg.url, self.cfg.model, self.cfg.timeout_s, request.KEY, self.cfg.api_key)
        try:
            msgs = request.messages(clip.path.name, sent, words[: self.cfg.transcript_chars], tag_lines)
            reply = chat_json(endpoint, msgs, request.SCHEMA)
        except LlmError as e:
            result.summary = {"status": e.kind, "reason": str(e), "generated_from": None}
            result.warnings.append(f"describe: {e}; the tag-based lines stand")
            return result
        self._apply(result, reply, {n for n, *_ in sent})
        return result

    def _apply(self, result: Result, reply: dict[str, Any], asked: set[int]) -> None:
        """Captions onto their shots (numbers that were not sent are ignored) and the clip summary."""
        by_index = {it["index"]: it for it in result.items}
        ignored = 0
        for shot in reply["shots"]:
            it = by_index.get(shot["shot"])
            if it is None or shot["shot"] not in asked or not shot["caption"].strip():
                ignored += 1
                continue
            it |= {"caption": shot["caption"].strip(), "generated_from": self.cfg.model}
        result.summary = {
            "status": "ok",
            "reason": "",
            "generated_from": self.cfg.model,
            "summary": {k: str(v).strip() for k, v in reply["summary"].items() if k in request.SCHEMA_SUMMARY_KEYS},
            "captions": sum(1 for it in result.items if "caption" in it),
            "ignored_captions": ignored,
        }


def items_of(result: Any) -> list[dict[str, Any]]:
    got = getattr(result, "items", None) or []
    return [it for it in got if isinstance(it, dict)]
