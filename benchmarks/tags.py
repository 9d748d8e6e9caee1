"""Tags, editorial words and shot scale on the labelled stills (benchmarks/sets/tags): precision and recall.

    .venv/bin/python benchmarks/tags.py [--calibrate]

Each still (scikit-image samples, fixture photos, frames of fixture clips, composites) is
letterboxed to 640x360 like a decoded frame, its faces found by BlazeFace (the faces
analyzer's detector) and handed to the visual analyzer as a faces result, then the
analyzer runs on a one-picture analysis cache. Words shown = tags above their minimum
(``min_score`` or the label's own in data/tag_thresholds.toml, person labels hidden) plus
editorial words. Precision = shown words that are in the still's ``want`` or ``ok`` list;
recall = ``want`` words shown. Printed per ``min_score`` and per ``editorial_min``, with the
shot scale accuracy (face-based and picture-based) and any person label that got through.
``--calibrate`` prints per-label minimums from the even ids (each label's highest score on
a still where it is wrong, plus 0.01) for data/tag_thresholds.toml; odd ids are held out.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import tomllib
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kinod.analyzers.base import ClipInfo, Result, RuntimeContext  # noqa: E402
from kinod.analyzers.faces.confirm import MtcnnConfirmer  # noqa: E402
from kinod.analyzers.faces.detector import BlazeFaceDetector  # noqa: E402
from kinod.analyzers.visual import VisualAnalyzer, VisualConfig, tags, vocab  # noqa: E402
from kinod.analyzers.visual.analyzer import _editorial  # noqa: E402
from kinod.media.cache import AnalysisCacheWriter, FrameCacheSpec  # noqa: E402
from kinod.media.probe import Probe  # noqa: E402

SET = ROOT / "benchmarks" / "sets" / "tags" / "stills.toml"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "media"
THRESHOLDS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
EDITORIAL = (0.1, 0.15, 0.2, 0.3)


def _source(src: str) -> np.ndarray:
    kind, _, rest = src.partition(":")
    if kind == "skimage":
        import skimage

        image = cv2.imread(str(Path(skimage.__file__).parent / "data" / rest))
    elif kind == "fixture":
        image = cv2.imread(str(FIXTURES / rest))
    else:
        clip, _, index = rest.rpartition(":")
        cap = cv2.VideoCapture(str(FIXTURES / clip))
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        _ok, image = cap.read()
        cap.release()
    if image is None:
        raise SystemExit(f"{src}: cannot read it (are the fixtures at {FIXTURES}?)")
    return image


def build(row: dict[str, Any]) -> np.ndarray:
    """The still as a decoded 640x360 frame would show it."""
    image = _source(row["src"])
    op = row.get("op", {})
    h, w = image.shape[:2]
    if "crop" in op:
        x0, y0, x1, y1 = op["crop"]
        image = image[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)]
    if op.get("flip"):
        image = cv2.flip(image, 1)
    if "small" in op:
        side = int(360 * op["small"])
        sh, sw = image.shape[:2]
        small = cv2.resize(image, (max(1, sw * side // sh), side), interpolation=cv2.INTER_AREA)
        field = np.full((360, 640, 3), (70, 120, 60), np.uint8)
        y, x = 360 - side - 20, 640 - small.shape[1] - 40
        field[y : y + side, x : x + small.shape[1]] = small
        image = field
    sh, sw = image.shape[:2]
    scale = min(640 / sw, 360 / sh)
    fitted = cv2.resize(image, (max(1, round(sw * scale)), max(1, round(sh * scale))), interpolation=cv2.INTER_AREA)
    frame = np.zeros((360, 640, 3), np.uint8)
    fy, fx = (360 - fitted.shape[0]) // 2, (640 - fitted.shape[1]) // 2
    frame[fy : fy + fitted.shape[0], fx : fx + fitted.shape[1]] = fitted
    return frame


def analyse(rows: list[dict[str, Any]], tmp: Path) -> list[dict[str, Any]]:
    """Per still: raw ranked classes, the analyzer's item at the defaults, and the faces found."""
    detector, confirmer = BlazeFaceDetector(), MtcnnConfirmer()
    a = VisualAnalyzer(VisualConfig(thumbnails=False), RuntimeContext(tmp / "var"))
    out = []
    for row in rows:
        frame = build(row)
        writer = AnalysisCacheWriter(tmp / f"cache{row['id']}", 16000, 0, FrameCacheSpec(640, 1.0), Fraction(25))
        writer.write_frame(0, frame)
        cache = writer.commit()
        faces = confirmer.confirm(frame, detector.detect(frame))
        boxes = [[f.box[0] / 640, f.box[1] / 360, f.width / 640, (f.box[3] - f.box[1]) / 360] for f in faces]
        found = [{"track": i, "person": f"p{i}", "start_frame": 0, "end_frame": 25, "boxes": [b]}
                 for i, b in enumerate(boxes)]  # fmt: skip
        a.use_results({"faces": Result(items=found)})
        clip = ClipInfo(path=tmp / "x.mp4", probe=Probe.__new__(Probe), rate=Fraction(25), frames=25,
                        artefact_dir=tmp / "art")  # fmt: skip
        (item,) = a.run(clip, cache).items
        out.append({"row": row, "ranked": a.classify(frame), "item": item, "faces": len(faces)})
    return out


