"""DJI drones and gimbals: ``DCIM/100MEDIA/DJI_0001.MP4`` with ``DJI_0001.SRT`` telemetry and ``.LRF`` proxies.

The SRT is a subtitle track the aircraft writes alongside the video: one record per
frame on most models (older ones: one per second), each with the time span and a
line of values. Two dialects exist and both are read:

* bracketed (Mavic 2/3, Air 2S, Mini 3): ``[iso : 100] [shutter : 1/500.0] [fnum : 280]
  [latitude: 47.1] [longitude: 8.5] [rel_alt: 10.0 abs_alt: 500.0]``;
* comma list (Mavic Air, Mini 2): ``F/2.8, SS 1000.0, ISO 100, EV 0, GPS (8.5, 47.1, 19),
  D 10.00m, H 5.00m, HS 0.00m/s, VS 0.00m/s``.

Values become floats where they are numbers; what a model adds beyond these keys is
kept under its own name. ``.LRF`` is the aircraft's own low-res proxy (an MP4).
"""

from __future__ import annotations

import re
from pathlib import Path

from kinod.media.cards.common import STILL_EXTENSIONS, CardBuilder, CardFiles, clip_file
from kinod.media.cards.model import Camera, CardClip, TelemetrySample

NAME = "dji"

_DIR = re.compile(r"(^|/)DCIM/\d{3}MEDIA/", re.IGNORECASE)
_NAME = re.compile(r"DJI_\d+.*", re.IGNORECASE)
_TIME = re.compile(r"(\d+):(\d{2}):(\d{2})[,.](\d{1,3})\s*-->\s*(\d+):(\d{2}):(\d{2})[,.](\d{1,3})")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_PAIR = re.compile(r"([A-Za-z_][\w ]*?)\s*:\s*([^\s:]+(?:\s*/\s*[^\s:]+)?)")
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)*)")
_TAG = re.compile(r"<[^>]*>")
MAX_SRT_BYTES = 256 * 1024 * 1024


class TelemetryError(ValueError):
    """The SRT could not be read as DJI telemetry; names the file."""


def _number(v: str) -> float | str:
    """A float where the value is a number (units m and m/s dropped), else the text as written."""
    v = v.strip()
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)(?:m/s|m)?", v)
    return float(m.group(1)) if m else v


def parse_values(line: str) -> dict[str, float | str]:
    """One record's values, from either dialect."""
    values: dict[str, float | str] = {}
    brackets = _BRACKET.findall(line)
    if brackets:
        for b in brackets:
            for k, v in _PAIR.findall(b):
                values[k.strip().lower().replace(" ", "_")] = _number(v)
        return values
    gps = re.search(r"GPS\s*\(\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)", line)
    if gps:
        values["longitude"], values["latitude"] = float(gps.group(1)), float(gps.group(2))
        values["gps_altitude"] = float(gps.group(3))
        line = line[: gps.start()] + line[gps.end() :]
    for part in line.split(","):
        part = part.strip()
        if m := re.fullmatch(r"F/(\d+(?:\.\d+)?)", part):
            values["fnum"] = float(m.group(1))
        elif m := re.fullmatch(r"([A-Za-z]+)\s+(-?[\d./]+)\s*(m/s|m)?", part):
            key = {"SS": "shutter", "ISO": "iso", "EV": "ev", "D": "distance", "H": "height"}.get(m.group(1))
            key = key or {"HS": "h_speed", "VS": "v_speed"}.get(m.group(1), m.group(1).lower())
            values[key] = _number(m.group(2))
    return values


def parse_srt(path: Path) -> list[TelemetrySample]:
    """All records of a DJI SRT, in order. Raises TelemetryError naming the file."""
    try:
        size = path.stat().st_size
        if size > MAX_SRT_BYTES:
            raise TelemetryError(f"{path}: SRT is {size} bytes, more than kinod reads")
        raw = path.read_bytes()
    except OSError as e:
        raise TelemetryError(f"{path}: cannot read: {e.strerror or e}") from None
    body = raw.decode("utf-8-sig", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    samples: list[TelemetrySample] = []
    for block in re.split(r"\n\s*\n", body.strip()):
        lines = [ln.strip() for ln in block.split("\n") if ln.strip()]
        if len(lines) < 2:
            continue
        t_idx = next((i for i, ln in enumerate(lines[:3]) if _TIME.search(ln)), None)
        if t_idx is None:
            continue
        t = _TIME.search(lines[t_idx])
        assert t is not None
        g = [int(x) for x in t.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + int(t.group(4).ljust(3, "0")) / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + int(t.group(8).ljust(3, "0")) / 1000
        index = int(lines[0]) if t_idx == 1 and lines[0].isdigit() else len(samples) + 1
        text = _TAG.sub(" ", " ".join(lines[t_idx + 1 :]))
        values = parse_values(text)
        counter = re.search(r"(?:FrameCnt|SrtCnt)\s*:\s*(\d+)", text)
        if counter:
            values["frame_count"] = float(counter.group(1))
        if date := _DATE.search(text):
            values["datetime"] = date.group(1)
        samples.append(TelemetrySample(index=index, start_s=round(start, 3), end_s=round(end, 3), values=values))
    if body.strip() and not samples:
        raise TelemetryError(f"{path}: no subtitle records could be read; not a DJI telemetry SRT?")
    return samples


def detect(files: CardFiles) -> bool:
    return any(_DIR.search(rel) or (_NAME.fullmatch(f.path.stem) is not None) for rel, f in files.files.items())


def parse(files: CardFiles, out: CardBuilder) -> None:
    for f in sorted(files.unclaimed(), key=lambda f: f.rel):
        if f.suffix not in (".mp4", ".mov") or not (_DIR.search(f.rel) or _NAME.fullmatch(f.path.stem)):
            continue
        folder = f.rel.rsplit("/", 1)[0] if "/" in f.rel else ""
        clip = CardClip(name=f.path.stem, family=NAME, files=[clip_file(f, "av")], camera=Camera(make="DJI"))
        members = [f]
        srt = files.find_ci(folder, f.path.stem + ".SRT")
        if srt is not None:
            members.append(srt)
            clip.sidecars.append(srt.rel)
            try:
                clip.telemetry = parse_srt(srt.path)
            except TelemetryError as e:
                clip.problems.append(str(e))
        out.add_clip(clip, members)
        lrf = files.find_ci(folder, f.path.stem + ".LRF")
        if lrf is not None and lrf.rel not in files.claimed:
            out.skip(lrf, "camera low-res proxy (.LRF)", clip.name)
            clip.camera_proxies.append(lrf.rel)
    for f in list(files.unclaimed()):
        if _DIR.search(f.rel) and f.suffix in STILL_EXTENSIONS:
            out.skip(f, "still photo")
        elif _DIR.search(f.rel) and f.suffix in (".srt", ".lrf"):
            out.skip(f, "telemetry or proxy without its clip")
