"""The analysis cache: what the one decode pass leaves for model analyzers.

Model analyzers (speech, faces, visual tags, on-screen text) run later than the decode
pass, maybe on a GPU slot that frees up an hour from now, maybe on another machine.
They must not decode the original again, so the pass leaves a small cache under
``<state.shared_dir>/cache/<fingerprint>/`` (by default ``state.dir``):

* ``audio.f32``: all channels, interleaved float32 PCM at ``audio_rate`` (16 kHz);
* ``frames.jpg`` + ``frames.json``: sampled pictures for the model analyzers that
  declared ``Needs.cache_frames``, one JPEG after another in a single file (one file,
  not thousands, is kind to a NAS) and an index of (clip frame, byte offset, length).
  One stream serves every analyzer: the highest sampling rate and the widest picture
  any of them asked for; an analyzer that wants fewer frames takes a subset
  (:meth:`AnalysisCache.frames` with ``fps``). JPEG at quality 92 keeps a 1280 px
  picture near 100 KB, so an hour at 4 fps is about 1.4 GB until its jobs are done;
* ``meta.json``: rate, channel count, sample count, the frame stream's size and rate,
  written last (its presence means the cache is complete).

Writers write to temp names and rename, so a crash never leaves a cache that looks
complete but is not.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import numpy as np

META = "meta.json"
AUDIO = "audio.f32"
FRAMES = "frames.jpg"
FRAMES_INDEX = "frames.json"
JPEG_QUALITY = 92


@dataclass(frozen=True)
class FrameCacheSpec:
    """The sampled frames a cache holds (or must hold): width in pixels and samples per second."""

    width: int
    fps: float

    def covers(self, other: FrameCacheSpec) -> bool:
        """True when frames kept for ``self`` serve an analyzer that asked for ``other``."""
        return self.width >= other.width and self.fps >= other.fps - 1e-9

    @staticmethod
    def merge(specs: list[FrameCacheSpec]) -> FrameCacheSpec | None:
        """One stream for every asker: the widest picture at the highest rate."""
        if not specs:
            return None
        return FrameCacheSpec(max(s.width for s in specs), max(s.fps for s in specs))


@dataclass(frozen=True)
class CachedFrame:
    """One picture from the cache: ``index`` is the frame number on the clip's own timeline."""

    index: int
    seconds: float
    image: np.ndarray  # (height, width, 3) uint8 BGR


@dataclass(frozen=True)
class AnalysisCache:
    """Read side of a finished cache directory."""

    dir: Path
    audio_rate: int
    audio_channels: int
    audio_samples: int
    #: The sampled frame stream kept for model analyzers (None: no frames were kept).
    frame_spec: FrameCacheSpec | None = None
    #: Size of the kept frames, and the clip's frame rate as "num/den" (frame -> seconds).
    frame_size: tuple[int, int] = (0, 0)
    rate: str = "0/1"

    @classmethod
    def open(cls, directory: Path) -> AnalysisCache:
        meta_path = directory / META
        if not meta_path.is_file():
            raise FileNotFoundError(f"{directory}: analysis cache is missing or incomplete (no {META})")
        meta = json.loads(meta_path.read_text())
        frames = meta.get("frames")
        spec = FrameCacheSpec(int(frames["width"]), float(frames["fps"])) if frames else None
        size = (int(frames["frame_width"]), int(frames["frame_height"])) if frames else (0, 0)
        return cls(
            directory,
            int(meta["audio_rate"]),
            int(meta["audio_channels"]),
            int(meta["audio_samples"]),
            spec,
            size,
            str(meta.get("rate", "0/1")),
        )

    def covers(self, wanted: FrameCacheSpec | None) -> bool:
        """True when this cache has the frames ``wanted`` (nothing wanted is always covered)."""
        return wanted is None or (self.frame_spec is not None and self.frame_spec.covers(wanted))

    @property
    def has_frames(self) -> bool:
        return self.frame_spec is not None and bool(self.frame_index())

    def frame_index(self) -> list[tuple[int, int, int]]:
        """(clip frame, byte offset, length) of every kept frame, in order."""
        if self.frame_spec is None:
            return []
        path = self.dir / FRAMES_INDEX
        try:
            rows = json.loads(path.read_text())["frames"]
            return [(int(f), int(o), int(n)) for f, o, n in rows]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: the analysis cache's frame index is unreadable ({e})") from None

    def frames(
        self, fps: float | None = None, start_frame: int = 0, end_frame: int | None = None
    ) -> Iterator[CachedFrame]:
        """Kept frames in order, optionally thinned to ``fps`` and limited to [start, end).

        Thinning keeps the first kept frame of each 1/fps period of clip time, so an
        analyzer asking for 1 fps gets the same frames whatever rate the cache holds.
        """
        rate = _rate(self.rate)
        last_period = -1
        with open(self.dir / FRAMES, "rb") as fh:
            for index, offset, length in self.frame_index():
                if index < start_frame or (end_frame is not None and index >= end_frame):
                    continue
                seconds = float(index / rate) if rate else 0.0
                if fps:
                    period = int(seconds * fps + 1e-9)
                    if period == last_period:
                        continue
                    last_period = period
                yield CachedFrame(index, seconds, self._decode(fh, index, offset, length))

    def frame_near(self, index: int) -> CachedFrame | None:
        """The kept frame closest to clip frame ``index`` (None when no frames were kept)."""
        rows = self.frame_index()
        if not rows:
            return None
        best = min(rows, key=lambda r: (abs(r[0] - index), r[0]))
        rate = _rate(self.rate)
        with open(self.dir / FRAMES, "rb") as fh:
            image = self._decode(fh, *best)
        return CachedFrame(best[0], float(best[0] / rate) if rate else 0.0, image)

    def _decode(self, fh: BinaryIO, index: int, offset: int, length: int) -> np.ndarray:
        fh.seek(offset)
        data = fh.read(length)
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR) if len(data) == length else None
        if image is None:
            raise ValueError(f"{self.dir / FRAMES}: frame {index} in the analysis cache is corrupt")
        return image

    @property
    def has_audio(self) -> bool:
        return self.audio_channels > 0 and self.audio_samples > 0

    def audio(self) -> np.ndarray:
        """All audio as (samples, channels) float32, memory-mapped (not read into RAM)."""
        if not self.has_audio:
            return np.zeros((0, max(self.audio_channels, 1)), dtype=np.float32)
        data = np.memmap(self.dir / AUDIO, dtype=np.float32, mode="r")
        return data.reshape(-1, self.audio_channels)


