"""Technical flags: interlacing, letterbox/pillarbox, clipped highlights, crushed blacks, shake.

* **Interlacing** comes from ffmpeg's ``idet`` filter, run as a filter tap on the
  decoded picture (the fields must be intact, so no vertical scaling; the picture is
  only point-decimated horizontally, which leaves the combing idet looks for and
  cuts its cost). It classifies runs of ``interlace_burst_frames`` consecutive frames
  every ``interlace_every_s`` seconds, frame by frame;
  interlaced means most decided frames show fields *in one consistent order* (fast
  motion in progressive pictures fools idet, but into both orders at random). The
  verdict is set against the stream's field-order flag: interlaced content flagged
  progressive is the fault that bites in the edit.
* **Letterbox/pillarbox** comes from ``cropdetect`` on the 256 px point-scaled picture, one
  sample every ``crop_interval_s``. Bars must show in ``bars_ratio`` of the samples
  that have a picture (an all-black frame says nothing about bars).
* **Clipped highlights / crushed blacks**: share of the luma at or beyond
  ``clip_high`` / at or below ``clip_low`` (8-bit, full range) in point-scaled frames
  (decimation keeps each pixel's own value, so the share is the full picture's), sampled
  at ``exposure_fps``, inside any black bars; a frame that is almost all black is
  black, not crushed.
* **Camera shake**: global motion between pairs of consecutive frames (phase
  correlation), ``shake_fps`` pairs per second. A pan or a dolly moves smoothly; shake
  is what is left after taking the running median of that motion away, in percent of
  the frame width per frame, as RMS per second.
"""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction
from typing import Any

import cv2
import numpy as np
from pydantic import Field

from kinod.analyzers.base import (
    AnalyzerConfig,
    ClipInfo,
    FilterEvent,
    FilterTap,
    Frame,
    FrameNeeds,
    Marker,
    Needs,
    Resources,
    Result,
    StreamAnalyzer,
)
from kinod.analyzers.intervals import runs

IDET, CROP = "idet", "cropdetect"
#: idet runs on the full height, decimated to at most this width (combing is vertical).
IDET_WIDTH = 240
#: Fewer decided frames than this leave interlacing undetermined.
MIN_DECIDED = 10
#: Phase correlation peaks weaker than this (cuts, flat frames) are not motion.
MIN_RESPONSE = 0.05
#: Frames are measured for shake at most this wide (motion is measured in shares of the width).
SHAKE_WIDTH = 128


class TechnicalConfig(AnalyzerConfig):
    #: idet looks at runs of this many consecutive frames ...
    interlace_burst_frames: int = Field(25, ge=3)
    #: ... one run every this many seconds, over the whole clip (0: every frame).
    interlace_every_s: float = Field(10.0, ge=0)
    #: Interlaced when at least this share of the frames idet decided on are TFF or BFF ...
    interlaced_ratio: float = Field(0.5, gt=0, le=1)
    #: ... and at least this share of those agree on the field order. Fast motion in
    #: progressive pictures fools idet into a mix of both orders; real fields do not.
    field_order_agreement: float = Field(0.8, gt=0.5, le=1)
    #: Seconds between cropdetect samples.
    crop_interval_s: float = Field(1.0, gt=0)
    #: Luma below this share of the range is border black (cropdetect ``limit``).
    crop_limit: float = Field(0.094, ge=0, lt=1)
    #: A bar must cover at least this share of the picture height (letterbox) or width (pillarbox).
    bar_min: float = Field(0.03, gt=0, lt=0.5)
    #: Share of samples that must show the bars.
    bars_ratio: float = Field(0.8, gt=0, le=1)
    #: Exposure samples per second.
    exposure_fps: float = Field(2.0, gt=0)
    #: 8-bit luma at or above this is a clipped highlight.
    clip_high: int = Field(250, ge=128, le=255)
    #: 8-bit luma at or below this is crushed black.
    clip_low: int = Field(5, ge=0, le=64)
    #: A sample is clipped (or crushed) when at least this share of its pixels is.
    clipped_share: float = Field(0.02, gt=0, le=1)
    #: Clipped or crushed intervals shorter than this (seconds) are not reported.
    exposure_min_duration: float = Field(1.0, ge=0)
    #: Frame pairs per second measured for shake.
    shake_fps: float = Field(5.0, gt=0)
    #: Shake above this (percent of frame width per frame, RMS over a second) is shaky.
    shake_threshold: float = Field(0.25, gt=0)
    #: Shaky intervals shorter than this (seconds) are not reported.
    shake_min_duration: float = Field(2.0, ge=0)


