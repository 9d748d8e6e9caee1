"""Hand-built sidecars for the export tests: every acceptance rate, hostile marker names.

Shared by ``test_export_*.py`` and ``test_exporters_*.py``. Sidecars are built the way
:func:`kinod.export.sidecar.build_sidecar` lays them out, with timecodes from
:mod:`kinod.media.timecode`, so the tests need no media except for the VFR case.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from kinod.export.timeline import MARKER_CATEGORIES
from kinod.media.timecode import format_rate, frames_to_tc, tc_to_frames

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"

#: Names and comments that break naive writers: XML/EDL/CSV/Avid syntax, scripts, emoji.
HOSTILE: tuple[str, ...] = (
    'Tom & Jerry <b>"quoted"</b>',
    "line one\nline two",
    "tab\there",
    "pipe | and |C:ResolveColorRed |M:fake",
    "日本語のテキスト",
    "emoji 🎬🙂👍🏽",
    "Ελληνικά, عربى, עברית",
    "]]> <!-- not a comment --> &amp;",
    '=HYPERLINK("http://x")',
    "*starts with a star",
    "42 starts with a digit",
    "bell\x07 and nul\x00",
    "back\\slash 'single' \"double\"",
    "crlf\r\nbreak",
    "+plus -minus @at",
)


@dataclass(frozen=True)
class RateCase:
    label: str
    rate: Fraction
    drop_frame: bool
    start_tc: str
    frames: int
    #: Source timecodes that must carry a marker (DF minute boundaries and friends).
    tc_marks: tuple[str, ...] = ()
    vfr: bool = False


RATE_CASES: tuple[RateCase, ...] = (
    RateCase("23.976", Fraction(24000, 1001), False, "00:59:58:00", 3000, ("01:00:00:00", "00:59:59:23")),
    RateCase("24", Fraction(24), False, "10:00:00:00", 2400, ("10:00:59:23", "10:01:00:00")),
    RateCase("25", Fraction(25), False, "23:58:00:00", 1000, ("23:58:30:24", "23:58:31:00")),
    RateCase(
        "29.97DF", Fraction(30000, 1001), True, "00:09:58;00", 3700, ("00:10:00;00", "00:10:59;29", "00:11:00;02")
    ),
    RateCase("29.97NDF", Fraction(30000, 1001), False, "00:09:58:00", 3700, ("00:10:00:00", "00:10:59:29")),
    RateCase("50", Fraction(50), False, "01:00:00:00", 3500, ("01:00:59:49", "01:01:00:00")),
    RateCase(
        "59.94DF", Fraction(60000, 1001), True, "00:09:58;00", 7400, ("00:10:00;00", "00:10:59;59", "00:11:00;04")
    ),
)


def marker(
    category: str, frame: int, name: str, comment: str = "", duration: int = 0, conf: float | None = 0.9
) -> dict[str, Any]:
    return {
        "category": category,
        "frame": frame,
        "duration_frames": duration,
        "name": name,
        "comment": comment,
        "confidence": conf,
        "analyzer": "test",
    }


def make_sidecar(
    *,
    name: str = "A001C003_230101_R1AB.mov",
    folder: str = "/mnt/nas/footage/A001",
    rate: Fraction = Fraction(25),
    drop_frame: bool = False,
    start_tc: str = "01:00:00:00",
    frames: int = 250,
    markers: list[dict[str, Any]] | None = None,
    speech: list[dict[str, Any]] | None = None,
    vfr: bool = False,
    audio_channels: int = 2,
    width: int = 1920,
    height: int = 1080,
) -> dict[str, Any]:
    start = tc_to_frames(start_tc, rate, drop_frame)
    recs = []
    for m in markers or []:
        rec = dict(m)
        rec["seconds"] = round(float(Fraction(m["frame"]) / rate), 6)
        rec["tc"] = frames_to_tc(start + m["frame"], rate, drop_frame)
        recs.append(rec)
    analyses: dict[str, Any] = {}
    if speech is not None:
        analyses["speech"] = {"analyzer": "speech", "version": "1", "items": speech}
    path = f"{folder}/{name}"
    return {
        "schema": "kinod.clip",
        "schema_version": "1.1",
        "kinod_version": "0.1.0",
        "generated_at": "2026-01-01T00:00:00+00:00",
        "source": {"path": path, "name": name, "size": 1000, "fingerprint": "3e8-abc", "card": "A001"},
        "probe": {
            "has_video": True,
            "rate": format_rate(rate),
            "frames": frames,
            "duration_s": float(Fraction(frames) / rate),
            "width": width,
            "height": height,
            "vfr": vfr,
            "reel": None,
            "audio": [{"index": 1, "codec": "pcm", "channels": audio_channels, "sample_rate": 48000}]
            if audio_channels
            else [],
        },
        "timeline": {
            "rate": format_rate(rate),
            "frames": frames,
            "start_tc": start_tc,
            "start_tc_frames": start,
            "drop_frame": drop_frame,
            "tc_source": "container",
        },
        "analyses": analyses,
        "markers": sorted(recs, key=lambda r: (r["frame"], r["category"])),
        "errors": [],
    }


def acceptance_markers(case: RateCase) -> list[dict[str, Any]]:
    """Frame 0, the last frame, the case's timecodes, a ranged marker; every category; hostile names."""
    start = tc_to_frames(case.start_tc, case.rate, case.drop_frame)
    frames = {0, case.frames - 1, case.frames // 3}
    frames |= {tc_to_frames(tc, case.rate, case.drop_frame) - start for tc in case.tc_marks}
    n = len(MARKER_CATEGORIES) + len(HOSTILE)
    step = max(1, min(7, (case.frames - 2 - case.frames // 2) // n))
    frames |= {case.frames // 2 + i * step for i in range(n)}
    out = []
    for i, frame in enumerate(sorted(frames)):
        category = MARKER_CATEGORIES[i % len(MARKER_CATEGORIES)]
        name = HOSTILE[i % len(HOSTILE)] if i % 2 else f"{category} {i}"
        comment = HOSTILE[(i + 3) % len(HOSTILE)]
        duration = 12 if frame == case.frames // 3 else 0
        out.append(marker(category, frame, name, comment, duration=duration, conf=round(0.5 + i / 100, 2)))
    return out


def case_sidecar(case: RateCase) -> dict[str, Any]:
    return make_sidecar(
        name=f"clip_{case.label}.mov",
        rate=case.rate,
        drop_frame=case.drop_frame,
        start_tc=case.start_tc,
        frames=case.frames,
        markers=acceptance_markers(case),
        vfr=case.vfr,
    )
