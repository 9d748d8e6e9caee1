"""The card report: ``card.kino.json`` and a readable ``card.html`` for one card.

What a DIT or an assistant editor wants to know about a card at a glance: which
recordings it holds (clips, not files), how long each is and its timecode range,
which camera shot it, whether the copy verified against its MHL (or, without one,
the xxh64 kinod recorded so a later copy can be checked), and every problem found:
truncated files, malformed sidecars, files that could not be analysed and why.

Both files go to the output tree (never into the card) and are written atomically.
The JSON is the source; the HTML is rendered from it, self-contained, no scripts.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from kinod import __version__
from kinod.media.cards.model import Card, CardClip
from kinod.media.fsutil import atomic_write_json, atomic_write_text
from kinod.media.integrity import Integrity
from kinod.media.mhl import Verification
from kinod.media.probe import Probe
from kinod.media.timecode import format_rate, frames_to_tc, parse_rate, tc_to_frames

SCHEMA_NAME = "kinod.card"
SCHEMA_VERSION = "1.0"
JSON_NAME = "card.kino.json"
HTML_NAME = "card.html"


def build_card_report(
    card: Card,
    *,
    verification: Verification | None = None,
    probes: Mapping[str, Probe | str] | None = None,
    integrity: Mapping[str, Integrity] | None = None,
    outputs: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """The report as JSON-ready data.

    ``probes`` and ``integrity`` are keyed by card-relative file path (a probe that
    failed is given as its error message); ``outputs`` by clip name (e.g.
    ``{"sidecar": "...", "proxy": "..."}``). Anything not given is simply absent.
    """
    probes = probes or {}
    integrity = integrity or {}
    outputs = outputs or {}
    hashes = verification.hashes if verification is not None else {}
    clips = [_clip_record(c, probes, integrity, hashes, outputs.get(c.name, {})) for c in card.clips]
    if verification is not None and not verification.ok:
        # A card that fails its MHL is not analysed at all: its bytes are not the ones the DIT copied.
        for c in clips:
            c["analysed"] = False
            c["not_analysed_reason"] = c["not_analysed_reason"] or "card failed MHL verification"
    problems = [{"path": p.rel, "message": p.message} for p in card.problems]
    for c in clips:
        problems.extend({"path": c["name"], "message": m} for m in c["problems"])
    if verification is not None:
        problems.extend({"path": f.rel, "message": f.message} for f in verification.failures)
    total_frames = sum(c["duration_frames"] or 0 for c in clips)
    return {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "kinod_version": __version__,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "card": {"name": card.name, "root": str(card.root), "families": card.families},
        "verification": _verification_record(verification),
        "summary": {
            "clips": len(clips),
            "analysed": sum(1 for c in clips if c["analysed"]),
            "not_analysed": sum(1 for c in clips if not c["analysed"]),
            "duration_s": round(sum(c["duration_s"] or 0.0 for c in clips), 3),
            "frames": total_frames,
            "bytes": sum(c["size"] for c in clips),
            "problems": len(problems),
        },
        "clips": clips,
        "skipped": [{"path": s.rel, "reason": s.reason, "clip": s.clip} for s in card.skipped],
        "unknown": list(card.unknown),
        "problems": problems,
    }


def _verification_record(v: Verification | None) -> dict[str, Any]:
    if v is None:
        return {"status": "not-run", "summary": "verification was not run"}
    rec = v.to_json()
    rec["summary"] = v.summary()
    return rec


@dataclass
class _Files:
    """What a clip's files add up to: one record each, the media they cover, what was wrong."""

    records: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    frames: int = 0
    duration_s: float = 0.0
    first_probe: Probe | None = None
    integrity_ok: bool | None = None


@dataclass(frozen=True)
class _Timing:
    """The clip's rate, timecode and length: from the card's metadata, else from the probe."""

    rate: Fraction | None
    start_tc: str | None
    tc_source: str | None
    drop: bool | None
    duration_frames: int | None
    duration_s: float | None


