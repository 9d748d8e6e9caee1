"""Picture statistics per sampled frame, summarised per shot.

For each sample (``sample_fps``, default 2 per second, on area-scaled frames at the
analysis width: what a viewer sees, not the noise):

* ``luma``: mean luma (0..1); ``contrast``: its standard deviation (RMS contrast);
* ``sharpness``: variance of the Laplacian of the luma (focus, motion blur). It grows
  with detail and depends on the analysis width, so compare it within a library;
* ``colourfulness``: Hasler & Suesstrunk's metric (0 grey, ~100 very colourful);
* ``motion``: mean absolute luma difference from the previous sample (0..1);
* ``dominant``: the most common colours, from a 512-colour (3 bits per channel)
  histogram, as ``#rrggbb`` with their share of the picture.

Samples are stored as parallel arrays under ``summary.samples`` (one list per
measure, one entry per sample), not as an object per frame: a two-hour clip has
14,400 samples. Items are per shot when the shots analyzer ran in the same pass
(``needs.results_of``), else one item for the whole clip. A shot's motion leaves out
the sample that straddles its first cut, which would measure the cut, not motion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import cv2
import numpy as np
from pydantic import Field

from kinod.analyzers.base import (
    AnalyzerConfig,
    ClipInfo,
    Frame,
    FrameNeeds,
    Needs,
    Resources,
    Result,
    StreamAnalyzer,
)

#: Width of the copy used for colour, motion and palette (enough for statistics).
SMALL_WIDTH = 160
#: Colour bins kept per sample for the per-shot palette (bounded memory on long clips).
PALETTE_KEPT = 16


class PictureConfig(AnalyzerConfig):
    #: Samples per second.
    sample_fps: float = Field(2.0, gt=0, le=60)
    #: Dominant colours kept per sample and per shot.
    colours: int = Field(3, ge=1, le=8)


class PictureAnalyzer(StreamAnalyzer):
    name = "picture"
    version = "1"
    needs = Needs(frames=FrameNeeds(every_frame=False, sample_fps=2.0, scaling="area"), results_of=("shots",))
    resources = Resources(cpu=1, ram_mb=128)
    Config = PictureConfig

    config: PictureConfig

    def configure_needs(self, needs: Needs) -> Needs:
        assert needs.frames is not None
        return replace(needs, frames=replace(needs.frames, sample_fps=self.config.sample_fps))

    def start(self, clip: ClipInfo) -> None:
        self.clip = clip
        self.cols: dict[str, list[Any]] = {
            k: [] for k in ("frame", "luma", "contrast", "sharpness", "colourfulness", "motion", "dominant", "share")
        }
        # Per sample, its PALETTE_KEPT most common colour bins: (ids, pixel counts, BGR sums).
        self.palettes: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.previous: np.ndarray | None = None
        self.shots: list[tuple[int, int]] = []
        self.pixels = 0

    def on_frame(self, frame: Frame) -> None:
        img = frame.image
        h, w = img.shape[:2]
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        mean, std = cv2.meanStdDev(gray)
        sharp = float(cv2.Laplacian(gray, cv2.CV_32F).var())
        sw = min(SMALL_WIDTH, w)
        small = img if sw == w else cv2.resize(img, (sw, max(1, round(h * sw / w))), interpolation=cv2.INTER_AREA)
        small_gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        motion = None
        if self.previous is not None and self.previous.shape == small_gray.shape:
            motion = float(cv2.absdiff(small_gray, self.previous).mean()) / 255
        self.previous = small_gray
        ids, counts, sums = _palette(small)
        order = np.argsort(-counts, kind="stable")[:PALETTE_KEPT]
        ids, counts, sums = ids[order], counts[order], sums[order]
        k = self.config.colours
        total = float(small.shape[0] * small.shape[1])
        self.pixels = int(total)
        c = self.cols
        c["frame"].append(frame.index)
        c["luma"].append(round(float(mean[0, 0]) / 255, 4))
        c["contrast"].append(round(float(std[0, 0]) / 255, 4))
        c["sharpness"].append(round(sharp, 2))
        c["colourfulness"].append(round(_colourfulness(small), 2))
        c["motion"].append(None if motion is None else round(motion, 4))
        c["dominant"].append([_hex(sums[i] / counts[i]) for i in range(min(k, len(ids)))])
        c["share"].append([round(float(counts[i]) / total, 3) for i in range(min(k, len(ids)))])
        self.palettes.append((ids.astype(np.int16), counts.astype(np.int32), sums.astype(np.float32)))

    def use_results(self, results: Mapping[str, Any]) -> None:
        shots = results.get("shots")
        if shots is not None:
            self.shots = [(int(i["start_frame"]), int(i["end_frame"])) for i in shots.items if "start_frame" in i]

    def finish(self) -> Result:
        self.raise_if_failed()
        c = self.cols
        if not c["frame"]:
            warn = [] if self.clip.probe.has_video else ["the clip has no picture"]
            return Result(summary={"samples": None, "sample_fps": self.config.sample_fps}, warnings=warn)
        frames = np.asarray(c["frame"])
        spans = self.shots or [(0, int(frames[-1]) + 1)]
        items = [self._span(n, s, e, frames) for n, (s, e) in enumerate(spans, start=1)]
        summary = {
            "sample_fps": self.config.sample_fps,
            "per": "shot" if self.shots else "clip",
            "clip": self._stats(np.arange(len(frames)), first_motion=True),
            "samples": {k: v for k, v in c.items()},
        }
        self.palettes = []
        return Result(items=[i for i in items if i is not None], summary=summary)

    def _span(self, n: int, start: int, end: int, frames: np.ndarray) -> dict[str, Any] | None:
        idx = np.flatnonzero((frames >= start) & (frames < end))
        item: dict[str, Any] = {"shot": n, "start_frame": start, "end_frame": end}
        if not len(idx):
            item["samples"] = 0
            return item
        item.update(self._stats(idx, first_motion=False))
        return item

    def _stats(self, idx: np.ndarray, first_motion: bool) -> dict[str, Any]:
        c = self.cols

        def mean(key: str, subset: np.ndarray) -> float | None:
            vals = [c[key][i] for i in subset if c[key][i] is not None]
            return round(float(np.mean(vals)), 4) if vals else None

        motion_idx = idx if first_motion else idx[1:]
        sharp = [c["sharpness"][i] for i in idx]
        bins: dict[int, np.ndarray] = {}  # bin -> [pixels, B sum, G sum, R sum]
        for i in idx:
            ids, cnt, sums = self.palettes[i]
            for b, n, bgr in zip(ids.tolist(), cnt.tolist(), sums, strict=True):
                acc = bins.setdefault(b, np.zeros(4))
                acc[0] += n
                acc[1:] += bgr
        top = sorted(bins, key=lambda b: -bins[b][0])[: self.config.colours]
        pixels = len(idx) * self.pixels or 1
        return {
            "samples": len(idx),
            "luma": mean("luma", idx),
            "contrast": mean("contrast", idx),
            "sharpness_median": round(float(np.median(sharp)), 2),
            "sharpness_max": round(float(np.max(sharp)), 2),
            "colourfulness": mean("colourfulness", idx),
            "motion": mean("motion", motion_idx),
            "dominant": [_hex(bins[b][1:] / bins[b][0]) for b in top],
            "dominant_share": [round(float(bins[b][0] / pixels), 3) for b in top],
        }


def _palette(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occupied 3-bit-per-channel colour bins: ids, pixel counts and per-bin BGR sums."""
    px = img.reshape(-1, 3)
    q = (px >> 5).astype(np.int32)
    bins = (q[:, 2] << 6) | (q[:, 1] << 3) | q[:, 0]
    counts = np.bincount(bins, minlength=512)
    sums = np.stack([np.bincount(bins, weights=px[:, ch], minlength=512) for ch in range(3)], axis=1)
    ids = np.flatnonzero(counts)
    return ids, counts[ids], sums[ids]


def _colourfulness(img: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003): spread and strength of the opponent colour channels."""
    b, g, r = (img[:, :, i].astype(np.float32) for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def _hex(bgr: np.ndarray) -> str:
    b, g, r = (min(255, round(float(v))) for v in bgr)
    return f"#{r:02x}{g:02x}{b:02x}"
