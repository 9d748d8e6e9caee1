"""Edit-ready proxies that ride the one decode pass.

An editor relinks proxies by name and by shape: Premiere and Resolve accept a proxy
only if it has the original's base name, frame rate, duration, start timecode and
audio channel layout. So each proxy is made from the clip's own probe: same frame
count (every decoded frame is encoded, nothing resampled unless the original is
VFR), the probe's start TC written as a QuickTime ``tmcd`` track (drop-frame kept),
the reel name, and one audio track per original track with the same channels.

Cost: decoding the original is the expensive part, so the proxy encode is an extra
branch (``VideoBranch``/``AudioBranch``) of the analysis pass's ffmpeg process, not a
second decode. That process writes picture and sound to two temporary files (the
branch API gives each branch its own output); :meth:`ProxyJob.finalize` then muxes
them into the final ``.mov`` with a stream copy of the picture (cheap: no decode, no
encode), splits the sound back into the original's tracks, stamps TC and reel, and
renames it into place. Until that rename nothing with the proxy's name exists, so a
crash or a cancelled pass never leaves a half proxy that an NLE would pick up.

Codecs: H.264 (default; 540 px high, CRF, AAC) or ProRes 422 Proxy with the native
``prores`` encoder (profile 0; ``prores_ks`` is several times slower for no gain at
proxy quality) and PCM. Layouts: Premiere (``Proxies/<name>_Proxy.mov``), Resolve
(``Proxy/<name>.mov``) or flat (``<root>/<name>.mov``). Optional burn-in of source
timecode and clip name uses ffmpeg's ``drawtext`` (checked for in the build).

The branches' filter chains and encoder options are built in
:mod:`kinod.media.proxy_encode`; this module plans a proxy and finishes it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kinod.media.decode import AudioBranch, DecodePass, VideoBranch
from kinod.media.probe import Probe
from kinod.media.proxy_encode import (
    audio_filters,
    ff_path,
    ffmpeg_filters,
    layout_name,
    proxy_size,
    video_codec_args,
    video_filters,
)

ProxyCodec = Literal["h264", "prores_proxy"]
ProxyLayout = Literal["premiere", "resolve", "flat"]
PARTIAL = ".kinod-partial"


class ProxyError(RuntimeError):
    """A proxy cannot be planned or finished; the message names the clip and the reason."""


class ProxyConfig(BaseModel):
    """The ``[proxy]`` config section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    codec: ProxyCodec = "h264"
    #: Proxy height in pixels (never upscaled); width follows the display aspect ratio.
    height: int = Field(540, ge=64, le=2160)
    #: If set (e.g. 960), the width instead, height following the aspect ratio.
    width: int = Field(0, ge=0, le=3840)
    #: H.264 quality (lower is better) and x264 preset. A proxy must be cheap to make and
    #: to scrub: at 540p "superfast" costs about two thirds of "veryfast"'s encode time
    #: for somewhat larger files, which is the right trade for a throwaway edit copy.
    crf: int = Field(23, ge=0, le=51)
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = "superfast"
    #: x264 ``-tune fastdecode`` (no CABAC, no deblocking): smoother scrubbing in the NLE.
    fast_decode: bool = True
    #: "auto": AAC with H.264, PCM with ProRes.
    audio: Literal["auto", "aac", "pcm"] = "auto"
    layout: ProxyLayout = "premiere"
    #: Folder for the flat layout; empty: the clip's output folder.
    root: Path | None = None
    burn_in_timecode: bool = False
    burn_in_name: bool = False
    #: Font for burn-in; empty lets fontconfig choose a sans-serif face.
    fontfile: str = ""
    #: Keys holding a path, resolved against the config file's folder.
    path_keys: ClassVar[tuple[str, ...]] = ("fontfile",)

    @field_validator("root", mode="before")
    @classmethod
    def _empty_root_is_none(cls, v: object) -> object:
        return None if v in ("", None) else v

    @field_validator("height", "width")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("must be an even number of pixels")
        return v


def proxy_path(source: Path, out_dir: Path, config: ProxyConfig) -> Path:
    """Where the proxy of ``source`` goes; its base name is the original's, as NLEs require."""
    stem = source.stem
    if config.layout == "premiere":
        return out_dir / "Proxies" / f"{stem}_Proxy.mov"
    if config.layout == "resolve":
        return out_dir / "Proxy" / f"{stem}.mov"
    return (config.root or out_dir) / f"{stem}.mov"


