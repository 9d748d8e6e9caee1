"""kinod markers for DaVinci Resolve: put kinod's markers on the media pool clips they belong to.

Run it from Resolve (Workspace > Scripts > kinod_markers) or from a terminal with
Resolve's scripting environment set up. It walks the current project's media pool,
finds the kinod sidecar (``<clip>.kino.json``) for each clip's file, and adds every
marker with ``MediaPoolItem.AddMarker``, tagging it with ``customData`` so a second run
adds none: a marker whose customData is already on the clip is skipped.

Where the sidecars are: the folders in ``$KINOD_SIDECARS`` (separated by ``:``, ``;``
on Windows), else ``sidecar_roots`` in ``kinod_markers.json`` beside this script. The
daemon saw the NAS under another path than the editor's machine does, so a clip is
matched by its full path first, then through ``path_map`` (daemon prefix -> local
prefix, in ``kinod_markers.json`` or ``$KINOD_PATH_MAP`` as ``/mnt/nas=/Volumes/nas``),
then by file name and size, then by file name when only one sidecar has it.

This file runs inside Resolve's own Python (3.7 or newer), so it uses only the
standard library and nothing from kinod.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from fractions import Fraction
from typing import Any

SIDECAR_SUFFIX = ".kino.json"
CARD_SIDECAR = "card" + SIDECAR_SUFFIX

#: Resolve marker colour per kinod category: kinod's default colours mapped to Resolve's
#: palette (the tests check this against kinod's own tables). Edit to taste.
CATEGORY_COLORS = {
    "shot": "Blue",
    "black": "Cocoa",
    "freeze": "Sand",
    "inactive": "Yellow",
    "silence": "Cream",
    "speech": "Green",
    "face": "Pink",
    "person": "Fuchsia",
    "text": "Cyan",
    "tag": "Purple",
    "problem": "Red",
}
#: When two markers fall on one frame Resolve keeps one, so they are merged and the
#: first category in this order gives the colour.
CATEGORY_PRIORITY = (
    "problem",
    "shot",
    "black",
    "freeze",
    "inactive",
    "silence",
    "speech",
    "face",
    "person",
    "text",
    "tag",
)


class Report:
    """What a run did, for the console and the tests."""

    def __init__(self) -> None:
        self.clips_matched: list[str] = []
        self.clips_unmatched: list[str] = []
        self.added = 0
        self.already_there = 0
        self.occupied: list[str] = []
        self.errors: list[str] = []

    def summary(self) -> str:
        lines = [
            f"kinod markers: {self.added} added, {self.already_there} already there, "
            f"{len(self.clips_matched)} clip(s) matched, {len(self.clips_unmatched)} without a sidecar"
        ]
        lines += [f"  frame taken by another marker: {o}" for o in self.occupied]
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)


def marker_note(m: dict[str, Any]) -> str:
    """The note an editor reads, composed like kinod's other formats: why [analyzer, confidence, category]."""
    comment = str(m.get("comment") or "").strip()
    facts = []
    analyzer = m.get("analyzer")
    if analyzer and not comment.lower().startswith(str(analyzer).lower()):
        facts.append(str(analyzer))
    confidence = m.get("confidence")
    if isinstance(confidence, (int, float)) and not isinstance(confidence, bool):
        facts.append(f"confidence {confidence:.2f}")
    category = str(m.get("category", ""))
    if category not in facts:
        facts.append(category)
    tail = "[" + ", ".join(f for f in facts if f) + "]"
    return f"{comment} {tail}" if comment else tail