def _clip_record(
    clip: CardClip,
    probes: Mapping[str, Probe | str],
    integrity: Mapping[str, Integrity],
    hashes: Mapping[str, Mapping[str, str]],
    outputs: Mapping[str, str],
) -> dict[str, Any]:
    files = _file_records(clip, probes, integrity, hashes)
    first_probe, integrity_ok = files.first_probe, files.integrity_ok
    problems = [*clip.problems, *files.problems]
    t = _timing(clip, files)
    tc_out, tc_last = _tc_range(clip, t, problems)
    return {
        "name": clip.name,
        "family": clip.family,
        "user_clip_name": clip.user_clip_name or (first_probe.clip_name if first_probe else None),
        "camera": _camera(clip, first_probe),
        "rate": format_rate(t.rate) if t.rate else None,
        "start_tc": t.start_tc,
        "end_tc": tc_last,
        "out_tc": tc_out,
        "tc_source": t.tc_source,
        "drop_frame": bool(t.drop),
        "duration_frames": t.duration_frames,
        "duration_s": round(t.duration_s, 3) if t.duration_s is not None else None,
        "size": clip.size,
        "spanned": clip.spanned,
        "audio_channels": _audio_channels(clip, first_probe),
        "reel": clip.reel or (first_probe.reel if first_probe else None),
        "scene": clip.scene,
        "take": clip.take,
        "tape": clip.tape,
        "note": clip.note,
        "marks": [m.__dict__ for m in clip.marks],
        "telemetry_samples": len(clip.telemetry),
        "camera_proxies": clip.camera_proxies,
        "sidecars": clip.sidecars,
        "analysable": clip.analysable,
        "analysed": clip.analysable and integrity_ok is not False,
        "not_analysed_reason": clip.not_analysed_reason
        or ("integrity check failed" if integrity_ok is False else None),
        "integrity_ok": integrity_ok,
        "files": files.records,
        "outputs": dict(outputs),
        "metadata": clip.metadata,
        "problems": list(dict.fromkeys(problems)),
    }


def _file_records(
    clip: CardClip,
    probes: Mapping[str, Probe | str],
    integrity: Mapping[str, Integrity],
    hashes: Mapping[str, Mapping[str, str]],
) -> _Files:
    """One record per file (role, size, hashes, probe, integrity), and what they add up to.

    Only picture-bearing files (``av``, ``video``, ``part``) count towards the clip's
    frames and seconds; the first probe that worked stands in for the clip's metadata.
    """
    out = _Files()
    for f in clip.files:
        pr = probes.get(f.rel)
        rec: dict[str, Any] = {"path": f.rel, "role": f.role, "size": f.size}
        if f.channel is not None:
            rec["channel"] = f.channel
        if f.track_name:
            rec["track_name"] = f.track_name
        if f.rel in hashes:
            rec["hashes"] = dict(hashes[f.rel])
        if isinstance(pr, Probe):
            out.first_probe = out.first_probe or pr
            rec.update({"frames": pr.frames, "duration_s": pr.duration_s, "codec": pr.codec, "start_tc": pr.start_tc})
            if f.role in ("av", "video", "part"):
                out.frames += pr.frames
                out.duration_s += pr.duration_s
        elif isinstance(pr, str):
            rec["error"] = pr
            out.problems.append(pr)
        check = integrity.get(f.rel)
        if check is not None:
            rec["integrity"] = {"ok": check.ok, "decodable": check.decodable, "problems": check.problems}
            out.integrity_ok = (out.integrity_ok is not False) and check.ok
            out.problems.extend(check.problems)
        out.records.append(rec)
    return out


def _timing(clip: CardClip, files: _Files) -> _Timing:
    """Rate, start timecode and length; a sound-only clip's frames are counted at the clip's rate."""
    first_probe = files.first_probe
    rate = _rate(clip, first_probe)
    start_tc = clip.start_tc or (first_probe.start_tc if first_probe else None)
    tc_source = clip.tc_source if clip.start_tc else (first_probe.tc_source if first_probe else None)
    drop = clip.drop_frame if clip.start_tc else (first_probe.drop_frame if first_probe else False)
    duration_frames = files.frames or clip.duration_frames or None
    if not duration_frames and first_probe is not None and not first_probe.has_video and rate:
        duration_frames = round(Fraction(first_probe.duration_s).limit_denominator(1_000_000) * rate) or None
    duration_s = files.duration_s or (float(duration_frames / rate) if duration_frames and rate else None)
    if duration_s is None and first_probe is not None:
        duration_s = first_probe.duration_s
    return _Timing(rate, start_tc, tc_source, drop, duration_frames, duration_s)


