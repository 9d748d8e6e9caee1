"""The scenes analyzer: consecutive shots grouped into scenes, each with a title and a description.

A model analyzer that reads results only (no pictures, no audio): ``shots`` (cuts),
``visual`` (what each shot shows), ``speech`` (pauses and topic), ``ocr`` and ``faces``.
A boundary candidate is every cut and every speech pause of at least ``pause_s``; a
pause is snapped to the nearest cut within ``snap_s`` (recorded per boundary, as for the
LLM's ranges). Each candidate is scored from three signs, each 0..1 (0.5 when unknown):
picture change (tags and editorial words of the shots either side), a pause in speech,
and a topic shift (MiniLM similarity of the words before and after). A candidate scoring
``threshold`` or more starts a new scene, if the scene so far is at least ``min_scene_s``.
Titles and descriptions are composed from the scene's facts (``generated_from: "facts"``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from kinod.analyzers import text_embed
from kinod.analyzers.alignment import snap
from kinod.analyzers.base import (
    AnalyzerConfig,
    ClipInfo,
    Marker,
    ModelAnalyzer,
    ModelInfo,
    Needs,
    ReadContext,
    Resources,
    Result,
    SearchEntry,
    UiSection,
)
from kinod.analyzers.reading import items, num, span, text
from kinod.analyzers.shotlist import shot_ranges


class ScenesConfig(AnalyzerConfig):
    """Keys of ``[analyzers.scenes]`` (documented in the shipped config.toml)."""

    #: Score (0..1) a boundary candidate needs to start a new scene.
    threshold: float = Field(default=0.55, ge=0.0, le=1.0)
    #: Shortest scene, seconds.
    min_scene_s: float = Field(default=3.0, ge=0.0)
    #: A gap in speech at least this long is a boundary candidate (and a sign of one at a cut).
    pause_s: float = Field(default=1.0, gt=0.0)
    #: A speech pause snaps to the nearest cut within this many seconds.
    snap_s: float = Field(default=2.0, ge=0.0)
    #: Weights of the three signs: picture change, speech pause, topic shift.
    weights: tuple[float, float, float] = (0.4, 0.3, 0.3)
    #: Words on either side of a candidate compared for a topic shift.
    topic_words: int = Field(default=40, ge=5)


class ScenesAnalyzer(ModelAnalyzer):
    name = "scenes"
    version = "1"
    needs: ClassVar[Needs] = Needs(cache=True, results_of=("shots", "visual", "speech", "ocr", "faces"))
    resources: ClassVar[Resources] = Resources(cpu=1, ram_mb=384)
    Config = ScenesConfig

    @classmethod
    def search_entries(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[SearchEntry]:
        """Each scene's title and description, over the scene."""
        out = []
        for it in items(record):
            said = ". ".join(x for x in (text(it.get("title")), text(it.get("description"))) if x)
            if said:
                start, end = span(it, ctx.duration_s)
                out.append(SearchEntry("scene", start, end, said, text(it.get("title"))))
        return out

    @classmethod
    def ui_sections(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]:
        rows = [
            {"t": num(it.get("start_s")), "tc": ctx.tc(num(it.get("start_s"))), "title": str(it.get("title") or ""),
             "text": str(it.get("description") or "")}
            for it in items(record)
        ]
        return [UiSection("Scenes", "list", rows, order=40, key="scenes")]

    def __init__(self, config: Any = None, runtime: Any = None) -> None:
        super().__init__(config, runtime)
        self.cfg: ScenesConfig = self.config  # type: ignore[assignment]
        self._results: dict[str, Any] = {}

    def model_info(self) -> ModelInfo | None:
        return ModelInfo("all-minilm-l6-v2", text_embed.MODEL_ID, text_embed.DISTRIBUTION)

    def use_results(self, results: Mapping[str, Result]) -> None:
        self._results = dict(results)

    def run(self, clip: ClipInfo, cache: Any) -> Result:
        cfg = self.cfg
        rate = float(clip.rate) if clip.rate else 25.0
        shots = shot_ranges(self._results.get("shots"), clip.frames)
        total = max(clip.frames, shots[-1][1])
        visual = _by_start(self._results.get("visual"))
        speech = _items(self._results.get("speech"))
        cuts = [s for s, _e, _k in shots[1:]]
        candidates = self._candidates(cuts, speech, rate)
        cut_set = set(cuts)
        starts: list[tuple[int, bool, int, float]] = [(0, True, 0, 1.0)]
        for frame, snapped, dist, probe in candidates:
            if (frame - starts[-1][0]) / rate < cfg.min_scene_s or (total - frame) / rate < cfg.min_scene_s:
                continue
            score = self._score(frame, probe, frame in cut_set, shots, visual, speech, rate, starts[-1][0])
            if score >= cfg.threshold:
                starts.append((frame, snapped, dist, round(score, 3)))
        items = []
        markers = []
        for i, (start, snapped, dist, score) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else total
            item = {
                "start_frame": start,
                "end_frame": end,
                **_describe(i, start, end, shots, self._results, rate),
                "start_snapped_to_cut": snapped,
                "start_snap_frames": dist,
                "boundary_score": score,
                "generated_from": "facts",
            }
            items.append(item)
            markers.append(Marker("tag", start, f"Scene {i + 1}: {item['title']}", end - start, item["description"]))
        return Result(items=items, summary={"scenes": len(items)}, markers=markers, model=self.model_info())

    def _candidates(
        self, cuts: list[int], speech: list[dict[str, Any]], rate: float
    ) -> list[tuple[int, bool, int, int]]:
        """(frame, snapped_to_cut, distance, where the speech is judged) of every cut and speech pause."""
        out = {c: (c, True, 0, c) for c in cuts}
        for a, b in itertools.pairwise(speech):
            gap = (int(b["start_frame"]) - int(a["end_frame"])) / rate
            if gap < self.cfg.pause_s:
                continue
            mid = (int(a["end_frame"]) + int(b["start_frame"])) // 2
            bd = snap(mid, cuts, rate, self.cfg.snap_s)
            # A pause snapped to a cut is judged where the pause is (speech may start just before the cut).
            out[bd.frame] = (bd.frame, bd.snapped_to_cut, bd.distance_frames, mid)
        return [out[k] for k in sorted(out)]

    def _score(
        self,
        frame: int,
        probe: int,
        at_cut: bool,
        shots: list[tuple[int, int, int | None]],
        visual: dict[int, dict[str, Any]],
        speech: list[dict[str, Any]],
        rate: float,
        scene_start: int,
    ) -> float:
        w_pic, w_pause, w_topic = self.cfg.weights
        picture = 0.0
        if at_cut:
            before = next((s for s, e, _k in shots if s < frame <= e), None)
            after = visual.get(frame)
            picture = 0.5 if before is None or after is None or before not in visual else _change(visual[before], after)
        pause = 0.5
        if speech:
            spans = any(int(s["start_frame"]) < probe < int(s["end_frame"]) for s in speech)
            prev_end = max((int(s["end_frame"]) for s in speech if int(s["end_frame"]) <= probe), default=None)
            next_start = min((int(s["start_frame"]) for s in speech if int(s["start_frame"]) >= probe), default=None)
            if spans:
                pause = 0.0
            elif prev_end is not None and next_start is not None:
                pause = min(1.0, (next_start - prev_end) / rate / (2 * self.cfg.pause_s))
            else:
                pause = 1.0
        topic = self._topic(probe, speech, scene_start)
        return (w_pic * picture + w_pause * pause + w_topic * topic) / max(w_pic + w_pause + w_topic, 1e-9)

    def _topic(self, frame: int, speech: list[dict[str, Any]], scene_start: int) -> float:
        n = self.cfg.topic_words
        before = " ".join(str(s.get("text", "")) for s in speech if scene_start <= int(s["start_frame"]) < frame)
        after = " ".join(str(s.get("text", "")) for s in speech if int(s["start_frame"]) >= frame)
        b, a = before.split()[-n:], after.split()[:n]
        if len(b) < 5 or len(a) < 5:
            return 0.5
        e = text_embed.embed([" ".join(b), " ".join(a)])
        return float(np.clip(1.0 - float(e[0] @ e[1]), 0.0, 1.0))


