"""People across a library: search precision/recall, score distributions, thresholds, clustering, scale.

Run: .venv/bin/python benchmarks/people.py [--tracks 100000] [--backend dlib] [--make-cohort]
The labelled set is generated (tests/people_library.py: 8 composite clips on two cards plus
the real hamilton clip; six people, Obama, Biden and Alex in three clips each). Prints:
* per query (obama, biden, alex, astronaut; every clip searched together): range-level and
  frame-level precision and recall at the default thresholds, "sure" and "possible";
* the cosine and S-norm of true and impostor tracks;
* the threshold table (ROC) over S-norm thresholds the defaults were chosen from;
* the pairwise precision and recall of the people registry's clustering across both cards;
* find-person --library over --tracks stored tracks (float32 pack): search time and peak memory.
``--make-cohort`` rewrites kinod/analyzers/faces/data/cohort-default.npy (the shipped impostors:
the 100 faces of scikit-image's lfw_subset, embedded by the default stack).
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from people_library import CLIPS, make_library  # noqa: E402

from kinod.analyzers.faces.analysis import analyse  # noqa: E402
from kinod.analyzers.faces.backends import build_stack  # noqa: E402
from kinod.analyzers.faces.config import FacesConfig  # noqa: E402
from kinod.analyzers.faces.find_person import match_ranges, reference_embedding, score  # noqa: E402
from kinod.analyzers.faces.identities import centroid, cluster  # noqa: E402
from kinod.analyzers.faces.people import PeopleRegistry  # noqa: E402
from kinod.analyzers.faces.sampler import sample_frames  # noqa: E402
from kinod.media.probe import probe  # noqa: E402

CFG = FacesConfig()
SPECS = {c.name: c for c in CLIPS}


def label(clip: str, start: int, end: int) -> str | None:
    """The person a composite's track shows (by its frames), None when it matches no appearance."""
    best = min(((abs(start - a.first) + abs(end - a.last), p) for p, a in SPECS[clip].people.items()),
               default=(99, None))  # fmt: skip
    return best[1] if best[0] < 10 else None


def analyse_library(folder: Path, stack):
    lib = make_library(folder)
    tracks = []  # (clip, FaceTrack, label)
    for name, path in lib.clips.items():
        pr = probe(path)
        frames = sample_frames(path, pr.timeline_rate, pr.width, pr.height, CFG.width, CFG.sample_fps)
        for t in analyse(frames, stack, CFG, pr.frames).tracks:
            if t.embedding is not None:
                tracks.append([name, t, label(name, t.start, t.end) if name in SPECS else None])
    refs = {p: reference_embedding(photo, stack)[0] for p, photo in lib.references.items()}
    # The hamilton clip's Obama: the audience-shot track closest to obama.jpg (fixtures README §C).
    ham = [r for r in tracks if r[0] == "A004" and r[1].start >= 200]
    max(ham, key=lambda r: float(r[1].embedding @ refs["obama"]))[2] = "obama"
    return lib, tracks, refs


def overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def query_figures(lib, tracks, refs, levels=("sure", "possible")) -> dict[str, dict]:
    """Per query and confidence level: range and frame precision/recall (ranges [start, end))."""
    emb = np.stack([r[1].embedding for r in tracks])
    out = {}
    for person, ref in refs.items():
        scores = score(ref, emb, CFG)
        truth = {c: [(a, b + 1) for a, b in rs] for c, rs in lib.truth.get(person, {}).items()}
        for level in levels:
            found: dict[str, list[tuple[int, int]]] = {}
            for clip in lib.clips:
                idx = [i for i, r in enumerate(tracks) if r[0] == clip]
                rs = match_ranges([tracks[i][1] for i in idx], [scores[i] for i in idx], CFG)
                found[clip] = [(r.first, r.last + 1) for r in rs if level == "possible" or r.confidence == "sure"]
            hits = [(c, f) for c, fs in found.items() for f in fs]
            tp_found = sum(any(overlap(f, t) > 0 for t in truth.get(c, [])) for c, f in hits)
            tp_truth = sum(any(overlap(f, t) > 0 for f in found.get(c, [])) for c, ts in truth.items() for t in ts)
            n_truth = sum(len(ts) for ts in truth.values())
            f_tp = sum(overlap(f, t) for c, fs in found.items() for f in fs for t in truth.get(c, []))
            f_found = sum(b - a for _, (a, b) in hits)
            f_truth = sum(b - a for ts in truth.values() for a, b in ts)
            out[f"{person}/{level}"] = {
                "ranges": len(hits), "truth": n_truth,
                "range_p": tp_found / len(hits) if hits else 1.0, "range_r": tp_truth / n_truth if n_truth else 1.0,
                "frame_p": f_tp / f_found if f_found else 1.0, "frame_r": f_tp / f_truth if f_truth else 1.0,
            }  # fmt: skip
    return out


