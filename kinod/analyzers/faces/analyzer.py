"""The ``faces`` model analyzer: tracks of every face, best images, people ids.

It reads the sampled frames the decode pass kept in the analysis cache (never the
original), runs the configured stack (:mod:`.backends`), follows faces between samples
(:mod:`.tracker`), splits at cuts it sees in those frames (:mod:`.cuts`; model
analyzers are not handed the shots result), and groups tracks into people through the
registry in the state dir (:mod:`kinod.analyzers.faces.people`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

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
from kinod.analyzers.faces import reading
from kinod.analyzers.faces.analysis import ClipFaces, FaceTrack, analyse
from kinod.analyzers.faces.backends import FaceStack, build_stack, stack_checks, stack_model_info
from kinod.analyzers.faces.config import FacesConfig
from kinod.analyzers.faces.identities import centroid, cluster
from kinod.analyzers.faces.private import write_private_jpeg

log = structlog.get_logger(__name__)


class FacesAnalyzer(ModelAnalyzer):
    name = "faces"
    version = "2"  # 2: range edges half-way between samples, not on the last one seen
    needs: ClassVar[Needs] = Needs(cache=True, cache_frames=FrameNeeds(every_frame=False, sample_fps=10.0, width=640))
    resources: ClassVar[Resources] = Resources(cpu=1, ram_mb=1024)
    Config = FacesConfig
    marker_categories: ClassVar[tuple[MarkerCategorySpec, ...]] = (
        MarkerCategorySpec("face", "PINK", "Face", order=60, search_kind=None, lane_per_name=True),
        MarkerCategorySpec("person", "MAGENTA", "Person", order=61, search_kind=None, lane_per_name=True),
    )

    @classmethod
    def search_entries(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[SearchEntry]:
        return reading.search_entries(record, ctx)

    @classmethod
    def ui_sections(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]:
        return reading.ui_sections(record, ctx)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stack: FaceStack | None = None
        self._stack_lock = threading.Lock()

    def configure_needs(self, needs: Needs) -> Needs:
        cfg: FacesConfig = self.config  # type: ignore[assignment]
        frames = FrameNeeds(every_frame=False, sample_fps=cfg.sample_fps, width=cfg.width)
        return Needs(cache=True, cache_frames=frames)

    @property
    def cfg(self) -> FacesConfig:
        return self.config  # type: ignore[return-value]

    def stack(self) -> FaceStack:
        """Loaded on first use (model files are hashed and read once per process)."""
        with self._stack_lock:
            if self._stack is None:
                self._stack = build_stack(self.cfg)
            return self._stack

    def model_info(self) -> ModelInfo | None:
        return stack_model_info(self.cfg)

    def checks(self) -> list[tuple[str, bool, str]]:
        return stack_checks(self.cfg)

    def run(self, clip: ClipInfo, cache: Any) -> Result:
        if not getattr(cache, "has_frames", False):
            return Result(summary={"status": "no-picture", "people": [], "tracks": 0})
        faces = analyse(cache.frames(fps=self.cfg.sample_fps), self.stack(), self.cfg, clip.frames)
        return self.result(clip, faces)

    def result(self, clip: ClipInfo, faces: ClipFaces) -> Result:
        """Sidecar items, people and markers from a clip's tracks (also used by find-person)."""
        out_root = clip.artefact_dir.parent.parent
        images: dict[int, str] = {}
        if self.cfg.best_images:
            for t in faces.tracks:
                if t.best_image is not None and t.best_image.size:
                    path = clip.artefact_dir / "faces" / f"track-{t.id}.jpg"
                    write_private_jpeg(path, t.best_image)
                    images[t.id] = str(path.relative_to(out_root))
        people = self._people(clip, faces.tracks, images, out_root)
        items = []
        markers = []
        for t in faces.tracks:
            pid, pname = people["by_track"].get(t.id, (None, None))
            items.append(
                {
                    "track": t.id,
                    "person": pid,
                    "person_name": pname,
                    "start_frame": t.start,
                    "end_frame": t.end + 1,
                    "frames": [[t.start, t.end]],
                    "box_space": list(faces.frame_size),
                    "boxes": t.boxes,
                    "interpolated": t.interpolated,
                    "detected": t.detected,
                    "landmarks": t.landmarks,
                    "quality": t.quality,
                    "best_frame": t.best_frame,
                    "best_image": images.get(t.id),
                }
            )
            label = pname or pid or f"face {t.id}"
            markers.append(Marker("face", t.start, label, duration_frames=t.end + 1 - t.start, comment=f"track {t.id}"))
        summary = {
            "status": "ok" if faces.tracks else "no-faces",
            "tracks": len(faces.tracks),
            "samples": faces.samples,
            "cuts": faces.cuts,
            "backend": self.cfg.backend,
            "licence": getattr(self.stack(), "licence", ""),
            "min_face_px": self.cfg.min_face_px,
            "people": people["list"],
        }
        return Result(
            items=items,
            summary=summary,
            markers=markers,
            model=self.model_info(),
            artefacts=[str(Path(v).relative_to(clip.artefact_dir.relative_to(out_root))) for v in images.values()],
        )

    def _people(
        self, clip: ClipInfo, tracks: list[FaceTrack], images: dict[int, str], out_root: Path
    ) -> dict[str, Any]:
        with_emb = [t for t in tracks if t.embedding is not None]
        labels = cluster([t.embedding for t in with_emb], self.cfg.identity_threshold)  # type: ignore[misc]
        groups: dict[int, list[FaceTrack]] = {}
        for t, lab in zip(with_emb, labels, strict=True):
            groups.setdefault(lab, []).append(t)
        ordered = [groups[k] for k in sorted(groups)]
        ids: list[tuple[str, str | None]]
        if self.cfg.store_embeddings:
            from kinod.analyzers.faces.people import PeopleRegistry
            reg = PeopleRegistry(self.runtime.state_dir)
            clusters = [
                (
                    centroid([t.embedding for t in g]),  # type: ignore[misc]
                    [t.id for t in g],
                    [str(out_root / images[t.id]) for t in g if t.id in images],
                    [[t.start, t.end + 1] for t in g],
                )
                for g in ordered
            ]
            side = clip.sidecar or out_root / f"{clip.path.name}.kino.json"
            ids = reg.assign(str(clip.path), str(side), clusters,
                             self.cfg.identity_threshold)  # fmt: skip
            by_track_pid = {t.id: pid for (pid, _), g in zip(ids, ordered, strict=True) for t in g}
            reg.save_tracks(
                str(clip.path),
                str(clip.rate),
                [
                    {
                        "track": t.id,
                        "start": t.start,
                        "end": t.end,
                        "person": by_track_pid.get(t.id),
                        "best_image": str(out_root / images[t.id]) if t.id in images else None,
                        "embedding": [round(float(v), 6) for v in t.embedding],  # type: ignore[union-attr]
                    }
                    for t in with_emb
                ],
            )
        else:
            ids = [(f"person-{i + 1}", None) for i in range(len(ordered))]
        by_track: dict[int, tuple[str, str | None]] = {}
        listing = []
        for (pid, pname), g in zip(ids, ordered, strict=True):
            for t in g:
                by_track[t.id] = (pid, pname)
            top = max(g, key=lambda t: t.quality)
            listing.append({"id": pid, "name": pname, "tracks": [t.id for t in g], "best_image": images.get(top.id)})
        return {"by_track": by_track, "list": listing}