def _tc_range(clip: CardClip, t: _Timing, problems: list[str]) -> tuple[str | None, str | None]:
    """The out point and the last frame's timecode; a start timecode unusable at the rate is a problem."""
    tc_out = tc_last = None
    if t.start_tc and t.rate and t.duration_frames:
        try:
            start = tc_to_frames(t.start_tc, t.rate)
            tc_out = frames_to_tc(start + t.duration_frames, t.rate, bool(t.drop))
            tc_last = frames_to_tc(start + t.duration_frames - 1, t.rate, bool(t.drop))
        except ValueError as e:
            problems.append(f"{clip.name}: timecode {t.start_tc!r} cannot be used at {format_rate(t.rate)}: {e}")
    return tc_out, tc_last


def _camera(clip: CardClip, first_probe: Probe | None) -> dict[str, Any]:
    """The camera the card's metadata names, completed by what the probe found (make, model, serial)."""
    camera = {k: v for k, v in clip.camera.__dict__.items() if v}
    if first_probe is not None:
        found = (("make", first_probe.camera_make), ("model", first_probe.camera_model))
        for key, value in (*found, ("serial", first_probe.camera_serial)):
            if value:
                camera.setdefault(key, value)
    return camera


def _rate(clip: CardClip, probe: Probe | None) -> Fraction | None:
    if probe is not None and probe.rate is not None:
        return probe.rate
    if clip.rate:
        try:
            return parse_rate(clip.rate)
        except ValueError:
            return None
    return None


def _audio_channels(clip: CardClip, probe: Probe | None) -> int | None:
    """Channels of the whole clip: the probed file's own plus one per separate mono essence.

    The probed file is the clip's primary; when that is itself a sound file (a FLAC or
    WAV alone, the first file of a split-mono take) it must not be counted twice.
    """
    essences = [f for f in clip.audio_files if f.path != clip.primary]
    if clip.family == "audio" and len(clip.audio_files) > 1:
        return len(clip.audio_files)
    if essences:
        return len(essences) + (probe.audio_channels if probe else 0)
    return probe.audio_channels if probe else None


def write_card_report(
    report: dict[str, Any], dest_dir: Path, page: Callable[[dict[str, Any]], str] | None = None
) -> tuple[Path, Path]:
    """Write ``card.kino.json`` and ``card.html`` into ``dest_dir`` (atomically); refuses the card itself.

    ``page`` renders the HTML: the browse UI's card page when the caller has it (the UI sits
    above this package), else the plain self-contained page.
    """
    root = Path(report["card"]["root"]).absolute()
    dest = Path(dest_dir).absolute()
    if dest == root or dest.is_relative_to(root):
        raise ValueError(f"{dest}: refusing to write the card report inside the card {root}; originals are read-only")
    json_path, html_path = dest / JSON_NAME, dest / HTML_NAME
    # The page (rendered from the clips' sidecars) first: whoever sees the JSON finds the page too.
    atomic_write_text(html_path, (page or render_plain_html)(report))
    atomic_write_json(json_path, report)
    return json_path, html_path


