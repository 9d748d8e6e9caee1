"""The ocr analyzer: on-screen text with box, confidence and time range, and slates.

A model analyzer reading the analysis cache. Each shot (from ``shots``; the whole clip
without it) is split where its picture changes (a lower third coming in, a slate leaving)
and one picture per part is read: the shot's keyframe for the part that holds it. The
same text read in neighbouring parts is merged into one item whose range spans them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import structlog

from kinod.analyzers.base import (
    ClipInfo,
    FrameNeeds,
    Marker,
    MarkerCategorySpec,
    ModelAnalyzer,
    ModelInfo,
    Needs,
    ReadContext,
    Resources,
    Result,
    SearchEntry,
    UiSection,
)
from kinod.analyzers.ocr import engine, lines, reading
from kinod.analyzers.ocr.config import OcrConfig
from kinod.analyzers.ocr.shot_parts import ShotPart, plan_parts
from kinod.analyzers.ocr.slate import read_slate
from kinod.analyzers.ocr.timecode import tc_markers, tc_summary, timecode_item
from kinod.analyzers.shotlist import shot_ranges

log = structlog.get_logger(__name__)
_ENGINES: dict[tuple[int, bool, int, int], engine.OcrEngine] = {}
_ENGINES_LOCK = threading.Lock()


class OcrAnalyzer(ModelAnalyzer):
    name = "ocr"
    version = "3"
    needs: ClassVar[Needs] = Needs(
        cache=True, results_of=("shots",), cache_frames=FrameNeeds(every_frame=False, sample_fps=1.0, width=1280)
    )
    resources: ClassVar[Resources] = Resources(cpu=1, ram_mb=768)
    Config = OcrConfig
    marker_categories: ClassVar[tuple[MarkerCategorySpec, ...]] = (
        MarkerCategorySpec("text", "CYAN", "On-screen text", order=70, search_kind=None),
    )

    @classmethod
    def search_entries(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[SearchEntry]:
        return reading.search_entries(record, ctx)

    @classmethod
    def ui_sections(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]:
        return reading.ui_sections(record, ctx)

    def __init__(self, config: Any = None, runtime: Any = None) -> None:
        super().__init__(config, runtime)
        self.cfg: OcrConfig = self.config  # type: ignore[assignment]
        self._engine: engine.OcrEngine | None = None
        self._results: dict[str, Any] = {}

    def configure_needs(self, needs: Needs) -> Needs:
        c: OcrConfig = self.config  # type: ignore[assignment]
        frames = FrameNeeds(every_frame=False, sample_fps=c.sample_fps, width=c.width)
        return Needs(cache=True, results_of=needs.results_of, cache_frames=frames)

    def checks(self) -> list[tuple[str, bool, str]]:
        """``kinod doctor`` rows: the packaged models and their sha256 (not loaded)."""
        try:
            paths = engine.verify()
            return [("ocr models", True, f"{len(paths)} PP-OCR models verified in {engine.package_dir()}")]
        except Exception as e:
            return [("ocr models", False, str(e))]

    def model_info(self) -> ModelInfo | None:
        return ModelInfo("pp-ocrv4", engine.MODEL_ID, engine.DISTRIBUTION)

    def use_results(self, results: Mapping[str, Result]) -> None:
        self._results = dict(results)

    def _load(self) -> engine.OcrEngine:
        if self._engine is None:
            import onnxruntime as ort

            device = self.cfg.device or self.runtime.device
            cuda = device != "cpu" and "CUDAExecutionProvider" in ort.get_available_providers()
            key = (max(1, self.resources.cpu), cuda, self.cfg.detector_side, self.cfg.layout_side)
            with _ENGINES_LOCK:  # one engine per process: instances are made per job
                if key not in _ENGINES:
                    _ENGINES[key] = engine.OcrEngine(key[0], cuda, detector_side=key[2], layout_side=key[3])
                self._engine = _ENGINES[key]
        return self._engine

    def run(self, clip: ClipInfo, cache: Any) -> Result:
        info = self.model_info()
        if not getattr(cache, "has_frames", False):
            return Result(summary={"status": "no_picture", "reason": "the analysis cache holds no frames"}, model=info)
        shots = shot_ranges(self._results.get("shots"), clip.frames)
        items: list[dict[str, Any]] = []
        warnings: list[str] = []
        slate: dict[str, str] = {}
        slate_frame: int | None = None
        reads = rereads = 0
        tc_items: list[dict[str, Any]] = []
        for n, (start, end, key) in enumerate(shots):
            try:
                parts = self._parts(cache, start, end, key)
            except ValueError as e:
                warnings.append(f"shot {n + 1} (frames {start}-{end}): {e}")
                continue
            boxes = None
            for part in parts:
                frame = part.frame
                if part.full or boxes is None:
                    reading = self._load().read_full(frame.image)
                    found, boxes, reads = reading.lines, reading.boxes, reads + 1
                else:
                    found, rereads = self._load().read_at(frame.image, boxes), rereads + 1
                text_lines, windows = self._sorted_lines(found, frame.image.shape[0])
                h, w = frame.image.shape[:2]
                items += [_item(t, w, h, part.start, part.end) for t in text_lines]
                tc_items += [timecode_item(t, tc, frame.index, clip) for t, tc in windows]
                if self.cfg.slates and not slate:
                    got = read_slate(text_lines)
                    if got:
                        slate, slate_frame = got, frame.index
        items = _merge(items)
        markers = [
            Marker("text", it["start_frame"], it["text"], it["end_frame"] - it["start_frame"], "on-screen text",
                   round(it["confidence"], 3))
            for it in items
        ]  # fmt: skip
        summary: dict[str, Any] = {"reads": reads, "rereads": rereads, "lines": len(items)}
        if tc_items:
            summary["burned_in_tc"] = tc_summary(tc_items)
            markers += tc_markers(tc_items)
            items += tc_items
        if slate:
            summary["slate"] = slate
            summary["slate_frame"] = slate_frame
            name = " ".join(f"{k} {slate[k]}" for k in ("roll", "scene", "take") if k in slate)
            detail = ", ".join(f"{k} {v}" for k, v in slate.items())
            markers.insert(0, Marker("text", slate_frame or 0, f"Slate: {name}", 0, detail))
        return Result(items=items, summary=summary, markers=markers, model=info, warnings=warnings)

    def read_picture(self, image: np.ndarray) -> tuple[list[engine.TextBox], list[tuple[engine.TextBox, str]]]:
        """The text lines of one picture (joined, fragments dropped), and its timecode windows apart."""
        return self._sorted_lines(self._load().read(image), image.shape[0])

    def _sorted_lines(
        self, boxes: list[engine.TextBox], height: int
    ) -> tuple[list[engine.TextBox], list[tuple[engine.TextBox, str]]]:
        found = lines.join_lines(boxes, self.cfg.line_gap)
        found = lines.kept(found, self.cfg.min_height * height, self.cfg.min_confidence)
        text_lines: list[engine.TextBox] = []
        windows: list[tuple[engine.TextBox, str]] = []
        for t in found:
            tc = lines.burned_in_tc(t.text)
            if tc is None:
                text_lines.append(t)
            else:
                windows.append((t, tc))
        return text_lines, windows

    def _parts(self, cache: Any, start: int, end: int, key: int | None) -> list[ShotPart]:
        """The shot's parts to read (:mod:`shot_parts`): split where the picture changes."""
        frames = list(cache.frames(fps=self.cfg.sample_fps, start_frame=start, end_frame=end))
        if not frames:
            near = cache.frame_near(key if key is not None else (start + end) // 2)
            return [ShotPart(start, end, near, True)] if near is not None else []
        return plan_parts(
            frames,
            start,
            end,
            key,
            change_threshold=self.cfg.change_threshold,
            max_full_reads=self.cfg.max_reads_per_shot,
            layout=self._load().layout if self.cfg.layout_side else None,
        )


def _item(t: engine.TextBox, w: int, h: int, start: int, end: int) -> dict[str, Any]:
    return {
        "text": t.text,
        "confidence": round(t.confidence, 4),
        "box": list(t.box),
        "frame_width": w,
        "frame_height": h,
        "start_frame": start,
        "end_frame": end,
    }


def _iou(a: list[int], b: list[int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


def _merge(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Same text at about the same place in touching ranges becomes one item."""
    out: list[dict[str, Any]] = []
    for it in sorted(items, key=lambda i: (i["start_frame"], i["box"][1], i["box"][0])):
        for prev in reversed(out):
            if prev["end_frame"] < it["start_frame"]:
                continue
            if prev["text"].casefold() == it["text"].casefold() and _iou(prev["box"], it["box"]) > 0.3:
                prev["end_frame"] = max(prev["end_frame"], it["end_frame"])
                prev["confidence"] = max(prev["confidence"], it["confidence"])
                break
        else:
            out.append(it)
    return out
