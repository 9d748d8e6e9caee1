"""kinod sync for DaVinci Resolve: bring kinod's synced clips and multicam groups into the open project.

Run it from Resolve (Workspace > Scripts > kinod_sync) or a terminal with Resolve's
scripting environment. It looks in the folders of ``$KINOD_SYNC`` (separated by ``:``,
``;`` on Windows), or the arguments, for what ``kinod sync`` delivered (``*.sync.otio``:
a camera clip with its recorder take at the offset; ``*.multicam.otio``: a group's
angles), and imports each as a timeline with ``MediaPool.ImportTimelineFromFile``
(Resolve 18.5+ reads OTIO), importing the source clips with it. A timeline whose name
is already in the project is skipped, so a second run (or a run after a late card)
imports only what is new.

This file runs inside Resolve's own Python (3.7 or newer): standard library only.
"""

from __future__ import annotations

import glob
import json
import os
import sys
from typing import Any

PATTERNS = ("*.sync.otio", "*.multicam.otio")


def timeline_name(path: str) -> str:
    """The name kinod gave the timeline (the OTIO's own), else the file's stem."""
    try:
        with open(path, encoding="utf-8") as fh:
            name = json.load(fh).get("name")
    except (OSError, ValueError, AttributeError):
        name = None
    return str(name) if name else os.path.basename(path).rsplit(".", 2)[0]


def existing_timelines(project: Any) -> set[str]:
    names = set()
    for i in range(1, int(project.GetTimelineCount() or 0) + 1):
        tl = project.GetTimelineByIndex(i)
        if tl is not None:
            names.add(tl.GetName())
    return names


def apply(resolve: Any, folders: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(imported, skipped, failed) timeline names."""
    project = resolve.GetProjectManager().GetCurrentProject()
    pool = project.GetMediaPool()
    have = existing_timelines(project)
    imported: list[str] = []
    skipped: list[str] = []
    failed: list[str] = []
    files = sorted(
        {f for folder in folders for p in PATTERNS for f in glob.glob(os.path.join(folder, "**", p), recursive=True)}
    )
    for path in files:
        name = timeline_name(path)
        if name in have:
            skipped.append(name)
            continue
        tl = pool.ImportTimelineFromFile(path, {"timelineName": name, "importSourceClips": True})
        if tl:
            imported.append(name)
            have.add(name)
        else:
            failed.append(name)
    return imported, skipped, failed


def get_resolve() -> Any:
    main = sys.modules.get("__main__")
    if main is not None and getattr(main, "resolve", None) is not None:
        return main.resolve
    import DaVinciResolveScript  # provided by Resolve's scripting environment

    return DaVinciResolveScript.scriptapp("Resolve")


def main(argv: list[str]) -> int:
    folders = argv or [f for f in os.environ.get("KINOD_SYNC", "").split(os.pathsep) if f]
    if not folders:
        print("kinod sync: name the folders kinod sync wrote to (arguments or KINOD_SYNC)")
        return 2
    resolve = get_resolve()
    if resolve is None:
        print("kinod sync: cannot reach DaVinci Resolve (is it running, with scripting enabled?)")
        return 2
    imported, skipped, failed = apply(resolve, folders)
    print(f"kinod sync: {len(imported)} timelines imported, {len(skipped)} already there, {len(failed)} failed")
    for name in failed:
        print(f"  failed: {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