class TechnicalAnalyzer(StreamAnalyzer):
    name = "technical"
    version = "1"
    needs = Needs(
        frames=FrameNeeds(every_frame=True, width=256, scaling="point"),
        filters=(FilterTap(IDET, "video", size="full"), FilterTap(CROP, "video")),
    )
    resources = Resources(cpu=1, ram_mb=96)
    Config = TechnicalConfig

    config: TechnicalConfig

    def filter_chain(self, tap: str) -> str:
        c = self.config
        if tap == IDET:
            period, burst = round(c.interlace_every_s * float(self.rate)), c.interlace_burst_frames
            pick = f"select='lt(mod(n,{period}),{burst})'," if period > burst else ""
            return f"{pick}scale='min({IDET_WIDTH},iw)':ih:flags=neighbor,idet"
        return (
            f"select='isnan(prev_selected_t)+gte(t-prev_selected_t,{c.crop_interval_s:g})',"
            f"cropdetect=limit={c.crop_limit:g}:round=2:reset=1:skip=0"
        )

    def start(self, clip: ClipInfo) -> None:
        c = self.config
        self.clip = clip
        self.rate: Fraction = clip.rate
        self.fields: Counter[str] = Counter()
        self.repeated: Counter[str] = Counter()
        self.crops: list[tuple[float, float, float, float]] = []  # top, bottom, left, right shares
        self.crop_samples = 0
        self.exposure_step = _step(self.rate, c.exposure_fps)
        self.shake_step = _step(self.rate, c.shake_fps)
        self.exposure: list[tuple[int, float, float, bool]] = []  # frame, clipped, crushed, mostly black
        self.pairs: list[tuple[int, float, float]] = []  # frame, dx, dy (share of width per frame)
        self.pending: tuple[int, np.ndarray] | None = None
        self.window: np.ndarray | None = None

    # Taps ---------------------------------------------------------------------------------------
    def on_filter(self, event: FilterEvent) -> None:
        v = event.values
        if event.tap == IDET:
            self.fields[v.get("lavfi.idet.multiple.current_frame", "undetermined")] += 1
            self.repeated[v.get("lavfi.idet.repeated.current_frame", "neither")] += 1
            return
        self.crop_samples += 1
        try:
            x1, x2 = int(v["lavfi.cropdetect.x1"]), int(v["lavfi.cropdetect.x2"])
            y1, y2 = int(v["lavfi.cropdetect.y1"]), int(v["lavfi.cropdetect.y2"])
        except (KeyError, ValueError):
            return
        w, h = event.width, event.height
        if not w or not h or x2 <= x1 or y2 <= y1:
            return  # an all-black frame: no picture to find the edges of
        self.crops.append((y1 / h, (h - 1 - y2) / h, x1 / w, (w - 1 - x2) / w))

    # Frames -------------------------------------------------------------------------------------
    def on_frame(self, frame: Frame) -> None:
        index = frame.index
        if self.pending is not None and self.pending[0] == index - 1:
            self._shake(index - 1, self.pending[1], _gray32(frame.image))
            self.pending = None
        take_exposure = _is_sample(index, self.exposure_step)
        take_shake = _is_sample(index, self.shake_step)
        if not (take_exposure or take_shake):
            return
        if take_exposure:
            gray = _inside_bars(cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY), self.config.crop_limit * 255)
            n = gray.size
            if not n:
                self.exposure.append((index, 0.0, 1.0, True))
                return
            low = float(np.count_nonzero(gray <= self.config.clip_low)) / n
            high = float(np.count_nonzero(gray >= self.config.clip_high)) / n
            self.exposure.append((index, high, low, low >= 0.9))
        if take_shake:
            self.pending = (index, _gray32(frame.image))

    def _shake(self, index: int, a: np.ndarray, b: np.ndarray) -> None:
        if self.window is None or self.window.shape != a.shape:
            self.window = cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_32F)
        (dx, dy), response = cv2.phaseCorrelate(a, b, self.window)
        if response >= MIN_RESPONSE and math.isfinite(dx) and math.isfinite(dy):
            self.pairs.append((index, dx / a.shape[1], dy / a.shape[1]))

    # Result -------------------------------------------------------------------------------------
    def finish(self) -> Result:
        self.raise_if_failed()
        if not self.clip.probe.has_video:
            return Result(summary={"has_video": False}, warnings=["the clip has no picture"])
        items: list[dict[str, Any]] = []
        markers: list[Marker] = []
        interlace = self._interlace(markers)
        bars = self._bars(markers)
        exposure = self._exposure(items, markers)
        shake = self._shake_summary(items, markers)
        items.sort(key=lambda i: (i["start_frame"], i["kind"]))
        return Result(
            items=items,
            summary={"interlace": interlace, "bars": bars, "exposure": exposure, "shake": shake},
            markers=markers,
        )

    def _interlace(self, markers: list[Marker]) -> dict[str, Any]:
        tff, bff, prog = self.fields["tff"], self.fields["bff"], self.fields["progressive"]
        decided = tff + bff + prog
        verdict, order = "undetermined", None
        if decided >= MIN_DECIDED:
            fields = tff + bff
            agree = max(tff, bff) / fields if fields else 0.0
            interlaced = fields / decided >= self.config.interlaced_ratio and agree >= self.config.field_order_agreement
            verdict = "interlaced" if interlaced else "progressive"
            order = ("tff" if tff >= bff else "bff") if interlaced else None
        flagged = self.clip.probe.field_order
        # Only interlaced content is worth a warning: a deinterlacer set from a wrong flag
        # ruins it, while progressive pictures flagged interlaced (PsF) come out unharmed.
        mismatch = verdict == "interlaced" and flagged not in (order, "unknown")
        if verdict == "interlaced" or mismatch:
            markers.append(
                Marker(
                    category="problem",
                    frame=0,
                    name="Interlaced picture" if verdict == "interlaced" else "Field order flag is wrong",
                    comment=f"technical: idet says {order or verdict}, the stream is flagged {flagged}",
                )
            )
        return {
            "verdict": verdict,
            "field_order": order,
            "flagged": flagged,
            "flag_mismatch": mismatch,
            "frames": {
                "tff": tff,
                "bff": bff,
                "progressive": prog,
                "undetermined": self.fields["undetermined"],
            },
            "repeated_fields": self.repeated["top"] + self.repeated["bottom"],
        }

    def _bars(self, markers: list[Marker]) -> dict[str, Any]:
        c = self.config
        out: dict[str, Any] = {"samples": self.crop_samples, "with_picture": len(self.crops)}
        if not self.crops:
            out.update(letterbox=False, pillarbox=False, active=None)
            return out
        arr = np.asarray(self.crops)
        need = c.bars_ratio * len(arr)
        letterbox = bool(np.count_nonzero((arr[:, 0] >= c.bar_min) & (arr[:, 1] >= c.bar_min)) >= need)
        pillarbox = bool(np.count_nonzero((arr[:, 2] >= c.bar_min) & (arr[:, 3] >= c.bar_min)) >= need)
        top, bottom, left, right = (float(v) for v in np.median(arr, axis=0))
        active = {
            "top": round(top, 4),
            "bottom": round(bottom, 4),
            "left": round(left, 4),
            "right": round(right, 4),
        }
        w, h = self.clip.probe.width or 0, self.clip.probe.height or 0
        if w and h:
            aw, ah = w * (1 - left - right), h * (1 - top - bottom)
            active["aspect"] = round(aw / ah, 3) if ah > 0 else None
        out.update(letterbox=letterbox, pillarbox=pillarbox, active=active)
        for kind, on in (("Letterboxed", letterbox), ("Pillarboxed", pillarbox)):
            if on:
                markers.append(
                    Marker(
                        category="problem",
                        frame=0,
                        name=kind,
                        comment=f"technical: picture area aspect {active.get('aspect')}, bars {active}",
                    )
                )
        return out

    def _exposure(self, items: list[dict[str, Any]], markers: list[Marker]) -> dict[str, Any]:
        c = self.config
        if not self.exposure:
            return {"samples": 0}
        frames = [e[0] for e in self.exposure]
        high = [e[1] >= c.clipped_share for e in self.exposure]
        low = [e[2] >= c.clipped_share and not e[3] for e in self.exposure]
        step = max(1, round(1 / float(self.exposure_step))) if self.exposure_step else 1
        minimum = c.exposure_min_duration * self.rate
        for kind, flags, name in (
            ("clipped_highlights", high, "Clipped highlights"),
            ("crushed_blacks", low, "Crushed blacks"),
        ):
            for s, e in runs(frames, flags, step):
                if e - s < minimum:
                    continue
                items.append({"kind": kind, "start_frame": s, "end_frame": e})
                markers.append(
                    Marker(
                        category="problem",
                        frame=s,
                        duration_frames=e - s,
                        name=name,
                        comment=f"technical: at least {c.clipped_share:.0%} of the picture at the luma limit",
                    )
                )
        return {
            "samples": len(self.exposure),
            "clipped_ratio": round(sum(high) / len(high), 4),
            "crushed_ratio": round(sum(low) / len(low), 4),
            "highlight_share_mean": round(float(np.mean([e[1] for e in self.exposure])), 4),
            "black_share_mean": round(float(np.mean([e[2] for e in self.exposure])), 4),
        }

    def _shake_summary(self, items: list[dict[str, Any]], markers: list[Marker]) -> dict[str, Any]:
        c = self.config
        if len(self.pairs) < 3:
            return {"pairs": len(self.pairs), "verdict": "undetermined"}
        arr = np.asarray(self.pairs)
        frames, motion = arr[:, 0].astype(int), arr[:, 1:]
        smooth = np.stack([_running_median(motion[:, k], 2) for k in range(2)], axis=1)
        jitter = np.hypot(*(motion - smooth).T) * 100  # percent of width per frame
        per_second = max(1, round(float(self.rate)))
        seconds = frames // per_second
        score: dict[int, float] = {}
        for sec in np.unique(seconds):
            vals = jitter[seconds == sec]
            score[int(sec)] = float(np.sqrt(np.mean(vals**2)))
        secs = sorted(score)
        shaky = [score[s] >= c.shake_threshold for s in secs]
        starts = [s * per_second for s in secs]
        minimum = c.shake_min_duration * self.rate
        for s, e in runs(starts, shaky, per_second):
            if e - s < minimum:
                continue
            items.append({"kind": "shaky", "start_frame": s, "end_frame": e})
            markers.append(
                Marker(
                    category="problem",
                    frame=s,
                    duration_frames=e - s,
                    name="Camera shake",
                    comment=f"technical: shake above {c.shake_threshold:g} % of the width per frame",
                )
            )
        values = np.asarray([score[s] for s in secs])
        median = float(np.median(values))
        return {
            "pairs": len(self.pairs),
            "median": round(median, 4),
            "p90": round(float(np.percentile(values, 90)), 4),
            "shaky_ratio": round(sum(shaky) / len(shaky), 4),
            "verdict": "shaky" if median >= c.shake_threshold else "steady",
            "per_second": [round(float(v), 3) for v in values],
        }