def distributions(tracks, refs) -> tuple[list, list]:
    emb = np.stack([r[1].embedding for r in tracks])
    true, imp = [], []
    for person, ref in refs.items():
        for r, m in zip(tracks, score(ref, emb, CFG, every=True), strict=True):
            (true if r[2] == person else imp).append((m.cosine, m.snorm if m.snorm is not None else 0.0))
    return true, imp


def threshold_table(true, imp) -> list[tuple[float, int, int, int]]:
    """Per S-norm threshold (cosine >= match_possible as well): true accepted, impostors accepted, true total."""
    rows = []
    for z in (3.0, 4.0, 5.0, 6.0, 6.5, 7.0, 8.0, 10.0):
        tp = sum(c >= CFG.match_possible and sn >= z for c, sn in true)
        fp = sum(c >= CFG.match_possible and sn >= z for c, sn in imp)
        rows.append((z, tp, fp, len(true)))
    return rows


def clustering(tracks, folder: Path) -> tuple[float, float]:
    """Pairwise precision/recall of the people ids the registry gives labelled tracks, across cards."""
    reg = PeopleRegistry(folder / "state")
    pid_of: dict[int, str] = {}
    for clip in dict.fromkeys(r[0] for r in tracks):
        mine = [i for i, r in enumerate(tracks) if r[0] == clip]
        labels = cluster([tracks[i][1].embedding for i in mine], CFG.identity_threshold)
        groups = [[mine[j] for j, lab in enumerate(labels) if lab == k] for k in sorted(set(labels))]
        clusters = [
            (centroid([tracks[i][1].embedding for i in g]), [tracks[i][1].id for i in g], [], []) for g in groups
        ]
        for (pid, _), g in zip(reg.assign(clip, "", clusters, CFG.identity_threshold), groups, strict=True):
            pid_of.update({i: pid for i in g})
    known = [i for i, r in enumerate(tracks) if r[2]]
    pairs = list(itertools.combinations(known, 2))
    same_truth = {(a, b) for a, b in pairs if tracks[a][2] == tracks[b][2]}
    same_pred = {(a, b) for a, b in pairs if pid_of[a] == pid_of[b]}
    tp = len(same_truth & same_pred)
    return tp / max(len(same_pred), 1), tp / max(len(same_truth), 1)


