"""Generated dual-system media with known truth: recorder BWFs and camera clips of the same speech.

Speech is the committed espeak-ng renderings in ``tests/data`` (the tests never run
espeak). A recorder take is several sentences with pauses, clean, at the recorder's
rate; a camera clip is a stretch of the *same* take, band-limited (a camera microphone),
reverberant (``aecho``) and mixed with room noise, so sync has to see past the colour.
The truth is the sample where the camera's stretch begins.
"""

from __future__ import annotations

import struct
import subprocess
import wave
from pathlib import Path

import imageio_ffmpeg
import numpy as np

FF = imageio_ffmpeg.get_ffmpeg_exe()
DATA = Path(__file__).resolve().parent / "data"
SENTENCES = sorted((DATA / "categories").glob("*.wav")) + sorted((DATA / "speech").glob("*.wav"))
#: How a camera microphone across the room hears the scene.
CAMERA_COLOUR = "highpass=f=250,lowpass=f=3200,aecho=0.8:0.6:23|41:0.35|0.2"


def speech(seed: int, seconds: float, rate: int = 48000, vary: bool = False) -> np.ndarray:
    """``seconds`` of sentences in an order and with pauses chosen by ``seed`` (float32 mono).

    ``vary``: each sentence is spoken a little faster or slower (resampled by 0.85-1.15),
    as another performance would be, so two long takes never share identical stretches.
    """
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    total = 0
    order: list[int] = []
    while total < seconds * rate:
        order = order or list(rng.permutation(len(SENTENCES)))  # no sentence twice in a row
        src = SENTENCES[order.pop()]
        pcm = _read_wav_resampled(src, rate)
        if vary:
            n = int(pcm.size * rng.uniform(0.85, 1.15))
            pcm = np.interp(np.linspace(0, pcm.size - 1, n), np.arange(pcm.size), pcm).astype(np.float32)
        gap = np.zeros(int(rng.uniform(0.3, 1.5) * rate), dtype=np.float32)
        parts += [gap, pcm * float(rng.uniform(0.5, 1.0))]
        total += gap.size + pcm.size
    return np.concatenate(parts)[: int(seconds * rate)]


_RESAMPLED: dict[tuple[Path, int], np.ndarray] = {}


def _read_wav_resampled(path: Path, rate: int) -> np.ndarray:
    key = (path, rate)
    if key not in _RESAMPLED:
        out = subprocess.run(
            [FF, "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(rate), "-f", "f32le", "-"],
            capture_output=True,
            check=True,
        )
        _RESAMPLED[key] = np.frombuffer(out.stdout, dtype="<f4").copy()
    return _RESAMPLED[key]


def _ixml(scene: str | None, take: str | None, tape: str | None, tracks: list[str], tc_rate: str) -> bytes:
    track_xml = "".join(
        f"<TRACK><CHANNEL_INDEX>{i}</CHANNEL_INDEX><NAME>{n}</NAME></TRACK>" for i, n in enumerate(tracks, 1)
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><BWFXML><IXML_VERSION>1.61</IXML_VERSION>'
        f"<SCENE>{scene or ''}</SCENE><TAKE>{take or ''}</TAKE><TAPE>{tape or ''}</TAPE>"
        f"<SPEED><TIMECODE_RATE>{tc_rate}</TIMECODE_RATE><TIMECODE_FLAG>NDF</TIMECODE_FLAG></SPEED>"
        f"<TRACK_LIST><TRACK_COUNT>{len(tracks)}</TRACK_COUNT>{track_xml}</TRACK_LIST></BWFXML>"
    )
    return body.encode()


def write_bwf(
    path: Path,
    channels: list[np.ndarray],
    rate: int = 48000,
    *,
    time_reference: int = 0,
    scene: str | None = None,
    take: str | None = None,
    tape: str | None = None,
    tracks: list[str] | None = None,
    tc_rate: str = "25/1",
    bext: bytes | None = None,
    ixml: bytes | None = None,
) -> Path:
    """A 24-bit Broadcast WAV with a bext time reference and an iXML chunk, as a recorder writes it."""
    pcm = np.stack(channels, axis=1) if channels else np.zeros((0, 1), dtype=np.float32)
    ints = np.clip(np.round(pcm * 8388607), -8388608, 8388607).astype("<i4")
    data = ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    nch = pcm.shape[1]
    fmt = struct.pack("<HHIIHH", 1, nch, rate, rate * nch * 3, nch * 3, 24)
    if bext is None:
        bext = bytearray(602)
        bext[256:288] = b"kinod-test".ljust(32, b"\0")
        bext[338:346] = struct.pack("<II", time_reference & 0xFFFFFFFF, time_reference >> 32)
        bext = bytes(bext)
    if ixml is None:
        ixml = _ixml(scene, take, tape, tracks or [f"Ch{i}" for i in range(1, nch + 1)], tc_rate)
    chunks = b""
    for cid, body in ((b"fmt ", fmt), (b"bext", bext), (b"iXML", ixml), (b"data", data)):
        chunks += cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    return path


def camera_clip(
    path: Path,
    source: np.ndarray | None,
    source_rate: int = 48000,
    *,
    start_sample: int = 0,
    seconds: float = 12.0,
    tc: str | None = "00:00:00:00",
    noise_seed: int = 1,
    audio_rate: int = 48000,
    fps: int = 25,
) -> Path:
    """A small MOV whose scratch track is ``source[start_sample:]`` heard by a camera microphone."""
    args = [FF, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size=160x120:rate={fps}:duration={seconds}"]
    if source is not None:
        stretch = source[start_sample : start_sample + int(seconds * source_rate)].astype(np.float32)
        raw = path.with_suffix(".f32")
        raw.write_bytes(stretch.astype("<f4").tobytes())
        graph = (
            f"[1:a]{CAMERA_COLOUR},volume=0.6[c];"
            f"anoisesrc=color=pink:amplitude=0.03:seed={noise_seed}:sample_rate={source_rate}[n];"
            f"[c][n]amix=inputs=2:duration=first:normalize=0,aresample={audio_rate}[a]"
        )
        args += ["-f", "f32le", "-ar", str(source_rate), "-ac", "1", "-i", str(raw)]
        args += ["-filter_complex", graph, "-map", "0:v", "-map", "[a]", "-c:a", "pcm_s16le"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-t", str(seconds)]
    if tc is not None:
        args += ["-timecode", tc]
    subprocess.run([*args, str(path)], check=True)
    if source is not None:
        path.with_suffix(".f32").unlink()
    return path


def wav_frames(path: Path) -> int:
    with wave.open(str(path)) as w:
        return w.getnframes()
