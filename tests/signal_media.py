"""Helpers for the signal analyzer tests: generated media and one decode pass over it.

Media are made with ffmpeg's lavfi sources at small sizes, so every interval is known
by construction. Analyzers are driven through the real DecodePass (no registry, no
pipeline), the same way the pipeline drives them.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import imageio_ffmpeg

from kinod.analyzers.base import Analyzer, ClipInfo, Result, finish_order
from kinod.export.sidecar import TimeBase, analysis_record, build_sidecar, json_schema, marker_record
from kinod.media.decode import DecodePass, PassStats, needs_decode
from kinod.media.probe import probe

FF = imageio_ffmpeg.get_ffmpeg_exe()
FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
MEDIA = FIXTURES / "media"
#: Lossless H.264: an encoder's quality ramp after a cut would make a frozen frame
#: change for a few frames, and intervals must be exact by construction.
LOSSLESS = ("-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p")


def ffmpeg(*args: str) -> None:
    subprocess.run([FF, "-v", "error", "-y", *args], check=True)


def lavfi_clip(
    out: Path,
    video: str | None,
    audio: str | None = None,
    *,
    seconds: float | None = None,
    codec: Sequence[str] = LOSSLESS,
    extra: Sequence[str] = (),
    before: Sequence[str] = (),
) -> Path:
    """Encode a lavfi video graph (and audio graph) into ``out``; ``before`` applies to the video input."""
    args: list[str] = []
    if video is not None:
        args += [*before, "-f", "lavfi", "-i", video]
    if audio is not None:
        args += ["-f", "lavfi", "-i", audio]
    if seconds is not None:
        args += ["-t", str(seconds)]
    if video is not None:
        args += list(codec)
    if audio is not None:
        args += ["-c:a", "pcm_s24le" if out.suffix in (".wav", ".mov") else "aac", "-b:a", "256k"]
    ffmpeg(*args, *extra, str(out))
    return out


def run(
    path: Path, analyzers: Sequence[Analyzer], artefacts: Path, width: int = 480
) -> tuple[dict[str, Result], PassStats]:
    """One decode pass over ``path`` feeding ``analyzers``; results by analyzer name."""
    pr = probe(path)
    info = ClipInfo(path, pr, pr.timeline_rate, pr.frames, artefacts, pr.start_tc_frames, pr.drop_frame)
    for a in analyzers:
        a.start(info)
    # As the pipeline does: no pass when nobody has anything to take from it.
    stats = DecodePass(path, pr, ffmpeg=FF, width=width).run(analyzers) if needs_decode(analyzers, pr) else PassStats()
    results: dict[str, Result] = {}
    for a in finish_order(analyzers):
        a.use_results({n: results[n] for n in a.needs.results_of if n in results})
        results[a.name] = a.finish()
    return results, stats


def sidecar_for(path: Path, analyzers: Sequence[Analyzer], results: dict[str, Result]) -> dict:
    """The sidecar these results make, round-tripped through JSON (so numpy types fail here)."""
    pr = probe(path)
    tb = TimeBase.from_probe(pr)
    analyses, markers = {}, []
    for a in analyzers:
        r = results[a.name]
        analyses[a.name] = analysis_record(a.name, a.version, a.config.model_dump(mode="json"), "x", r, 0.1, tb)
        markers += [marker_record(m, a.name, tb) for m in r.markers]
    data = build_sidecar(source_path=path, fingerprint="f", probe=pr, analyses=analyses, markers=markers, errors=[])
    return json.loads(json.dumps(data, allow_nan=False))


def schema() -> dict:
    return json_schema()
