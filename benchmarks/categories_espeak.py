"""Categories confusion table over the committed espeak-ng clips (tests/data/categories).

    .venv/bin/python benchmarks/categories_espeak.py [--model tiny.en|base]

Each WAV goes through the real pipeline (decode pass, analysis cache, speech with the
bundled model, categories against the shipped taxonomy); the table counts which expected
category (rows: cooking, football, tutorial) landed in which top category (columns).
Also prints each clip's transcript, top-3 and scores, and the categories analyzer's own time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kinod.analyzers.categories import CategoriesAnalyzer  # noqa: E402
from kinod.analyzers.speech import SpeechAnalyzer  # noqa: E402
from kinod.config import load_config  # noqa: E402
from kinod.jobs.store import JobStore  # noqa: E402
from kinod.run.processor import ClipProcessor  # noqa: E402

DATA = ROOT / "tests" / "data" / "categories"
EXPECTED = {"cooking": "Food & Cooking", "football": "Football", "tutorial": "Tutorials"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny.en")
    args = ap.parse_args()
    table: Counter[tuple[str, str]] = Counter()
    right = 0
    clips = sorted(DATA.glob("*.wav"))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for d in ("footage", "out", "var"):
            (tmp / d).mkdir()
        cfg = tmp / "config.toml"
        cfg.write_text(
            f'[[watch.roots]]\npath = "{tmp / "footage"}"\n[output]\nroot = "{tmp / "out"}"\n'
            f'[state]\ndir = "{tmp / "var"}"\n[logging]\nformat = "json"\nlevel = "warning"\n'
            '[analyzers]\nenabled = ["speech", "categories"]\n'
            f'[analyzers.speech]\nmodel = "{args.model}"\nspeakers = "off"\nlanguage = "en"\n'
        )
        config = load_config(cfg)
        store = JobStore(config.state.dir / "kinod.sqlite")
        try:
            proc = ClipProcessor(config, store, classes=[SpeechAnalyzer, CategoriesAnalyzer])
            for clip in clips:
                outcome = proc.process(clip, tmp / "out")
                data = json.loads(Path(str(outcome.sidecar)).read_text())["analyses"]
                cat = data["categories"]
                top = cat["summary"]["top"]
                topic = clip.stem.split("_")[0]
                got = top[0]["path"][-1] if top else "(none)"
                table[(topic, got)] += 1
                right += got == EXPECTED[topic]
                text = " ".join(it["text"] for it in data["speech"]["items"])
                print(f"{clip.name}: {' > '.join(top[0]['path']) if top else '-'} "
                      f"{[t['score'] for t in top]} uncertain={cat['summary']['uncertain']} "
                      f"categories {cat['elapsed_s']:.2f}s | {text}")  # fmt: skip
        finally:
            store.close()
    columns = sorted({got for _t, got in table})
    print("\nconfusion (rows: spoken topic, columns: top category)")
    print(f"{'':10}" + "".join(f"{c[:16]:>18}" for c in columns))
    for topic in EXPECTED:
        print(f"{topic:10}" + "".join(f"{table[(topic, c)]:>18}" for c in columns))
    print(f"\n{right}/{len(clips)} right")


if __name__ == "__main__":
    main()