def _items(result: Any) -> list[dict[str, Any]]:
    items = getattr(result, "items", None) or []
    good = [it for it in items if isinstance(it, dict) and "start_frame" in it and "end_frame" in it]
    return sorted(good, key=lambda it: int(it["start_frame"]))


def _by_start(result: Any) -> dict[int, dict[str, Any]]:
    return {int(it["start_frame"]): it for it in _items(result)}


def _change(a: dict[str, Any], b: dict[str, Any]) -> float:
    """1 - similarity of two shots' tags (score-weighted cosine) and editorial words (Jaccard), 0..1."""
    ta = {t["label"]: float(t["score"]) for t in a.get("tags", []) if isinstance(t, dict)}
    tb = {t["label"]: float(t["score"]) for t in b.get("tags", []) if isinstance(t, dict)}
    dot = sum(ta[k] * tb[k] for k in ta.keys() & tb.keys())
    norm = (sum(v * v for v in ta.values()) ** 0.5) * (sum(v * v for v in tb.values()) ** 0.5)
    tags = dot / norm if norm else 0.0
    ea, eb = set(a.get("editorial", [])), set(b.get("editorial", []))
    words = len(ea & eb) / len(ea | eb) if ea | eb else 1.0
    same_scale = 1.0 if a.get("scale") == b.get("scale") else 0.0
    return float(1.0 - (0.5 * tags + 0.35 * words + 0.15 * same_scale))


