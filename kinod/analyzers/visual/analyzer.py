"""The visual analyzer: tags, editorial words, shot scale, people, camera, day/night, palette per shot.

A model analyzer: it reads the sampled pictures the one decode pass kept in the analysis
cache (never the original) and the results of ``shots`` (cuts and keyframes) and, when
it ran, ``faces`` (largest face box, people). Without shots the whole clip is one shot.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import structlog

from kinod.analyzers.base import (
    AnalyzerError,
    ClipInfo,
    FrameNeeds,
    Marker,
    ModelAnalyzer,
    ModelInfo,
    ModelMissingError,
    Needs,
    ReadContext,
    Resources,
    Result,
    SearchEntry,
    UiSection,
)
from kinod.analyzers.shotlist import shot_ranges
from kinod.analyzers.visual import effnet, facts, reading, vocab
from kinod.analyzers.visual.config import VisualConfig
from kinod.analyzers.visual.tags import shown

log = structlog.get_logger(__name__)
CLIP_KEY = "analyzers.visual.model_dir"
_SESSIONS: dict[tuple[str, tuple[str, ...], int], Any] = {}
_SESSIONS_LOCK = threading.Lock()
#: Classes whose scores are summed into editorial words (a stage is spotlight + curtain + stage + ...).
EDITORIAL_CLASSES = 10


class VisualAnalyzer(ModelAnalyzer):
    name = "visual"
    version = "2"
    needs: ClassVar[Needs] = Needs(
        cache=True,
        results_of=("shots", "faces"),
        cache_frames=FrameNeeds(every_frame=False, sample_fps=1.0, width=640),
    )
    resources: ClassVar[Resources] = Resources(cpu=1, ram_mb=512)
    Config = VisualConfig

    @classmethod
    def search_entries(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[SearchEntry]:
        return reading.search_entries(record, ctx)

    @classmethod
    def ui_sections(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]:
        return reading.ui_sections(record, ctx)

    def __init__(self, config: Any = None, runtime: Any = None) -> None:
        super().__init__(config, runtime)
        self.cfg: VisualConfig = self.config  # type: ignore[assignment]
        self._session: Any = None
        self._results: dict[str, Any] = {}

    def configure_needs(self, needs: Needs) -> Needs:
        c: VisualConfig = self.config  # type: ignore[assignment]
        frames = FrameNeeds(every_frame=False, sample_fps=c.sample_fps, width=c.width)
        return Needs(cache=True, results_of=needs.results_of, cache_frames=frames)

    # ------------------------------------------------------------------ set-up
    def checks(self) -> list[tuple[str, bool, str]]:
        """``kinod doctor`` rows; never loads or builds the model."""
        rows: list[tuple[str, bool, str]] = []
        if self.cfg.backend == "clip":
            d = Path(self.cfg.model_dir).expanduser() if self.cfg.model_dir else None
            ok = d is not None and d.is_dir()
            rows.append(
                ("clip model", ok, str(d) if ok else f"{CLIP_KEY} must name a local CLIP/BLIP weights directory")
            )
            return rows
        try:
            pth = effnet.weights_path()
            rows.append(("efficientnet-lite0 weights", pth.is_file(), str(pth)))
        except ModelMissingError as e:
            rows.append(("efficientnet-lite0 weights", False, str(e)))
        try:
            import onnx  # noqa: F401

            rows.append(("onnx", True, "installed (builds the ONNX graph once)"))
        except ImportError:
            rows.append(("onnx", False, "not installed: pip install onnx==1.23.2"))
        return rows

    def model_info(self) -> ModelInfo | None:
        if self.cfg.backend == "clip":
            return ModelInfo("clip", "", f"local:{self.cfg.model_dir}") if self.cfg.model_dir else None
        return ModelInfo("efficientnet-lite0", effnet.PTH_SHA256, effnet.DISTRIBUTION)

    def use_results(self, results: Mapping[str, Result]) -> None:
        self._results = dict(results)

    def _load(self) -> Any:
        if self._session is not None:
            return self._session
        if self.cfg.backend == "clip":
            d = Path(self.cfg.model_dir).expanduser() if self.cfg.model_dir else None
            if d is None or not d.is_dir():
                raise ModelMissingError(
                    f"{CLIP_KEY}: the clip backend needs local CLIP/BLIP weights "
                    f"({'not set' if d is None else f'{d} does not exist'}); nothing is downloaded"
                )
            raise AnalyzerError(f"{CLIP_KEY}: {d}: the clip backend is not implemented in this version")
        import onnxruntime as ort

        path, _sha = effnet.ensure_onnx(self.runtime.models_dir)
        device = self.cfg.device or self.runtime.device
        providers = ["CPUExecutionProvider"]
        if device != "cpu" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        key = (str(path), tuple(providers), max(1, self.resources.cpu))
        with _SESSIONS_LOCK:  # one session per process: instances are made per job
            if key not in _SESSIONS:
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = key[2]
                _SESSIONS[key] = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
            self._session = _SESSIONS[key]
        return self._session

    # ------------------------------------------------------------------ run
    def classify(self, bgr: np.ndarray) -> list[tuple[int, float]]:
        """(ImageNet class, probability) of the first classes of one picture (enough for editorial words)."""
        session = self._load()
        logits = session.run(None, {"image": effnet.preprocess(bgr)})[0][0]
        p = np.exp(logits - logits.max())
        p /= p.sum()
        top = np.argsort(-p)[: max(self.cfg.top_k, EDITORIAL_CLASSES)]
        return [(int(i), float(p[i])) for i in top]

    def run(self, clip: ClipInfo, cache: Any) -> Result:
        info = self.model_info()
        if not getattr(cache, "has_frames", False):
            return Result(summary={"status": "no_picture", "reason": "the analysis cache holds no frames"}, model=info)
        self._load()
        shots = shot_ranges(self._results.get("shots"), clip.frames)
        faces = _faces(self._results.get("faces"))
        items: list[dict[str, Any]] = []
        markers: list[Marker] = []
        warnings: list[str] = []
        artefacts: list[str] = []
        for n, (start, end, key) in enumerate(shots):
            try:
                item, shot_art = self._shot(clip, cache, n, start, end, key, faces)
            except ValueError as e:  # a corrupt cached frame: this shot has no tags, the rest goes on
                warnings.append(f"shot {n + 1} (frames {start}-{end}): {e}")
                log.warning("visual: shot skipped", shot=n + 1, error=str(e))
                continue
            if item is None:
                continue
            items.append(item)
            artefacts += shot_art
            if item["tags"] and item["tags"][0]["score"] >= self.cfg.marker_min_score:
                markers.append(
                    Marker("tag", start, item["description"], max(0, end - start), ", ".join(
                        t["label"] for t in item["tags"][:3]), item["tags"][0]["score"])
                )  # fmt: skip
        summary = _summary(items)
        return Result(items=items, summary=summary, markers=markers, model=info, warnings=warnings, artefacts=artefacts)

    def _shot(
        self, clip: ClipInfo, cache: Any, n: int, start: int, end: int, key: int | None, faces: list[dict[str, Any]]
    ) -> tuple[dict[str, Any] | None, list[str]]:
        cfg = self.cfg
        frames = list(cache.frames(fps=cfg.sample_fps, start_frame=start, end_frame=end))
        if not frames:
            near = cache.frame_near(key if key is not None else (start + end) // 2)
            if near is None:
                return None, []
            frames = [near]
        target = key if key is not None else (start + end) // 2
        keyframe = min(frames, key=lambda f: (abs(f.index - target), f.index))
        # Long shots: one more tagged picture per long_shot_s, scores averaged.
        rate = float(clip.rate) if clip.rate else 25.0
        extra = max(0, int((end - start) / rate // cfg.long_shot_s))
        picks = [keyframe]
        if extra:
            step = max(1, len(frames) // (extra + 1))
            picks += [f for f in frames[step::step] if f.index != keyframe.index][:extra]
        scores: dict[int, float] = {}
        for f in picks:
            for cls, p in self.classify(f.image):
                scores[cls] = scores.get(cls, 0.0) + p / len(picks)
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])[: max(cfg.top_k, EDITORIAL_CLASSES)]
        labels = vocab.labels()
        tags = shown(ranked, labels, cfg.min_score, cfg.top_k, cfg.show_person_labels)
        editorial = _editorial(ranked, cfg.editorial_min)
        image = keyframe.image
        people: int | None = None
        face_h = _largest_face(faces, start, end, image.shape[0], clip)
        if face_h is not None:
            scale, source = facts.scale_from_face(face_h, 1.0), "faces"
            people = _people(faces, start, end)
            if people and "people" not in editorial:
                editorial.insert(0, "people")
        else:
            scale, _measures = facts.scale_from_picture(image)
            source = "picture"
            if ranked and labels[ranked[0][0]] in vocab.LANDSCAPES and ranked[0][1] >= 0.3:
                scale, source = ("extreme wide" if scale == "extreme wide" else "wide"), "tags"
            if faces == [] and self._results.get("faces") is not None:
                people = 0
        camera, motion = facts.camera_motion([f.image for f in frames], cfg.camera_motion_threshold)
        when = facts.day_night(image, cfg.night_luma)
        if when == "night" and "night" not in editorial:
            editorial.append("night")
        item: dict[str, Any] = {
            "start_frame": start,
            "end_frame": end,
            "keyframe_frame": keyframe.index,
            "tags": tags,
            "editorial": editorial,
            "scale": scale,
            "scale_source": source,
            "people": people,
            "camera": camera,
            "camera_motion": motion,
            "day_night": when,
            "palette": facts.palette(image, cfg.palette_colours),
            "description": facts.describe(scale, camera, when, [t["label"] for t in tags], editorial, people),
            "generated_from": "tags",
        }
        art: list[str] = []
        if cfg.thumbnails:
            name = _thumbnail(clip, n, image, tags)
            if name:
                item["thumbnail"] = name
                art.append(name)
        return item, art


def _faces(result: Any) -> list[dict[str, Any]]:
    items = getattr(result, "items", None)
    return [it for it in items if isinstance(it, dict)] if items else []


def _box_heights(track: dict[str, Any]) -> list[float]:
    boxes = track.get("boxes") or []
    out = []
    for b in boxes:
        if isinstance(b, (list, tuple)) and len(b) >= 4:
            out.append(float(b[3]))
    return out


def _largest_face(faces: list[dict[str, Any]], start: int, end: int, frame_h: int, clip: ClipInfo) -> float | None:
    """Height of the largest face box in the shot as a share of the picture height (None: no faces)."""
    best: float | None = None
    src_h = float(getattr(clip.probe, "height", 0) or 0) or float(frame_h)
    for t in faces:
        try:
            if int(t["end_frame"]) <= start or int(t["start_frame"]) >= end:
                continue
        except (KeyError, TypeError, ValueError):
            continue
        for h in _box_heights(t):
            share = h if h <= 1.0 else h / src_h
            best = share if best is None else max(best, share)
    return best


def _people(faces: list[dict[str, Any]], start: int, end: int) -> int:
    ids = set()
    for t in faces:
        try:
            if int(t["end_frame"]) > start and int(t["start_frame"]) < end:
                ids.add(t.get("person") or t.get("track"))
        except (KeyError, TypeError, ValueError):
            continue
    return len(ids)


def _editorial(ranked: list[tuple[int, float]], minimum: float) -> list[str]:
    sums: dict[str, float] = {}
    for cls, p in ranked:
        for word in vocab.editorial_of(cls):
            sums[word] = sums.get(word, 0.0) + p
    words = [w for w, s in sorted(sums.items(), key=lambda kv: -kv[1]) if s >= minimum]
    if "stage" in words and "music" in words:
        words.append("concert")
    if "indoor" in words and "outdoor" in words:
        words.remove("indoor" if sums["indoor"] < sums["outdoor"] else "outdoor")
    return words


def _thumbnail(clip: ClipInfo, n: int, image: np.ndarray, tags: list[dict[str, Any]]) -> str | None:
    """Write the keyframe as a JPEG whose COM segment lists its tags; returns its path under artefact_dir."""
    import cv2

    from kinod.media.fsutil import atomic_write_bytes
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        return None
    text = ("tags: " + ", ".join(f"{t['label']} {t['score']:.2f}" for t in tags)).encode("utf-8")[:60000]
    blob = data.tobytes()
    blob = blob[:2] + b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text + blob[2:]
    name = f"visual/shot-{n + 1:04d}.jpg"
    try:
        atomic_write_bytes(clip.artefact_dir / name, blob)
    except OSError as e:
        log.warning("visual: cannot write thumbnail", error=str(e))
        return None
    return name


def _summary(items: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, float] = {}
    for it in items:
        for t in it["tags"]:
            totals[t["label"]] = totals.get(t["label"], 0.0) + t["score"]
    editorial = sorted({w for it in items for w in it["editorial"]})
    return {
        "shots": len(items),
        "top_tags": [k for k, _ in sorted(totals.items(), key=lambda kv: -kv[1])[:10]],
        "editorial": editorial,
        "scales": sorted({it["scale"] for it in items}),
    }