def proxy_up_to_date(target: Path, source: Path) -> bool:
    """True if a finished proxy exists and is newer than its original (then there is nothing to do)."""
    try:
        t, s = target.stat(), source.stat()
    except OSError:
        return False
    return t.st_size > 0 and t.st_mtime >= s.st_mtime


@dataclass
class ProxyResult:
    path: Path
    frames: int
    audio_channels: list[int]
    finalize_s: float
    warnings: list[str] = field(default_factory=list)


@dataclass
class ProxyJob:
    """One planned proxy: hand its branches to ``DecodePass.run``, then call :meth:`finalize`."""

    source: Path
    probe: Probe
    target: Path
    config: ProxyConfig
    ffmpeg: str
    start_tc: str
    reel: str | None
    video_branches: tuple[VideoBranch, ...]
    audio_branches: tuple[AudioBranch, ...]
    video_tmp: Path
    audio_tmp: Path | None
    extra_audio: tuple[Path, ...] = ()
    work_dir: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def finalize(self, timeout_s: float = 3600) -> ProxyResult:
        """Mux the branch outputs into the final proxy and rename it into place (atomically)."""
        t0 = time.monotonic()
        partial = self.target.with_name(f".{self.target.name}{PARTIAL}.mov")
        try:
            if not self.video_tmp.is_file() or self.video_tmp.stat().st_size == 0:
                raise ProxyError(f"{self.source}: proxy picture was not written (did the decode pass run?)")
            cmd = self._mux_command(partial)
            try:
                out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s)
            except subprocess.TimeoutExpired:
                raise ProxyError(f"{self.source}: proxy mux timed out after {timeout_s:.0f} s") from None
            if out.returncode != 0:
                msg = out.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
                raise ProxyError(f"{self.source}: proxy mux failed: {'; '.join(msg) or out.returncode}")
            frames, channels = _proxy_facts(partial)
            warnings = list(self.warnings)
            if self.probe.frames and frames != self.probe.frames:
                warnings.append(f"{self.source}: proxy has {frames} frames, the original {self.probe.frames}")
            want = self._track_channels()
            if channels != want:
                warnings.append(f"{self.source}: proxy audio tracks {channels} differ from the original's {want}")
            os.replace(partial, self.target)
            _fsync_dir(self.target.parent)
        finally:
            self._cleanup(partial)
        return ProxyResult(self.target, frames, channels, time.monotonic() - t0, warnings)

    def abort(self) -> None:
        """Remove every temporary file (after a failed or cancelled pass)."""
        self._cleanup(self.target.with_name(f".{self.target.name}{PARTIAL}.mov"))

    def _cleanup(self, partial: Path) -> None:
        for p in (self.video_tmp, self.audio_tmp, partial):
            if p is not None:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def _track_channels(self) -> list[int]:
        if self.extra_audio:
            return [1] * len(self.extra_audio)
        return [a.channels for a in self.probe.audio if a.channels > 0]

    def _audio_codec(self) -> str:
        choice = self.config.audio
        if choice == "auto":
            choice = "pcm" if self.config.codec == "prores_proxy" else "aac"
        if choice == "aac":
            return "aac"
        depth = max((a.bit_depth or 16 for a in self.probe.audio), default=16)
        return "pcm_s24le" if depth > 16 else "pcm_s16le"

    def _mux_command(self, partial: Path) -> list[str]:
        cmd = [self.ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error", "-y"]
        cmd += ["-i", ff_path(self.video_tmp)]
        maps = ["-map", "0:v:0"]
        graph: list[str] = []
        layout = self._track_channels()
        if self.extra_audio:
            for i, p in enumerate(self.extra_audio, start=1):
                cmd += ["-i", ff_path(p)]
                graph.append(f"[{i}:a:0]aformat=channel_layouts=mono[t{i - 1}]")
        elif self.audio_tmp is not None and layout:
            cmd += ["-i", ff_path(self.audio_tmp)]
            splits = "".join(f"[m{k}]" for k in range(len(layout)))
            graph.append(f"[1:a:0]asplit={len(layout)}{splits}" if len(layout) > 1 else "[1:a:0]anull[m0]")
            offset = 0
            for k, n in enumerate(layout):
                pairs = "|".join(f"c{j}=c{offset + j}" for j in range(n))
                graph.append(f"[m{k}]pan={layout_name(n)}|{pairs}[t{k}]")
                offset += n
        if graph:
            cmd += ["-filter_complex", ";".join(graph)]
            for k in range(len(layout)):
                maps += ["-map", f"[t{k}]"]
        cmd += [*maps, "-c:v", "copy"]
        codec = self._audio_codec()
        if graph:
            cmd += ["-c:a", codec]
            if codec == "aac":
                for k, n in enumerate(layout):
                    cmd += [f"-b:a:{k}", f"{min(512, 96 * n)}k"]
        cmd += ["-timecode", self.start_tc]
        if self.reel:
            cmd += ["-metadata:s:v:0", f"reel_name={self.reel}"]
        cmd += ["-metadata", f"comment=kinod proxy of {self.source.name}"]
        cmd += ["-movflags", "+faststart", "-f", "mov", ff_path(partial)]
        return cmd


def plan_proxy(
    source: Path,
    probe: Probe,
    out_dir: Path,
    config: ProxyConfig,
    *,
    ffmpeg: str,
    clip_name: str | None = None,
    extra_audio: Sequence[Path] = (),
    start_tc: str | None = None,
    reel: str | None = None,
) -> ProxyJob:
    """Plan the proxy of one media file: the branches for the decode pass and where they write.

    ``extra_audio`` are separate audio essences muxed in at finalize (P2 keeps each
    channel in its own MXF beside the picture). ``start_tc``/``reel`` default to the
    probe's. Raises ProxyError for a file with no picture.
    """
    if not probe.has_video:
        raise ProxyError(f"{source}: no picture, so no proxy (audio-only clip)")
    target = proxy_path(source, out_dir, config)
    target.parent.mkdir(parents=True, exist_ok=True)
    video_tmp = target.with_name(f".{target.name}{PARTIAL}-video.mov")
    has_audio = probe.audio_channels > 0 and not extra_audio
    audio_tmp = target.with_name(f".{target.name}{PARTIAL}-audio.wav") if has_audio else None
    job = ProxyJob(
        source=Path(source),
        probe=probe,
        target=target,
        config=config,
        ffmpeg=ffmpeg,
        start_tc=start_tc or probe.start_tc,
        reel=reel or probe.reel or source.stem,
        video_branches=(),
        audio_branches=(),
        video_tmp=video_tmp,
        audio_tmp=audio_tmp,
        extra_audio=tuple(extra_audio),
    )
    vf = video_filters(job, clip_name or source.stem)
    job.video_branches = (VideoBranch(vf, (*video_codec_args(config, probe), "-an", "-f", "mov", ff_path(video_tmp))),)
    if audio_tmp is not None:
        af = audio_filters(probe)
        job.audio_branches = (AudioBranch(af, ("-c:a", "pcm_f32le", "-rf64", "auto", "-f", "wav", ff_path(audio_tmp))),)
    return job


def make_proxy(
    source: Path,
    probe: Probe,
    out_dir: Path,
    config: ProxyConfig,
    *,
    ffmpeg: str,
    clip_name: str | None = None,
    extra_audio: Sequence[Path] = (),
    threads: int = 0,
) -> ProxyResult:
    """A proxy on its own (no analysis): one decode pass whose only consumers are the proxy branches."""
    job = plan_proxy(source, probe, out_dir, config, ffmpeg=ffmpeg, clip_name=clip_name, extra_audio=extra_audio)
    dp = DecodePass(source, probe, ffmpeg=ffmpeg, threads=threads)
    try:
        dp.run([], video_branches=job.video_branches, audio_branches=job.audio_branches)
        return job.finalize()
    except BaseException:
        job.abort()
        raise


def _proxy_facts(path: Path) -> tuple[int, list[int]]:
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = v.frames or 0
        channels = [s.codec_context.channels for s in c.streams.audio]
    return frames, channels


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


__all__ = [
    "PARTIAL",
    "ProxyConfig",
    "ProxyError",
    "ProxyJob",
    "ProxyResult",
    "ffmpeg_filters",
    "make_proxy",
    "plan_proxy",
    "proxy_path",
    "proxy_size",
    "proxy_up_to_date",
]
