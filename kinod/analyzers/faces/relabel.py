"""A faces record brought up to date with the people registry: names, merges, forgotten people.

Person ids and names are written into a clip's record when it is analysed; the registry
changes later (a name given, two people merged, one forgotten). :func:`relabel` makes a
record (the job store's, or a sidecar's with its markers) say what the registry says
now, so every writer of a sidecar, an export or an index entry shows live names and
nothing of a forgotten person. Records analysed with ``store_embeddings`` off carry
clip-local ids ("person-1" of that clip alone) and are left as they are.
"""

from __future__ import annotations

import re
from typing import Any

_TRACK = re.compile(r"^track (\d+)$")


def _resolve(pid: str, aliases: dict[str, str]) -> str:
    for _ in range(32):  # a merged person's id points at the one it joined
        if pid not in aliases:
            break
        pid = aliases[pid]
    return pid


def relabel(
    record: dict[str, Any],
    markers: list[dict[str, Any]] | None,
    registry: dict[str, Any],
    rename: dict[str, str] | None = None,
) -> bool:
    """Rewrite ``record`` (and the faces ``markers`` given) in place; True when anything changed.

    ``rename``: ids to replace in this record only (a person split: its tracks in this clip
    belong to the new person from now on).
    """
    if not (record.get("config") or {}).get("store_embeddings", True):
        return False
    people = registry.get("people", {})
    forgotten = set(registry.get("forgotten", []))
    aliases = {**registry.get("aliases", {}), **(rename or {})}
    before = repr((record.get("items"), (record.get("summary") or {}).get("people"), markers))
    labels: dict[int, str | None] = {}
    for item in record.get("items") or []:
        pid = item.get("person")
        if pid:
            pid = _resolve(pid, aliases)
            if pid in forgotten:
                item.update(person=None, person_name=None, best_image=None)
            elif pid in people:
                item.update(person=pid, person_name=people[pid].get("name"))
        if isinstance(item.get("track"), int):
            labels[item["track"]] = item.get("person_name") or item.get("person")
    summary = record.get("summary") or {}
    if isinstance(summary.get("people"), list):
        summary["people"] = _people_list(summary["people"], people, forgotten, aliases)
    for m in markers if markers is not None else record.get("markers") or []:
        hit = _TRACK.match(str(m.get("comment") or ""))
        if m.get("category") == "face" and m.get("analyzer", "faces") == "faces" and hit:
            track = int(hit.group(1))
            m["name"] = labels.get(track) or f"face {track}"
    return before != repr((record.get("items"), summary.get("people"), markers))


def _people_list(
    rows: list[dict[str, Any]], people: dict[str, Any], forgotten: set[str], aliases: dict[str, str]
) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for p in rows:
        pid = _resolve(str(p.get("id")), aliases)
        if pid in forgotten:
            continue
        name = people[pid].get("name") if pid in people else p.get("name")
        if pid in out:
            out[pid]["tracks"] = list(out[pid].get("tracks", [])) + list(p.get("tracks", []))
        else:
            out[pid] = {**p, "id": pid, "name": name}
    return list(out.values())
