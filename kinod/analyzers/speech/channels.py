"""Which channel(s) of a multichannel recording to transcribe, and why.

On set, channel 1 is often the camera's scratch mic and a lavalier sits on channel 2;
an 8-channel recorder may carry one live track. Mixing everything would bury the lav
under room noise (or divide a lone live channel by eight), so the default picks the
loudest non-empty channel. "mix" averages only the non-empty channels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_BLOCK = 16000 * 60  # level measurement in one-minute blocks: bounded memory on long memory-mapped clips


@dataclass
class ChannelChoice:
    """The mono signal to transcribe plus what the summary says about it."""

    mono: np.ndarray  # float32, 1-D
    used: list[int]  # 1-based channel numbers
    mode: str
    reason: str
    levels_dbfs: list[float]
    empty: list[int] = field(default_factory=list)
    sanitized: bool = False


def channel_levels_dbfs(samples: np.ndarray) -> tuple[list[float], bool]:
    """RMS level per channel in dBFS (-inf-safe: floor at -120) and whether NaN/Inf had to be zeroed."""
    n, channels = samples.shape
    sq = np.zeros(channels, dtype=np.float64)
    bad = False
    for start in range(0, n, _BLOCK):
        block = np.asarray(samples[start : start + _BLOCK], dtype=np.float32)
        if not np.isfinite(block).all():
            bad = True
            block = np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
        sq += np.square(block, dtype=np.float64).sum(axis=0)
    rms = np.sqrt(sq / max(n, 1))
    return [float(max(-120.0, 20 * np.log10(r))) if r > 0 else -120.0 for r in rms], bad


def choose_channels(samples: np.ndarray, mode: str | int, empty_dbfs: float) -> ChannelChoice:
    """Pick channel(s) per ``[analyzers.speech] channel``; raises ValueError for a channel that does not exist."""
    channels = samples.shape[1]
    levels, bad = channel_levels_dbfs(samples)
    empty = [i + 1 for i, level in enumerate(levels) if level < empty_dbfs]
    live = [i + 1 for i in range(channels) if i + 1 not in empty]

    def take(numbers: list[int]) -> np.ndarray:
        idx = [c - 1 for c in numbers]
        data = np.asarray(samples[:, idx], dtype=np.float32)
        if bad:
            data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
        mono = data.mean(axis=1) if len(idx) > 1 else data[:, 0]
        return np.clip(np.ascontiguousarray(mono, dtype=np.float32), -1.0, 1.0)

    def fmt(levels_of: list[int]) -> str:
        return ", ".join(f"{c}: {levels[c - 1]:.1f} dBFS" for c in levels_of)

    if isinstance(mode, int):
        if mode > channels:
            raise ValueError(f"analyzers.speech.channel = {mode}, but the clip has {channels} audio channel(s)")
        why = f"configured channel {mode} ({fmt([mode])})"
        if mode in empty:
            why += f"; it is below {empty_dbfs:.0f} dBFS (empty)"
        return ChannelChoice(take([mode]), [mode], "index", why, levels, empty, bad)
    if channels == 1:
        return ChannelChoice(take([1]), [1], mode, "mono recording", levels, empty, bad)
    if not live:
        loudest = int(np.argmax(levels)) + 1
        return ChannelChoice(take([loudest]), [loudest], mode, "all channels are empty", levels, empty, bad)
    if mode == "mix":
        why = f"mix of non-empty channels ({fmt(live)})"
        if empty:
            why += f"; left out empty channel(s) {', '.join(map(str, empty))}"
        return ChannelChoice(take(live), live, mode, why, levels, empty, bad)
    loudest = max(live, key=lambda c: levels[c - 1])
    why = f"loudest non-empty channel {loudest} of {channels} ({fmt(live)})"
    if empty:
        why += f"; empty: {', '.join(map(str, empty))}"
    return ChannelChoice(take([loudest]), [loudest], mode, why, levels, empty, bad)