# ------------------------------------------------------------------------------ HTML

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;margin:.5em 0} th,td{border:1px solid #ccc;padding:4px 6px;
text-align:left;vertical-align:top} th{background:#f2f2f2} td.n{text-align:right;font-variant-numeric:tabular-nums}
.tc{font-family:ui-monospace,monospace} .status{padding:.6em 1em;border-radius:4px;margin:1em 0;font-weight:600}
.passed{background:#e3f5e1;color:#1d5e17} .failed{background:#fde2e1;color:#8a1c13}
.none,.not-run{background:#eef0f3;color:#333} .bad{color:#8a1c13} .muted{color:#777} small{color:#555}
"""


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    m, s = divmod(seconds, 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:06.3f}"


def _frames(n: int | None) -> str:
    return f"{n} fr" if n is not None else ""


def render_plain_html(report: dict[str, Any]) -> str:
    """A self-contained page (inline CSS, no scripts); every value is HTML-escaped."""
    card, v, summary = report["card"], report["verification"], report["summary"]
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Card {_e(card['name'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>Card {_e(card['name'])}</h1>",
        f"<div class='muted'>{_e(card['root'])} · {_e(', '.join(card['families']) or 'unknown layout')} · "
        f"kinod {_e(report['kinod_version'])} · {_e(report['generated'])}</div>",
        f"<div class='status {_e(v['status'])}'>Verification: {_e(v['status'].upper())} — {_e(v['summary'])}</div>",
        f"<p>{summary['clips']} clips, {_duration(summary['duration_s'])} total, {_size(summary['bytes'])}; "
        f"{summary['analysed']} analysed, {summary['not_analysed']} not analysed; "
        f"{summary['problems']} problem(s).</p>",
    ]
    if report["problems"]:
        out.append("<h2>Problems</h2><ul>")
        out.extend(f"<li class='bad'><b>{_e(p['path'])}</b>: {_e(p['message'])}</li>" for p in report["problems"])
        out.append("</ul>")
    out.append("<h2>Clips</h2><table><tr><th>Clip</th><th>Camera</th><th>Start TC</th><th>End TC</th>")
    out.append("<th>Duration</th><th>Rate</th><th>Audio</th><th>Files</th><th>Size</th><th>Status</th></tr>")
    for c in report["clips"]:
        cam = " ".join(str(c["camera"].get(k)) for k in ("make", "model") if c["camera"].get(k))
        serial = c["camera"].get("serial")
        status = "analysed" if c["analysed"] else "not analysed"
        reason = c["not_analysed_reason"] or ""
        user = f"<br><small>{_e(c['user_clip_name'])}</small>" if c["user_clip_name"] else ""
        extra = " ".join(f"{k} {_e(c[k])}" for k in ("reel", "scene", "take", "tape") if c.get(k))
        extra_html = f"<br><small>{extra}</small>" if extra else ""
        out.append(
            f"<tr><td><b>{_e(c['name'])}</b>{user}{extra_html}</td>"
            f"<td>{_e(cam)}{'<br><small>SN ' + _e(serial) + '</small>' if serial else ''}</td>"
            f"<td class='tc'>{_e(c['start_tc'])}<br><small>{_e(c['tc_source'])}</small></td>"
            f"<td class='tc'>{_e(c['end_tc'])}</td>"
            f"<td class='n'>{_duration(c['duration_s'])}<br><small>{_frames(c['duration_frames'])}</small></td>"
            f"<td>{_e(c['rate'])}</td><td class='n'>{_e(c['audio_channels'])}</td>"
            f"<td class='n'>{len(c['files'])}{' (spanned)' if c['spanned'] else ''}</td>"
            f"<td class='n'>{_size(c['size'])}</td>"
            f"<td class='{'bad' if status != 'analysed' else ''}'>{status}<br><small>{_e(reason)}</small></td></tr>"
        )
    out.append("</table><h2>Files</h2><table><tr><th>Clip</th><th>File</th><th>Role</th><th>Size</th>")
    out.append("<th>xxh64</th><th>Integrity</th></tr>")
    for c in report["clips"]:
        for f in c["files"]:
            integ = f.get("integrity")
            ok = "" if integ is None else ("ok" if integ["ok"] else "; ".join(integ["problems"]))
            out.append(
                f"<tr><td>{_e(c['name'])}</td><td>{_e(f['path'])}</td><td>{_e(f['role'])}"
                f"{' ch ' + _e(f['channel']) if f.get('channel') else ''}</td><td class='n'>{_size(f['size'])}</td>"
                f"<td class='tc'>{_e(f.get('hashes', {}).get('xxh64', ''))}</td>"
                f"<td class='{'bad' if integ and not integ['ok'] else ''}'>{_e(ok)}</td></tr>"
            )
    out.append("</table>")
    if report["skipped"]:
        out.append("<h2>Skipped (recorded, not analysed)</h2><table><tr><th>File</th><th>Reason</th><th>Clip</th></tr>")
        out.extend(
            f"<tr><td>{_e(s['path'])}</td><td>{_e(s['reason'])}</td><td>{_e(s['clip'])}</td></tr>"
            for s in report["skipped"]
        )
        out.append("</table>")
    if report["unknown"]:
        out.append("<h2>Unrecognised files</h2><ul>")
        out.extend(f"<li>{_e(u)}</li>" for u in report["unknown"])
        out.append("</ul>")
    out.append("</body></html>\n")
    return "\n".join(out)