def _describe(
    n: int, start: int, end: int, shots: list[tuple[int, int, int | None]], results: Mapping[str, Any], rate: float
) -> dict[str, str]:
    """Title and one-line description from the scene's shots, words, on-screen text and people."""

    def inside(it: dict[str, Any]) -> bool:
        return start <= int(it.get("start_frame", -1)) < end

    vis = [it for it in _items(results.get("visual")) if inside(it)]
    words = " ".join(str(it.get("text", "")).strip() for it in _items(results.get("speech")) if inside(it)).split()
    texts = [it for it in _items(results.get("ocr")) if inside(it)]
    people = {str(it.get("person") or it.get("track")) for it in _items(results.get("faces")) if inside(it)}
    tags = list(dict.fromkeys(t["label"] for it in vis for t in it.get("tags", [])[:1] if isinstance(t, dict)))
    n_shots = sum(1 for s, _e, _k in shots if start <= s < end) or 1
    if texts:
        title = max(texts, key=lambda it: (it.get("box") or [0, 0, 0, 0])[3])["text"]
    elif words:
        title = " ".join(words[:6]) + ("…" if len(words) > 6 else "")
    elif tags:
        title = f"{tags[0].capitalize()}"
    else:
        title = f"Scene {n + 1}"
    parts = [f"{n_shots} shot{'s' if n_shots != 1 else ''}, {(end - start) / rate:.0f} s"]
    scales = list(dict.fromkeys(str(it.get("scale")) for it in vis if it.get("scale")))
    if scales:
        parts.append("/".join(scales))
    if people:
        parts.append(f"{len(people)} {'person' if len(people) == 1 else 'people'}")
    if tags:
        parts.append("shows " + ", ".join(tags[:4]))
    if texts:
        parts.append("on screen: " + "; ".join(dict.fromkeys(str(t["text"]) for t in texts[:3])))
    if words:
        parts.append('says: "' + " ".join(words[:20]) + ('…"' if len(words) > 20 else '"'))
    return {"title": title, "description": "; ".join(parts)}