class AnalysisCacheWriter:
    """Write side, fed by the decode pass's audio thread."""

    def __init__(
        self,
        directory: Path,
        audio_rate: int,
        audio_channels: int,
        frames: FrameCacheSpec | None = None,
        rate: Fraction = Fraction(0),
    ) -> None:
        self.dir = directory
        self.audio_rate = audio_rate
        self.audio_channels = audio_channels
        self.samples = 0
        self.frame_spec = frames
        self.rate = rate
        directory.mkdir(parents=True, exist_ok=True)
        self._tmp_audio = directory / (AUDIO + ".tmp")
        self._fh: BinaryIO | None = open(self._tmp_audio, "wb") if audio_channels else None  # noqa: SIM115
        self._tmp_frames = directory / (FRAMES + ".tmp")
        self._frames_fh: BinaryIO | None = open(self._tmp_frames, "wb") if frames is not None else None  # noqa: SIM115
        self._frame_rows: list[tuple[int, int, int]] = []
        self._frame_size = (0, 0)
        self._offset = 0

    def write_audio(self, samples: np.ndarray) -> None:
        if self._fh is None:
            return
        self._fh.write(np.ascontiguousarray(samples, dtype=np.float32).tobytes())
        self.samples += samples.shape[0]

    def write_frame(self, index: int, image: np.ndarray) -> None:
        """Keep one sampled picture (called by the pass's reader thread, in frame order)."""
        if self._frames_fh is None:
            return
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise ValueError(f"{self.dir}: cannot encode frame {index} for the analysis cache")
        blob = data.tobytes()
        self._frames_fh.write(blob)
        self._frame_rows.append((index, self._offset, len(blob)))
        self._offset += len(blob)
        self._frame_size = (int(image.shape[1]), int(image.shape[0]))

    def commit(self) -> AnalysisCache:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None
            os.replace(self._tmp_audio, self.dir / AUDIO)
        meta: dict[str, object] = {
            "audio_rate": self.audio_rate,
            "audio_channels": self.audio_channels,
            "audio_samples": self.samples,
            "rate": f"{self.rate.numerator}/{self.rate.denominator}",
        }
        if self._frames_fh is not None and self.frame_spec is not None:
            self._frames_fh.flush()
            os.fsync(self._frames_fh.fileno())
            self._frames_fh.close()
            self._frames_fh = None
            os.replace(self._tmp_frames, self.dir / FRAMES)
            _write_json(self.dir / FRAMES_INDEX, {"frames": self._frame_rows})
            meta["frames"] = {
                "width": self.frame_spec.width,
                "fps": self.frame_spec.fps,
                "frame_width": self._frame_size[0],
                "frame_height": self._frame_size[1],
                "count": len(self._frame_rows),
            }
        _write_json(self.dir / META, meta)
        return AnalysisCache.open(self.dir)

    def abort(self) -> None:
        for fh in (self._fh, self._frames_fh):
            if fh is not None:
                fh.close()
        self._fh = self._frames_fh = None
        shutil.rmtree(self.dir, ignore_errors=True)


class FrameCacheFeeder:
    """Takes the pass's sampled frame stream into the cache, as one more consumer of the pass.

    It has the few attributes :class:`kinod.media.decode.DecodePass` reads from a
    consumer (name, needs, lock, failure, hooks), so the frames ride the same split of
    the one ffmpeg graph as every analyzer's stream; it is never a result of the clip.
    """

    name = "analysis-cache"

    def __init__(self, writer: AnalysisCacheWriter, spec: FrameCacheSpec) -> None:
        from kinod.contracts import FrameNeeds, Needs

        self.writer = writer
        self.needs = Needs(frames=FrameNeeds(every_frame=False, sample_fps=spec.fps, width=spec.width, scaling="fast"))
        self.lock = threading.Lock()
        self.failure: str | None = None

    def on_frame(self, frame: Any) -> None:
        self.writer.write_frame(frame.index, frame.image)

    def on_still(self, frame: Any) -> None:
        """Never called: the feeder asks for no stills stream."""

    def on_end(self, end: Any) -> None:
        """Nothing to close: the writer commits once every consumer is done."""


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _rate(text: str) -> Fraction:
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return Fraction(0)
