"""Diarization error rate per file on the labelled real conversations of tests/data/speakers.

    .venv/bin/python benchmarks/speakers.py [--similarity 0.9] [--mfcc]

Each file goes through :func:`kinod.analyzers.speech.diarize.diarize` (Silero VAD, GE2E
d-vectors, spectral clustering), the ``ge2e`` speaker backend's diarization; its turns
are scored against the reference RTTM (10 ms frames, overlap scored, no collar). With
``--mfcc`` the default ``mfcc`` backend is scored too, on the same VAD regions cut at
1.5 s (it labels spans, not frames). pyannote's published figures are printed beside: they
are for whole AMI meetings, not these 30 s excerpts, so they are a yardstick, not a match.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from speaker_set import FILES, SET, der, load_rttm, load_wav  # noqa: E402

from kinod.analyzers.speech import vad  # noqa: E402
from kinod.analyzers.speech.diarize import SIMILARITY, cluster, embed_windows  # noqa: E402
from kinod.analyzers.speech.speakers import MfccPitchBackend  # noqa: E402

#: pyannote.audio README (commit b749285c, 2026-06): DER % on AMI, v3.1 / community-1 / precision-2.
PYANNOTE_AMI = {"AMI (IHM)": (18.8, 17.0, 12.9), "AMI (SDM)": (22.7, 19.9, 15.6)}


def _mfcc_turns(audio, regions):  # type: ignore[no-untyped-def]
    spans = []
    for a, b in regions:
        t = a
        while t < b:
            spans.append((t, min(b, t + 1.5)))
            t += 1.5
    labels = MfccPitchBackend().assign(audio, spans).labels
    return [(a, b, lab) for (a, b), lab in zip(spans, labels, strict=True)]


def _whisper_words(audio, workdir: Path) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    """Word spans from the speech analyzer (bundled Whisper, speakers off): Whisper's own idea of speech."""
    from fractions import Fraction

    from kinod.analyzers.base import ClipInfo, RuntimeContext
    from kinod.analyzers.speech import SpeechAnalyzer, SpeechConfig
    from kinod.media.cache import AnalysisCacheWriter

    writer = AnalysisCacheWriter(workdir / "cache", 16000, 1)
    writer.write_audio(audio[:, None])
    frames = int(audio.shape[0] / 16000 * 25)
    clip = ClipInfo(workdir / "c.mov", None, Fraction(25), frames, workdir / "art")  # type: ignore[arg-type]
    result = SpeechAnalyzer(SpeechConfig(speakers="off"), RuntimeContext(workdir / "state")).run(clip, writer.commit())
    return [(w["start_s"], w["end_s"]) for it in result.items for w in it["words"]]


def _detection(ref, spans, duration):  # type: ignore[no-untyped-def]
    """Speech detection alone (speakers ignored): missed and false-alarm share of reference speech."""
    d = der([(a, b, "s") for a, b, _ in ref], [(a, b, "s") for a, b in spans], duration)
    return d.miss, d.false_alarm


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--similarity", type=float, default=SIMILARITY)
    ap.add_argument("--mfcc", action="store_true", help="also score the mfcc backend")
    ap.add_argument(
        "--sweep",
        type=float,
        nargs="*",
        default=[0.85, 0.88, 0.9, 0.92, 0.95],
        help="merge similarities tried on the same embeddings (summary line each)",
    )
    ap.add_argument("--whisper", action="store_true", help="compare Silero's speech regions with Whisper's words")
    args = ap.parse_args()
    sweep: dict[float, list[tuple[bool, float]]] = {s: [] for s in args.sweep}
    print(f"{'file':8} {'ref':>3} {'hyp':>3} {'DER':>6} {'miss':>6} {'FA':>6} {'conf':>6} {'s':>5}")
    rows = []
    for name, rttm in FILES.items():
        audio = load_wav(SET / f"{name}.wav")
        ref = load_rttm(SET / rttm, name)
        t0 = time.perf_counter()
        windows = embed_windows(audio)
        found = cluster(windows, similarity=args.similarity)
        took = time.perf_counter() - t0
        for sim, scores in sweep.items():
            other = cluster(windows, similarity=sim)
            n = len({s for _, _, s in ref})
            scores.append((other.speaker_count == n, der(ref, other.turns, audio.shape[0] / 16000).total))
        d = der(ref, found.turns, audio.shape[0] / 16000)
        n_ref = len({s for _, _, s in ref})
        rows.append((n_ref, found.speaker_count, d))
        print(
            f"{name:8} {n_ref:3d} {found.speaker_count:3d} {d.total:6.1%} {d.miss:6.1%} "
            f"{d.false_alarm:6.1%} {d.confusion:6.1%} {took:5.1f}"
        )
        if args.whisper:
            import tempfile

            duration = audio.shape[0] / 16000
            with tempfile.TemporaryDirectory() as tmp:
                wm, wf = _detection(ref, _whisper_words(audio, Path(tmp)), duration)
            sm, sf = _detection(ref, windows.regions, duration)
            print(f"{'  speech':8} silero miss {sm:6.1%} FA {sf:6.1%}   whisper words miss {wm:6.1%} FA {wf:6.1%}")
        if args.mfcc:
            m = der(ref, _mfcc_turns(audio, vad.detect(audio)), audio.shape[0] / 16000)
            print(f"{'  mfcc':8} {'':3} {'':3} {m.total:6.1%} {m.miss:6.1%} {m.false_alarm:6.1%} {m.confusion:6.1%}")
    mean = sum(r[2].total for r in rows) / len(rows)
    right = sum(r[0] == r[1] for r in rows)
    print(f"mean DER {mean:.1%}; speaker count right in {right}/{len(rows)} files")
    for sim, scores in sweep.items():
        mean_sim = sum(d for _, d in scores) / len(scores)
        print(f"similarity {sim:.2f}: mean DER {mean_sim:.1%}, count right {sum(r for r, _ in scores)}/{len(scores)}")
    for corpus, (v31, c1, p2) in PYANNOTE_AMI.items():
        print(f"pyannote published, {corpus} full meetings: 3.1 {v31}%  community-1 {c1}%  precision-2 {p2}%")


if __name__ == "__main__":
    main()