def load_settings(script_dir: str) -> dict[str, Any]:
    """Sidecar roots and path map from the environment, else from kinod_markers.json beside the script."""
    settings: dict[str, Any] = {"sidecar_roots": [], "path_map": {}}
    path = os.path.join(script_dir, "kinod_markers.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as fh:
            loaded = json.load(fh)
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a JSON object with sidecar_roots and path_map")
        settings.update({k: loaded[k] for k in ("sidecar_roots", "path_map") if k in loaded})
    env_roots = os.environ.get("KINOD_SIDECARS")
    if env_roots:
        settings["sidecar_roots"] = [r for r in env_roots.split(os.pathsep) if r]
    env_map = os.environ.get("KINOD_PATH_MAP")
    if env_map:
        pairs = (item.split("=", 1) for item in env_map.split(os.pathsep) if "=" in item)
        settings["path_map"] = dict(pairs)
    return settings


class SidecarIndex:
    """Every clip sidecar under some folders, found by path, by name and size, or by name."""

    def __init__(self, roots: list[str], report: Report) -> None:
        self.by_path: dict[str, str] = {}
        self.by_name_size: dict[tuple[str, int], list[str]] = {}
        self.by_name: dict[str, list[str]] = {}
        self.cache: dict[str, dict[str, Any]] = {}
        self.report = report
        for root in roots:
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.endswith(SIDECAR_SUFFIX) and name != CARD_SIDECAR:
                        self._add(os.path.join(folder, name))

    def _add(self, path: str) -> None:
        sidecar = self.load(path)
        if sidecar is None:
            return
        source = sidecar.get("source") or {}
        self.by_path[str(source.get("path"))] = path
        name = str(source.get("name") or "")
        self.by_name.setdefault(name, []).append(path)
        if isinstance(source.get("size"), int):
            self.by_name_size.setdefault((name, source["size"]), []).append(path)

    def load(self, path: str) -> dict[str, Any] | None:
        if path not in self.cache:
            try:
                with open(path, encoding="utf-8") as fh:
                    data = json.load(fh)
            except (OSError, ValueError) as e:
                self.report.errors.append(f"{path}: cannot read sidecar: {e}")
                return None
            if not isinstance(data, dict) or data.get("schema") != "kinod.clip" or not data.get("timeline"):
                return None
            self.cache[path] = data
        return self.cache[path]

    def find(self, clip_path: str, path_map: dict[str, str]) -> dict[str, Any] | None:
        """The sidecar of the file at ``clip_path`` (the editor's path), or None."""
        candidates = [clip_path]
        for daemon_prefix, local_prefix in path_map.items():
            if clip_path.startswith(local_prefix):
                candidates.append(daemon_prefix + clip_path[len(local_prefix) :])
        for c in candidates:
            if c in self.by_path:
                return self.load(self.by_path[c])
        name = os.path.basename(clip_path)
        try:
            size = os.path.getsize(clip_path)
        except OSError:
            size = None
        same = self.by_name_size.get((name, size), []) if size is not None else []
        if len(same) == 1:
            return self.load(same[0])
        named = self.by_name.get(name, [])
        return self.load(named[0]) if len(named) == 1 else None


def _rate(text: Any) -> Fraction | None:
    try:
        value = Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _clip_fps(item: Any) -> Fraction | None:
    """The frame rate Resolve plays the clip at ("29.97" -> 30000/1001)."""
    fps = _rate(item.GetClipProperty("FPS"))
    if fps is None:
        return None
    for base in (24, 30, 48, 60, 120):
        ntsc = Fraction(base * 1000, 1001)
        if abs(fps - ntsc) < Fraction(1, 100):
            return ntsc
    return fps


def custom_data(sidecar: dict[str, Any], markers: list[dict[str, Any]]) -> str:
    """A stable id for the marker(s) on one frame: the same sidecar gives the same id every run."""
    fingerprint = (sidecar.get("source") or {}).get("fingerprint") or (sidecar.get("source") or {}).get("name")
    keys = sorted(f"{m['category']}|{m['frame']}|{m['name']}" for m in markers)
    digest = hashlib.sha1("\n".join([str(fingerprint), *keys]).encode("utf-8")).hexdigest()[:16]
    return f"kinod:{digest}"


def _priority(m: dict[str, Any]) -> tuple[int, str]:
    category = m.get("category")
    return (CATEGORY_PRIORITY.index(category) if category in CATEGORY_PRIORITY else 99, str(m.get("name")))


def resolve_markers(sidecar: dict[str, Any], fps: Fraction | None, colors: dict[str, str]) -> list[dict[str, Any]]:
    """Markers for one clip as AddMarker wants them, one per frame (merged like kinod's Resolve EDL)."""
    rate = _rate(sidecar["timeline"]["rate"])
    by_frame: dict[int, list[dict[str, Any]]] = {}
    for m in sidecar.get("markers") or []:
        frame = int(m["frame"])
        if fps is not None and rate is not None and abs(fps - rate) > Fraction(1, 1000):
            frame = math.floor(Fraction(frame) / rate * fps + Fraction(1, 10**6))
        by_frame.setdefault(frame, []).append(m)
    out = []
    for frame in sorted(by_frame):
        group = sorted(by_frame[frame], key=_priority)
        out.append(
            {
                "frame": frame,
                "color": colors.get(group[0]["category"], "Red"),
                "name": " + ".join(m["name"] or m["category"] for m in group),
                "note": " / ".join(marker_note(m) for m in group),
                "duration": max(1, *(int(m.get("duration_frames") or 0) for m in group)),
                "custom": custom_data(sidecar, group),
            }
        )
    return out


def iter_clips(folder: Any) -> Any:
    """Every clip in a media pool folder and its sub-folders."""
    yield from folder.GetClipList() or []
    for sub in folder.GetSubFolderList() or []:
        yield from iter_clips(sub)


def apply(
    resolve: Any,
    roots: list[str],
    path_map: dict[str, str] | None = None,
    colors: dict[str, str] | None = None,
) -> Report:
    """Add kinod's markers to every media pool clip of the current project that has a sidecar."""
    report = Report()
    palette = {**CATEGORY_COLORS, **(colors or {})}
    project = resolve.GetProjectManager().GetCurrentProject()
    if project is None:
        report.errors.append("no project is open in Resolve")
        return report
    index = SidecarIndex(roots, report)
    for item in iter_clips(project.GetMediaPool().GetRootFolder()):
        path = item.GetClipProperty("File Path") or ""
        if not path:
            continue
        sidecar = index.find(path, path_map or {})
        if sidecar is None:
            report.clips_unmatched.append(path)
            continue
        report.clips_matched.append(path)
        for m in resolve_markers(sidecar, _clip_fps(item), palette):
            if item.GetMarkerByCustomData(m["custom"]):
                report.already_there += 1
            elif item.AddMarker(m["frame"], m["color"], m["name"], m["note"], m["duration"], m["custom"]):
                report.added += 1
            else:
                report.occupied.append(f"{path} frame {m['frame']} ({m['name']})")
    return report


def get_resolve() -> Any:
    """The Resolve object: the ``resolve`` global inside Resolve, else through DaVinciResolveScript."""
    main = sys.modules.get("__main__")
    if main is not None and getattr(main, "resolve", None) is not None:
        return main.resolve
    if main is not None and callable(getattr(main, "Resolve", None)):
        return main.Resolve()
    import DaVinciResolveScript  # provided by Resolve's scripting environment

    return DaVinciResolveScript.scriptapp("Resolve")


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else os.getcwd()
    try:
        settings = load_settings(here)
    except (OSError, ValueError) as e:
        print(f"kinod markers: {e}")
        return 2
    if not settings["sidecar_roots"]:
        print("kinod markers: set KINOD_SIDECARS or sidecar_roots in kinod_markers.json (see README)")
        return 2
    resolve = get_resolve()
    if resolve is None:
        print("kinod markers: cannot reach DaVinci Resolve (is it running, with scripting enabled?)")
        return 2
    report = apply(resolve, list(settings["sidecar_roots"]), dict(settings["path_map"]))
    print(report.summary())
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
