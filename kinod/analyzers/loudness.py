"""Loudness: EBU R128 programme loudness, per-channel levels, clipping and empty channels.

* **Programme loudness** (integrated, loudness range, true peak, short-term per second)
  comes from ffmpeg's ``ebur128`` filter, a reference implementation of EBU R128 /
  ITU-R BS.1770, run as a filter tap inside the one decode pass at the source's own
  sample rate. True peak needs the original rate (it oversamples 4x); the 16 kHz
  analysis PCM would lose everything above 8 kHz.
* **Per channel** (peak, RMS, clipping, "empty") is computed here on PCM at the
  source rate (``AudioNeeds(native=True)``), sample-exact: resampling smears the flat
  tops that give clipping away.

Clipping is ``clip_min_run`` or more consecutive samples at or beyond
``clip_level_dbfs`` (the flat top a converter or a gain stage leaves). An *empty*
channel peaks below ``empty_peak_dbfs`` over the whole clip: the classic card fault
of a track that was armed but had nothing plugged in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field

from kinod.analyzers.base import (
    AnalyzerConfig,
    AudioChunk,
    AudioNeeds,
    ClipInfo,
    FilterEvent,
    FilterTap,
    Marker,
    Needs,
    Resources,
    Result,
    StreamAnalyzer,
    StreamEnd,
)

#: ebur128 reports this for silence (its gate): no loudness to speak of.
R128_FLOOR = -70.0
#: Clipping intervals kept per channel; beyond that they are only counted.
MAX_CLIP_INTERVALS = 200


class LoudnessConfig(AnalyzerConfig):
    #: Measure true peak (4x oversampled, dBTP); false measures sample peak only.
    true_peak: bool = True
    #: A sample at or beyond this level (dBFS) is at full scale.
    clip_level_dbfs: float = Field(-0.01, le=6)
    #: This many consecutive full-scale samples make one clipping event.
    clip_min_run: int = Field(3, ge=1)
    #: Clipping events closer than this (seconds) are reported as one interval.
    clip_merge_seconds: float = Field(1.0, ge=0)
    #: A channel whose peak over the whole clip stays below this (dBFS) is empty.
    empty_peak_dbfs: float = Field(-70.0, le=0)


@dataclass
class _Channel:
    peak: float = 0.0
    sumsq: float = 0.0
    clipped_samples: int = 0
    clip_events: int = 0
    run: int = 0
    run_start: int = 0
    intervals: list[list[int]] = field(default_factory=list)


class LoudnessAnalyzer(StreamAnalyzer):
    name = "loudness"
    version = "1"
    needs = Needs(audio=AudioNeeds(native=True), filters=(FilterTap("ebur128", "audio"),))
    resources = Resources(cpu=1, ram_mb=96)
    Config = LoudnessConfig

    config: LoudnessConfig

    def filter_chain(self, tap: str) -> str:
        return f"ebur128=metadata=1:peak={'true' if self.config.true_peak else 'sample'}"

    def start(self, clip: ClipInfo) -> None:
        self.clip = clip
        self.r128: dict[str, str] = {}
        self.short_term: list[float | None] = []
        self.channels: list[_Channel] = []
        self.samples = 0
        self.rate = 0
        self.audio_seconds = 0.0
        self.level = 10 ** (self.config.clip_level_dbfs / 20)

    # ebur128 tap --------------------------------------------------------------------------------
    def on_filter(self, event: FilterEvent) -> None:
        self.r128 = dict(event.values)  # integrated values are running: the last frame holds the clip's
        second = math.floor(event.seconds + 1e-6)
        if second >= len(self.short_term) and "lavfi.r128.S" in event.values:
            value = _float(event.values["lavfi.r128.S"])
            while len(self.short_term) < second:
                self.short_term.append(None)
            self.short_term.append(_lufs(value))

    # Source-rate PCM ----------------------------------------------------------------------------
    def on_audio(self, chunk: AudioChunk) -> None:
        x = chunk.samples
        if not self.channels:
            self.channels = [_Channel() for _ in range(x.shape[1])]
            self.rate = chunk.rate
        if not x.shape[0]:
            return
        mag = np.abs(x)
        peaks = mag.max(axis=0)
        sumsq = np.einsum("ij,ij->j", x, x, dtype=np.float64)
        clipped = mag >= self.level
        for i, ch in enumerate(self.channels):
            ch.peak = max(ch.peak, float(peaks[i]))
            ch.sumsq += float(sumsq[i])
            if ch.run or clipped[:, i].any():
                self._scan(ch, clipped[:, i], chunk.start_sample)
        self.samples = chunk.start_sample + x.shape[0]

    def _scan(self, ch: _Channel, mask: np.ndarray, offset: int) -> None:
        """Find runs of full-scale samples, carrying a run across chunk boundaries."""
        n = mask.shape[0]
        edges = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        if ch.run:
            if len(starts) and starts[0] == 0:
                if ends[0] == n:  # the whole chunk is clipped: still running
                    ch.run += n
                    return
                ch.run += int(ends[0])
                self._end_run(ch)
                starts, ends = starts[1:], ends[1:]
            else:
                self._end_run(ch)
        if len(ends) and ends[-1] == n:
            ch.run, ch.run_start = int(n - starts[-1]), offset + int(starts[-1])
            starts, ends = starts[:-1], ends[:-1]
        lengths = ends - starts
        keep = lengths >= self.config.clip_min_run
        for s, length in zip(starts[keep], lengths[keep], strict=True):
            self._event(ch, offset + int(s), int(length))

    def _end_run(self, ch: _Channel) -> None:
        if ch.run >= self.config.clip_min_run:
            self._event(ch, ch.run_start, ch.run)
        ch.run = 0

    def _event(self, ch: _Channel, start: int, length: int) -> None:
        ch.clip_events += 1
        ch.clipped_samples += length
        gap = self.config.clip_merge_seconds * (self.rate or 1)
        if ch.intervals and start - ch.intervals[-1][1] <= gap:
            ch.intervals[-1][1] = start + length
        elif len(ch.intervals) < MAX_CLIP_INTERVALS:
            ch.intervals.append([start, start + length])

    def on_end(self, end: StreamEnd) -> None:
        self.audio_seconds = end.audio_seconds
        for ch in self.channels:
            self._end_run(ch)

    # Result -------------------------------------------------------------------------------------
    def finish(self) -> Result:
        self.raise_if_failed()
        if not self.clip.probe.audio_channels:
            return Result(summary={"has_audio": False}, warnings=["the clip has no sound"])
        c = self.config
        items: list[dict[str, Any]] = []
        markers: list[Marker] = []
        per_channel: list[dict[str, Any]] = []
        frame_rate = self.clip.rate
        for number, ch in enumerate(self.channels, start=1):
            peak_db = _db(ch.peak)
            rms = math.sqrt(ch.sumsq / self.samples) if self.samples else 0.0
            empty = peak_db is None or peak_db < c.empty_peak_dbfs
            true_peak = _float(self.r128.get(f"lavfi.r128.true_peaks_ch{number - 1}", ""))
            per_channel.append(
                {
                    "channel": number,
                    "peak_dbfs": _round(peak_db),
                    "rms_dbfs": _round(_db(rms)),
                    "true_peak_dbtp": _round(_db(true_peak)) if c.true_peak and true_peak is not None else None,
                    "clipped_samples": ch.clipped_samples,
                    "clip_events": ch.clip_events,
                    "empty": empty,
                }
            )
            if empty:
                markers.append(
                    Marker(
                        category="problem",
                        frame=0,
                        name=f"Audio channel {number} is empty",
                        comment=f"loudness: channel {number} peaks at {_text_db(peak_db)} dBFS over the whole clip",
                    )
                )
            for s, e in ch.intervals:
                start_s, end_s = s / self.rate, e / self.rate
                start_f = round(start_s * frame_rate)
                end_f = max(start_f + 1, round(end_s * frame_rate))
                items.append(
                    {
                        "kind": "clipping",
                        "channel": number,
                        "start_frame": start_f,
                        "end_frame": end_f,
                        "start_s": round(start_s, 4),
                        "end_s": round(end_s, 4),
                    }
                )
                markers.append(
                    Marker(
                        category="problem",
                        frame=start_f,
                        duration_frames=end_f - start_f,
                        name=f"Audio clipping ch{number}",
                        comment=f"loudness: samples at full scale on channel {number}",
                    )
                )
        items.sort(key=lambda i: (i["start_frame"], i["channel"]))
        integrated = _lufs(_float(self.r128.get("lavfi.r128.I", "")))
        peak_key = "lavfi.r128.true_peak" if c.true_peak else "lavfi.r128.sample_peak"
        return Result(
            items=items,
            summary={
                "integrated_lufs": _round(integrated),
                "loudness_range_lu": _round(_float(self.r128.get("lavfi.r128.LRA", ""))),
                "lra_low_lufs": _round(_lufs(_float(self.r128.get("lavfi.r128.LRA.low", "")))),
                "lra_high_lufs": _round(_lufs(_float(self.r128.get("lavfi.r128.LRA.high", "")))),
                "true_peak_dbtp" if c.true_peak else "sample_peak_dbfs": _round(
                    _db(_float(self.r128.get(peak_key, "")))
                ),
                "short_term_lufs": [_round(v) for v in self.short_term],
                "channels": per_channel,
                "empty_channels": [p["channel"] for p in per_channel if p["empty"]],
                "clipping_channels": [p["channel"] for p in per_channel if p["clip_events"]],
                "sample_rate": self.rate,
                "audio_s": round(self.audio_seconds, 3),
            },
            markers=markers,
        )


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _lufs(value: float | None) -> float | None:
    """ebur128 pins silence to -70 LUFS; that is "no loudness", not a level."""
    return None if value is None or value <= R128_FLOOR else value


def _db(linear: float | None) -> float | None:
    if linear is None or linear <= 0:
        return None
    return 20 * math.log10(linear)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _text_db(value: float | None) -> str:
    return "-inf" if value is None else f"{value:.1f}"
