"""CLI commands ``kinod find-person`` and ``kinod people`` (list, name, merge, split, forget).

Kept out of :mod:`kinod.cli.main` so that file only gains one ``register`` call.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kinod.config import Config


def _faces_config(config: Config) -> Any:
    from kinod.analyzers.faces.config import FacesConfig

    cfg = config.analyzer_config("faces")
    return cfg if isinstance(cfg, FacesConfig) else FacesConfig()


def cmd_find_person(config: Config, args: argparse.Namespace) -> int:
    from kinod.analyzers.base import AnalyzerError
    from kinod.analyzers.faces.find_person import FindPersonError, find_person

    photo = Path(args.photo)
    if args.library or not args.paths:
        from kinod.analyzers.faces.library_search import find_person_in_library
        out = Path(args.out) if args.out else Path.cwd() / f"{photo.stem}-matches"
        try:
            meta = find_person_in_library(
                photo, config.state.dir, out, _faces_config(config), config.media.ffmpeg, not args.no_clips
            )
        except (FindPersonError, AnalyzerError) as e:
            print(f"kinod find-person: {e}", file=sys.stderr)
            return 2
        found = sum(len(c["ranges"]) for c in meta["clips"])
        print(f"{found} range(s) in the indexed library ({meta['cohort_tracks']} tracks) -> {out / 'metadata.json'}",
              file=sys.stderr)  # fmt: skip
        return 1 if meta["errors"] else 0
    missing = [p for p in args.paths if not Path(p).exists()]
    for m in missing:
        print(f"kinod find-person: {m}: no such file or folder", file=sys.stderr)
    from kinod.run.scan import scan_cards

    # The same clips kinod scan and the daemon see (camera layouts, ignore rules), each once.
    clips = [c for sc in scan_cards(config, [Path(p) for p in args.paths if p not in missing]) for c in sc.clips]
    out = Path(args.out) if args.out else Path.cwd() / f"{photo.stem}-matches"
    try:
        meta = find_person(
            photo, clips, out, _faces_config(config), config.media.ffmpeg, args.crops_fps, not args.no_clips
        )
    except (FindPersonError, AnalyzerError) as e:
        print(f"kinod find-person: {e}", file=sys.stderr)
        return 2
    for c in meta["clips"]:
        for r in c["ranges"]:
            print(f"{c['path']}: frames {r['start_frame']}-{r['end_frame'] - 1} "
                  f"({r['start_tc']}-{r['end_tc']}) {r['confidence']} {r['score']:.3f}")  # fmt: skip
    for e in meta["errors"]:
        print(f"kinod find-person: {e['message']}", file=sys.stderr)
    found = sum(len(c["ranges"]) for c in meta["clips"])
    print(f"{found} range(s) in {len(meta['clips'])} clip(s) -> {out / 'metadata.json'}", file=sys.stderr)
    return 1 if meta["errors"] or missing else 0


def cmd_people(config: Config, args: argparse.Namespace) -> int:
    from kinod.analyzers.faces.people import PeopleError, PeopleRegistry
    from kinod.run import people_names

    usage = {"name": ('ID "Name"', 2), "merge": ("FROM_ID INTO_ID", 2), "forget": ("ID", 1),
             "split": ("ID CLIP...", -2)}  # fmt: skip
    try:
        if args.action in usage:
            what, n = usage[args.action]
            if len(args.rest) != n and not (n < 0 and len(args.rest) >= -n):
                print(f"usage: kinod people {args.action} {what}", file=sys.stderr)
                return 2
            if args.action == "name":
                done = people_names.name_person(config, *args.rest)
                print(f"{args.rest[0]} is now {args.rest[1]!r}")
            elif args.action == "split":
                new, done = people_names.split_person(
                    config, args.rest[0], [str(Path(c).absolute()) for c in args.rest[1:]]
                )
                print(f"{args.rest[0]} in {len(args.rest) - 1} clip(s) is now {new}")
            elif args.action == "merge":
                done = people_names.merge_people(config, *args.rest)
                print(f"{args.rest[0]} is now {args.rest[1]}")
            else:
                done = people_names.forget_person(config, args.rest[0])
                for what in done.removed:
                    print(f"removed: {what}")
            print(f"updated {len(done.sidecars)} sidecar(s), {len(done.files)} export file(s), the search index")
            return 0
        folder = config.output.root / "people"
        reg = PeopleRegistry(config.state.dir)
        if folder.is_dir() and reg.path.is_file():
            from kinod.analyzers.faces.backends import build_stack
            from kinod.analyzers.faces.find_person import reference_embedding
            cfg = _faces_config(config)
            stack = build_stack(cfg)
            people_names.names_from_folder(config, lambda p: reference_embedding(p, stack)[0], cfg.identity_threshold)
        rows = people_rows(reg.read())
    except PeopleError as e:
        print(f"kinod people: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['id']:<12} {r['name'] or '-':<24} {len(r['clips'])} clip(s)  {' '.join(r['best_images'])}")
            for c in r["clips"]:
                spans = ", ".join(f"{a}-{b - 1}" for a, b in c["ranges"])
                print(f"    {c['clip']}: frames {spans}  confidence {c['confidence']:.2f}")
    return 0


def people_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Per person: name, every clip with its ranges (frames, end exclusive), best images, a confidence.

    The confidence of a clip is its tracks' mean cosine to the person's centroid: how
    sure the library is that these faces are this one person.
    """
    rows = []
    for pid, p in sorted(data["people"].items(), key=lambda kv: int(kv[0].split("-")[-1])):
        clips = [{"clip": s["clip"], "sidecar": s.get("sidecar"), "ranges": s.get("ranges", []),
                  "confidence": float(s.get("confidence", 1.0))} for s in p.get("seen", [])]  # fmt: skip
        images = [i for s in p.get("seen", []) for i in s.get("images", [])][:3]
        rows.append({"id": pid, "name": p.get("name"), "clips": clips, "best_images": images})
    return rows


def register(sub: Any) -> None:
    f = sub.add_parser("find-person", help="find every range where the person in a photo is on screen")
    f.add_argument("photo", metavar="PHOTO", help="reference photo with exactly one face")
    f.add_argument("paths", nargs="*", metavar="PATH", help="clips or folders of clips (none: --library)")
    f.add_argument(
        "--library", action="store_true", help="search the clips the daemon indexed (stored tracks; no decoding)"
    )
    f.add_argument("--out", metavar="DIR", help="output folder (default: ./<photo stem>-matches)")
    f.add_argument("--crops-fps", type=float, default=1.0, help="face crops saved per second of a range (0: none)")
    f.add_argument("--no-clips", action="store_true", help="do not cut clips, only metadata and images")
    f.set_defaults(func=cmd_find_person)
    p = sub.add_parser("people", help="list people seen in faces analyses; name, merge, split or forget one")
    p.add_argument("action", nargs="?", choices=["list", "name", "merge", "split", "forget"], default="list")
    p.add_argument("rest", nargs="*", help='name: ID "Name"; merge: FROM_ID INTO_ID; split: ID CLIP...; forget: ID')
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=cmd_people)