def scale(n: int, folder: Path, ref: np.ndarray) -> None:
    """find-person --library over n packed tracks, in a child process (its own peak memory)."""
    from kinod.analyzers.faces.track_matrix import TrackMatrix

    rng = np.random.default_rng(7)
    emb = rng.standard_normal((n, ref.shape[0]), dtype=np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    emb[: n // 1000] = 0.7 * ref + 0.7 * emb[: n // 1000]  # a hundred of the person's tracks (cosine ~0.7)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    clips = [f"/lib/clip{i:06d}.mov" for i in range(n // 20)]
    cols = {
        "clip": np.arange(n, dtype=np.int32) // 20,
        "track": np.arange(n, dtype=np.int32) % 20 + 1,
        "start": np.zeros(n, np.int32),
        "end": np.full(n, 99, np.int32),
        "person": np.full(n, -1, np.int32),
    }
    state = folder / "scale"
    TrackMatrix(state / "faces").save(
        emb.astype(np.float16), cols, {"clips": clips, "rates": ["25"] * len(clips), "people": [], "best_images": {}}
    )
    np.save(folder / "ref.npy", ref)
    code = f"""
import time, tracemalloc, numpy as np
from kinod.analyzers.faces.config import FacesConfig
from kinod.analyzers.faces.library_search import search_library
def rss():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) / 1024
ref = np.load({str(folder / "ref.npy")!r})
cfg = FacesConfig()
search_library(ref, {str(state)!r}, cfg)  # warm: the pack in the page cache, the cohort file read
before = rss()
tracemalloc.start()
t, cpu = time.perf_counter(), time.process_time()
hits, n = search_library(ref, {str(state)!r}, cfg)
dt, dcpu = time.perf_counter() - t, time.process_time() - cpu
peak = tracemalloc.get_traced_memory()[1] / 2**20
found = sum(len(h) for h in hits.values())
print(f"{{n}} tracks searched in {{dt:.3f}} s wall, {{dcpu:.3f}} s CPU; {{found}} matched; peak allocations "
      f"{{peak:.0f}} MB, RSS {{before:.0f}} -> {{rss():.0f}} MB (pack: {{n * ref.size * 4 / 2**20:.0f}} MB)")
"""  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def make_cohort() -> None:
    import cv2
    import skimage.data

    from kinod.analyzers.faces.types import Face

    stack = build_stack(CFG)
    faces = skimage.data.lfw_subset()[:100]  # the first 100 are faces, the rest are not
    vecs = []
    for im in faces:
        grey = (im * 255).astype(np.uint8)
        big = cv2.resize(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), (200, 200), interpolation=cv2.INTER_CUBIC)
        vecs.append(stack.embed(big, Face((20.0, 20.0, 180.0, 180.0), 1.0)))
    dest = ROOT / "kinod" / "analyzers" / "faces" / "data" / "cohort-default.npy"
    np.save(dest, np.stack(vecs).astype(np.float16))
    print(f"wrote {dest} ({len(vecs)} impostor embeddings)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=100_000)
    ap.add_argument("--make-cohort", action="store_true")
    ap.add_argument("--backend", default="default", choices=["default", "dlib"], help="faces stack to measure")
    args = ap.parse_args()
    global CFG
    CFG = FacesConfig(backend=args.backend)
    if args.make_cohort:
        make_cohort()
        return
    stack = build_stack(CFG)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        lib, tracks, refs = analyse_library(folder, stack)
        print(f"labelled set: {len(lib.clips)} clips on cards {sorted(set(lib.cards.values()))}, "
              f"{len(tracks)} tracks, analysed in {time.perf_counter() - t0:.1f} s")  # fmt: skip
        print(f"defaults: cosine possible {CFG.match_possible} sure {CFG.match_sure}; "
              f"S-norm possible {CFG.match_snorm_possible} sure {CFG.match_snorm_sure}")  # fmt: skip
        print("\nquery/level          ranges truth  range P  range R  frame P  frame R")
        figs = query_figures(lib, tracks, refs)
        for k, f in figs.items():
            print(f"{k:<20} {f['ranges']:>6} {f['truth']:>5}  {f['range_p']:7.3f}  {f['range_r']:7.3f}"
                  f"  {f['frame_p']:7.3f}  {f['frame_r']:7.3f}")  # fmt: skip
        for level in ("sure", "possible"):
            rows = [f for k, f in figs.items() if k.endswith(level)]
            hits = sum(f["ranges"] for f in rows)
            tp = sum(f["range_p"] * f["ranges"] for f in rows)
            rec = sum(f["range_r"] * f["truth"] for f in rows) / sum(f["truth"] for f in rows)
            print(f"all queries, {level:<8}: range precision {tp / max(hits, 1):.3f}, range recall {rec:.3f}")
        true, imp = distributions(tracks, refs)
        for what, rows in (("true", true), ("impostor", imp)):
            c, z = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
            print(f"{what:<9} tracks {len(rows):>4}: cosine min {c.min():.3f} median {np.median(c):.3f} "
                  f"max {c.max():.3f}; S-norm min {z.min():.2f} median {np.median(z):.2f} "
                  f"max {z.max():.2f}")  # fmt: skip
        print("\nS-norm >=  true accepted  impostors accepted  (track level, cosine >= possible)")
        for z, tp, fp, n in threshold_table(true, imp):
            print(f"{z:8.1f}  {tp:>5}/{n:<5}  {fp:>6}")
        p, r = clustering(tracks, folder)
        print(f"\nclustering across cards (people registry): pairwise precision {p:.3f}, recall {r:.3f}")
        if args.tracks <= 0:
            return
        print("\nfind-person --library at scale (float32 pack, search only; photo embedding excluded):")
        scale(args.tracks, folder, refs["obama"])


if __name__ == "__main__":
    main()
