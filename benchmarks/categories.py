"""Categories on the labelled transcript set (benchmarks/sets/categories): top-1/top-3, confusion, calibration.

    .venv/bin/python benchmarks/categories.py [--half tune|held-out|all] [--chunk-words N]
                                              [--llm-url URL --llm-model NAME]

Each transcript goes through the analyzer exactly as a clip's speech result would
(transcript chunked and pooled, the shipped taxonomy, the configured margin). Even ids are
the tuning half (descriptions were edited looking only at them), odd ids the held-out
half the README quotes. Printed: top-1 / top-3 per genre, the confusion of top-1 leaves,
and the calibration of ``uncertain`` for several ``min_margin`` values (accuracy of the
confident answers against the uncertain ones). With ``--llm-url`` the same set is also
sent to an OpenAI-compatible endpoint and its category counted beside the local one.
The espeak-ng end-to-end subset (real speech recognition first) is benchmarks/categories_espeak.py.
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kinod.analyzers.base import Result, RuntimeContext  # noqa: E402
from kinod.analyzers.categories import CategoriesAnalyzer, CategoriesConfig  # noqa: E402

SET = ROOT / "benchmarks" / "sets" / "categories" / "transcripts.toml"
MARGINS = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.07)


def load_set(half: str) -> list[dict[str, Any]]:
    rows = tomllib.loads(SET.read_text("utf-8"))["t"]
    if half == "tune":
        return [r for r in rows if r["id"] % 2 == 0]
    if half == "held-out":
        return [r for r in rows if r["id"] % 2 == 1]
    return rows


def run_local(rows: list[dict[str, Any]], tmp: Path, chunk_words: int = 60) -> list[dict[str, Any]]:
    """The analyzer's top list for each transcript (``top = 5`` so the margin and top-3 can be read)."""
    a = CategoriesAnalyzer(CategoriesConfig(top=5, chunk_words=chunk_words), runtime=RuntimeContext(tmp))
    out = []
    for r in rows:
        a.use_results({"speech": Result(items=[{"text": r["text"]}])})
        s = a.run(None, None).summary  # type: ignore[arg-type]
        paths = [tuple(t["path"]) for t in s["top"]]
        scores = [t["score"] for t in s["top"]]
        out.append({"row": r, "paths": paths, "margin": scores[0] - scores[1], "score": scores[0]})
    return out


def report(results: list[dict[str, Any]], title: str) -> None:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    confusion: Counter[tuple[str, str]] = Counter()
    for res in results:
        want = tuple(res["row"]["path"])
        c = per[res["row"]["kind"]]
        c[0] += 1
        c[1] += res["paths"][0] == want
        c[2] += want in res["paths"][:3]
        if res["paths"][0] != want:
            confusion[(" > ".join(want), " > ".join(res["paths"][0]))] += 1
    n = len(results)
    top1 = sum(c[1] for c in per.values())
    top3 = sum(c[2] for c in per.values())
    print(f"\n== {title}: {n} transcripts: top-1 {top1}/{n} = {top1 / n:.1%}, top-3 {top3}/{n} = {top3 / n:.1%}")
    print(f"{'genre':16}{'n':>4}{'top-1':>8}{'top-3':>8}")
    for kind, (k, t1, t3) in sorted(per.items()):
        print(f"{kind:16}{k:>4}{t1:>8}{t3:>8}")
    print("confusion (expected -> top-1), wrong answers only:")
    for (want, got), k in confusion.most_common():
        print(f"  {k} x {want} -> {got}")
    print("calibration of uncertain = margin(top-1, top-2) < min_margin:")
    print(f"{'min_margin':>10}{'confident':>11}{'acc':>7}{'uncertain':>11}{'acc':>7}")
    for m in MARGINS:
        sure = [r for r in results if r["margin"] >= m]
        unsure = [r for r in results if r["margin"] < m]
        acc = [sum(r["paths"][0] == tuple(r["row"]["path"]) for r in g) / len(g) if g else float("nan")
               for g in (sure, unsure)]  # fmt: skip
        print(f"{m:>10.2f}{len(sure):>11}{acc[0]:>7.0%}{len(unsure):>11}{acc[1]:>7.0%}")


def run_llm(rows: list[dict[str, Any]], url: str, model: str, tmp: Path) -> None:
    """The endpoint's category (summary.llm.category_path, as the analyzer records it) beside the local top-1."""
    from fractions import Fraction

    from kinod.analyzers.base import ClipInfo

    a = CategoriesAnalyzer(CategoriesConfig(top=5, llm_url=url, llm_model=model), runtime=RuntimeContext(tmp))
    llm_right = local_right = both = 0
    for r in rows:
        a.use_results({"speech": Result(items=[{"text": r["text"], "start_frame": 0}])})
        clip = ClipInfo(path=tmp / f"t{r['id']}.mov", probe=None, rate=Fraction(25), frames=750,  # type: ignore[arg-type]
                        artefact_dir=tmp)  # fmt: skip
        s = a.run(clip, None).summary  # type: ignore[arg-type]
        want = list(r["path"])
        got_llm = s.get("llm", {}).get("category_path") == want
        got_local = s["top"][0]["path"] == want
        llm_right += got_llm
        local_right += got_local
        both += got_llm and got_local
    n = len(rows)
    print(f"\nllm {model} at {url}: top-1 {llm_right}/{n} = {llm_right / n:.1%}, "
          f"local {local_right}/{n}, both right {both}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--half", choices=("tune", "held-out", "all"), default="all")
    ap.add_argument("--chunk-words", type=int, default=CategoriesConfig().chunk_words)
    ap.add_argument("--llm-url")
    ap.add_argument("--llm-model", default="local")
    args = ap.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        halves = ("tune", "held-out") if args.half == "all" else (args.half,)
        for half in halves:
            rows = load_set(half)
            t0 = time.perf_counter()
            results = run_local(rows, Path(tmp), args.chunk_words)
            report(results, f"{half} half, chunk_words {args.chunk_words} ({time.perf_counter() - t0:.1f} s)")
            if args.llm_url:
                run_llm(rows, args.llm_url, args.llm_model, Path(tmp))


if __name__ == "__main__":
    main()