def _step(rate: Fraction, fps: float) -> Fraction | None:
    step = Fraction(fps).limit_denominator(1000) / rate
    return None if step >= 1 else step


def _is_sample(index: int, step: Fraction | None) -> bool:
    """The first frame of each 1/fps period (the decode pass's own sampling rule), in integers."""
    if step is None or index == 0:
        return True
    a, b = step.numerator, step.denominator
    return (index * a) // b != ((index - 1) * a) // b


def _inside_bars(gray: np.ndarray, limit: float) -> np.ndarray:
    """The picture without black bars: edge rows and columns that never rise above ``limit``."""
    rows = np.flatnonzero(gray.max(axis=1) > limit)
    cols = np.flatnonzero(gray.max(axis=0) > limit)
    if not len(rows) or not len(cols):
        return gray[:0, :0]
    return gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _gray32(image: np.ndarray) -> np.ndarray:
    """Luma for motion estimation, at most SHAKE_WIDTH wide: phase correlation is sub-pixel anyway."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    if w > SHAKE_WIDTH:
        gray = cv2.resize(gray, (SHAKE_WIDTH, max(1, round(h * SHAKE_WIDTH / w))), interpolation=cv2.INTER_AREA)
    return gray.astype(np.float32)


def _running_median(values: np.ndarray, half: int) -> np.ndarray:
    padded = np.pad(values, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return np.median(windows, axis=1)
