"""A clip's output files for download, and the waveform picture of a sound file.

Downloads: every file kinod wrote for the clip (its sidecar and NLE files beside it,
``<clip>.*``, and its artefacts such as ``transcript.txt``), served by ``/download``
only from inside the output root and only with the suffixes kinod writes.

Waveform: a sound file has no picture, so its page shows the waveform ffmpeg draws
(``showwavespic``) from the file the player plays; drawn on request, kept in memory by
path and modification time (a page view must not re-decode an hour of audio).
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

from kinod.media.ffmpeg import ffmpeg_path

#: What /download serves (what kinod writes beside a clip).
DOWNLOAD_SUFFIXES = frozenset({".json", ".yaml", ".otio", ".edl", ".xml", ".fcpxml", ".srt", ".vtt", ".csv", ".txt",
                               ".ale", ".html"})
_WAVES: dict[tuple[str, float], bytes] = {}
_LOCK = threading.Lock()
WAVEFORM_SIZE = "1200x160"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return ""


def clip_files(folder: Path, clip_name: str, url_of: Any) -> list[dict[str, Any]]:
    """The clip's own files in its output folder and its artefact folder, as download links."""
    found: list[Path] = []
    prefix = clip_name + "."
    try:
        found += [p for p in sorted(folder.iterdir()) if p.is_file() and p.name.startswith(prefix)]
        art = folder / "keyframes" / clip_name
        if art.is_dir():
            found += [p for p in sorted(art.iterdir()) if p.is_file()]
    except OSError:
        return []
    out = []
    for p in found:
        if p.suffix.lower() not in DOWNLOAD_SUFFIXES:
            continue
        url = url_of(p)
        if url:
            out.append({"name": p.name, "url": url, "size": _size(p.stat().st_size)})
    return out


def waveform_png(source: Path) -> bytes:
    """The waveform of a sound file as a PNG (drawn once per file version). Raises OSError when it cannot be drawn."""
    key = (str(source), source.stat().st_mtime)
    with _LOCK:
        if key in _WAVES:
            return _WAVES[key]
    proc = subprocess.run(
        [ffmpeg_path(), "-v", "error", "-nostdin", "-i", str(source), "-filter_complex",
         f"aformat=channel_layouts=mono,showwavespic=s={WAVEFORM_SIZE}:colors=#3478f6", "-frames:v", "1",
         "-f", "image2pipe", "-c:v", "png", "-"],
        capture_output=True, timeout=120, check=False,
    )
    if proc.returncode != 0 or not proc.stdout:
        raise OSError(f"{source}: no waveform: {proc.stderr.decode(errors='replace')[-200:]}")
    with _LOCK:
        if len(_WAVES) > 64:
            _WAVES.clear()
        _WAVES[key] = proc.stdout
    return proc.stdout