def words(res: dict[str, Any], min_score: float, editorial_min: float, own: dict[str, float] | None) -> set[str]:
    """What the analyzer would show at these settings: tags above their minimum, then editorial words."""
    labels = vocab.labels()
    shown = {t["label"] for t in tags.shown(res["ranked"], labels, min_score, 5, False, own)}
    editorial = set(_editorial(res["ranked"], editorial_min))
    if res["faces"]:
        editorial.add("people")
    if res["item"]["day_night"] == "night":
        editorial.add("night")
    return shown | editorial


def score(results: list[dict[str, Any]], **kw: Any) -> tuple[float, float, int, int]:
    right = shown = hit = wanted = 0
    for res in results:
        got = words(res, **kw)
        want, ok = set(res["row"]["want"]), set(res["row"]["ok"])
        right += len(got & (want | ok))
        shown += len(got)
        hit += len(got & want)
        wanted += len(want)
    return right / shown if shown else 1.0, hit / wanted if wanted else 1.0, shown, right


def report(results: list[dict[str, Any]], title: str) -> None:
    cfg = VisualConfig()
    print(f"\n== {title}: {len(results)} stills")
    head = f"{'min_score':>10}{'precision':>11}{'recall':>8}{'shown':>7}{'right':>7}"
    print(f"{head}  (editorial_min {cfg.editorial_min})")
    for t in THRESHOLDS:
        p, r, n, k = score(results, min_score=t, editorial_min=cfg.editorial_min, own=None)
        print(f"{t:>10.2f}{p:>11.0%}{r:>8.0%}{n:>7}{k:>7}")
    p, r, n, k = score(results, min_score=cfg.min_score, editorial_min=cfg.editorial_min, own={})
    print(f"{'default, no per-label minimums':>30}: precision {p:.0%} recall {r:.0%} shown {n}")
    print(f"{'editorial_min':>14}{'precision':>11}{'recall':>8}  (min_score {cfg.min_score})")
    for e in EDITORIAL:
        p, r, _n, _k = score(results, min_score=cfg.min_score, editorial_min=e, own=None)
        print(f"{e:>14.2f}{p:>11.0%}{r:>8.0%}")
    scaled = [r for r in results if r["row"].get("scale")]
    wrong = [(r["row"]["id"], r["item"]["scale"], r["row"]["scale"]) for r in scaled
             if r["item"]["scale"] not in r["row"]["scale"]]  # fmt: skip
    print(f"shot scale wrong (id, got, labelled): {wrong}")
    by: dict[str, list[int]] = {}
    for r in scaled:
        c = by.setdefault(r["item"]["scale_source"], [0, 0])
        c[0] += 1
        c[1] += r["item"]["scale"] in r["row"]["scale"]
    print("shot scale: " + ", ".join(f"{src} {k}/{n}" for src, (n, k) in sorted(by.items())) +
          f", all {sum(k for _n, k in by.values())}/{len(scaled)}")  # fmt: skip
    leaked = [(r["row"]["id"], t["label"]) for r in results for t in r["item"]["tags"]
              if t["label"] in tags.person_labels()]  # fmt: skip
    print(f"person labels shown at the defaults: {leaked or 'none'}")
    for r in results:
        got = words(r, min_score=cfg.min_score, editorial_min=cfg.editorial_min, own=None)
        bad = got - set(r["row"]["want"]) - set(r["row"]["ok"])
        miss = set(r["row"]["want"]) - got
        if bad or miss:
            print(f"  id {r['row']['id']:>2} {r['row']['src']}: wrong {sorted(bad)} missing {sorted(miss)}")


def calibrate(results: list[dict[str, Any]]) -> None:
    labels = vocab.labels()
    worst: dict[str, float] = {}
    for r in results:
        fine = set(r["row"]["want"]) | set(r["row"]["ok"])
        for cls, p in r["ranked"][:5]:
            if labels[cls] not in fine and labels[cls] not in tags.person_labels():
                worst[labels[cls]] = max(worst.get(labels[cls], 0.0), p)
    print("\n# per-label minimums (labels wrong above min_score on the tuning half)")
    for label, p in sorted(worst.items(), key=lambda kv: -kv[1]):
        if p >= VisualConfig().min_score:
            print(f'"{label}" = {min(1.0, round(p + 0.01, 2))}')


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calibrate", action="store_true")
    args = ap.parse_args()
    rows = tomllib.loads(SET.read_text("utf-8"))["s"]
    with tempfile.TemporaryDirectory() as tmp:
        results = analyse(rows, Path(tmp))
    tune = [r for r in results if r["row"]["id"] % 2 == 0]
    held = [r for r in results if r["row"]["id"] % 2 == 1]
    if args.calibrate:
        calibrate(tune)
        return
    report(tune, "tuning half (even ids)")
    report(held, "held-out half (odd ids)")
    report(results, "all")


if __name__ == "__main__":
    main()
