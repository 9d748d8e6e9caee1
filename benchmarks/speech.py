"""Speech analyzer overhead vs bare faster-whisper, on CPU, on a generated 5-minute speech track.

    .venv/bin/python benchmarks/speech.py [--minutes 5] [--repeat 3] [--model base]

The track: seeded random English sentences (production small talk from word lists, so no
two 30-s windows repeat), spoken by espeak-ng in four voices at varied speeds, with 0.3-2.5 s
pauses. Repeating a few sentences instead would make Whisper's compression-ratio check fire
and fall back to temperature sampling, which is slow and random and swamps the comparison.
Without espeak-ng on PATH, the committed fixtures (tests/data/speech) and jfk.flac are
repeated instead, and the script says so. English only, so both sides do the same work.

Both sides use the same verified model directory, device (cpu), compute type (int8),
threads, beam size, VAD options and decoding options (word timestamps, per-window
language detection). "Bare" is ``WhisperModel.transcribe`` consumed to the end; "ours" is
``SpeechAnalyzer.run`` on an analysis cache of the same audio: cache read, channel choice,
transcription, the per-segment language check, speaker clustering, markers and
transcript.txt. "ours-auto" adds ``segment_language = "auto"`` (not the default): one
extra language-ID encoder pass per low-confidence stretch, which bare faster-whisper does
not do, so that line shows the cost of the feature rather than of the wrapper. Models are
loaded and warmed up before timing; the order rotates each run and the fastest of
``--repeat`` runs counts. Process CPU time (all threads) is the primary measure: on a
shared 2-core machine the wall time of one run depends on what else runs at that moment
(a run that happens to get both cores to itself is ~40 % faster), CPU time far less so.
Wall times (fastest and median) are printed too. Target: overhead ratio <= 1.1.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kinod.analyzers.base import ClipInfo, RuntimeContext  # noqa: E402
from kinod.analyzers.speech import SpeechAnalyzer, SpeechConfig  # noqa: E402
from kinod.analyzers.speech.models import resolve_model  # noqa: E402
from kinod.media.cache import AnalysisCacheWriter  # noqa: E402

RATE = 16000
DATA = ROOT / "tests" / "data" / "speech"
JFK = ROOT.parent / "shared" / "fixtures" / "media" / "jfk.flac"


def load(path: Path) -> np.ndarray:
    from faster_whisper.audio import decode_audio

    return decode_audio(str(path), sampling_rate=RATE).astype(np.float32)


def utterances(signal: np.ndarray, min_gap_s: float = 0.25) -> list[np.ndarray]:
    """Split at silences (10-ms frames below -50 dBFS) of at least ``min_gap_s``."""
    frames = signal[: signal.shape[0] // 160 * 160].reshape(-1, 160)
    loud = np.sqrt(np.mean(frames**2, axis=1)) > 10 ** (-50 / 20)
    out, start, quiet = [], None, 0
    for i, is_loud in enumerate(loud):
        if is_loud:
            start = i if start is None else start
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet * 0.01 >= min_gap_s:
                out.append(signal[start * 160 : (i - quiet + 1) * 160])
                start, quiet = None, 0
    if start is not None:
        out.append(signal[start * 160 :])
    return [u for u in out if u.shape[0] > RATE // 2]


WHO = ["Anna", "The director", "Our gaffer", "Michael", "The sound mixer", "Sofia", "The producer", "David", "Lena"]
DOES = ["needs", "moved", "wants to check", "forgot", "is rebuilding", "will bring", "asked about", "repainted"]
WHAT = ["the second camera", "a longer cable", "the blue filter", "the boom pole", "the lunch order", "two sandbags"]
WHERE = ["in the kitchen", "near the stairs", "on the balcony", "behind the truck", "at the old station"]
WHEN = ["before noon", "after the wide shot", "tomorrow morning", "during the break", "for the night scenes"]
VOICES = [("en-us", "50"), ("en-gb+f5", "99"), ("en-gb", "40"), ("en-us+m3", "65")]


def espeak_sentences(seconds: float, rng: np.random.Generator, tmp: Path) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    total = 0.0
    i = 0
    while total < seconds:
        text = " ".join(str(rng.choice(words)) for words in (WHO, DOES, WHAT, WHERE, WHEN)) + "."
        voice, pitch = VOICES[i % len(VOICES)]
        wav = tmp / f"s{i}.wav"
        speed = str(int(rng.integers(145, 180)))
        subprocess.run(["espeak-ng", "-v", voice, "-p", pitch, "-s", speed, "-w", str(wav), text], check=True)
        out.append(load(wav))
        total += out[-1].shape[0] / RATE + 1.4
        i += 1
    return out


def make_track(minutes: float, tmp: Path, seed: int = 7) -> tuple[np.ndarray, str]:
    rng = np.random.default_rng(seed)
    if shutil.which("espeak-ng"):
        pieces, source = espeak_sentences(minutes * 60, rng, tmp), "unique espeak-ng sentences, 4 voices"
        order = list(range(len(pieces)))
    else:
        pieces = utterances(load(DATA / "en_two_voices.wav")) + ([load(JFK)] if JFK.is_file() else [])
        source = "REPEATED fixture utterances (no espeak-ng): expect temperature fallbacks and noisy timings"
        order = [int(rng.integers(len(pieces))) for _ in range(int(minutes * 60 / 2) + 1)]
    parts = []
    for k in order:
        parts += [pieces[k], np.zeros(int(rng.uniform(0.3, 2.5) * RATE), dtype=np.float32)]
    track = np.concatenate(parts)
    if track.shape[0] < minutes * 60 * RATE:
        track = np.pad(track, (0, int(minutes * 60 * RATE) - track.shape[0]))
    return track[: int(minutes * 60 * RATE)], source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--model", default="base")
    args = parser.parse_args()

    from faster_whisper import WhisperModel
    from faster_whisper.vad import VadOptions

    with tempfile.TemporaryDirectory(prefix="kinod-speech-bench-") as tmp_name:
        tmp = Path(tmp_name)
        config = SpeechConfig(model=args.model, device="cpu")
        runtime = RuntimeContext(tmp / "state", device="cpu")
        analyzer = SpeechAnalyzer(config, runtime)
        threads = config.cpu_threads or SpeechAnalyzer.resources.cpu
        resolved = resolve_model(args.model, runtime.models_dir)

        audio, source = make_track(args.minutes, tmp)
        seconds = audio.shape[0] / RATE
        writer = AnalysisCacheWriter(tmp / "cache", RATE, 1)
        writer.write_audio(audio[:, None])
        cache = writer.commit()
        clip = ClipInfo(tmp / "track.wav", None, Fraction(25), int(seconds * 25), tmp / "artefacts")  # type: ignore[arg-type]

        bare_model = WhisperModel(str(resolved.path), device="cpu", compute_type="int8", cpu_threads=threads)
        options = {
            "language": config.language,
            "beam_size": config.beam_size,
            "word_timestamps": True,
            "vad_filter": True,
            "vad_parameters": VadOptions(
                threshold=config.vad_threshold, min_silence_duration_ms=config.vad_min_silence_ms
            ),
            "multilingual": bool(bare_model.model.is_multilingual) and config.language is None,
        }

        def bare(samples: np.ndarray) -> int:
            segments, _info = bare_model.transcribe(samples, **options)
            return sum(len(s.words or []) for s in segments)

        auto_analyzer = SpeechAnalyzer(config.model_copy(update={"segment_language": "auto"}), runtime)

        def ours() -> int:
            return int(analyzer.run(clip, cache).summary["word_count"])

        def ours_auto() -> int:
            return int(auto_analyzer.run(clip, cache).summary["word_count"])

        # Warm-up: loads the models (the two analyzers share one), the VAD session and the speaker code.
        warm = audio[: 20 * RATE]
        bare(warm)
        w = AnalysisCacheWriter(tmp / "warm", RATE, 1)
        w.write_audio(warm[:, None])
        analyzer.run(clip, w.commit())

        print(f"track: {seconds:.1f} s of generated speech ({source})")
        print(f"model: {resolved.name} ({resolved.path}), cpu int8, {threads} threads, beam {config.beam_size}")
        sides = {
            "bare": lambda: bare(audio),
            "ours": ours,
            "ours-auto": ours_auto,
        }
        wall: dict[str, list[float]] = {k: [] for k in sides}
        cpu: dict[str, list[float]] = {k: [] for k in sides}
        names = list(sides)
        for i in range(args.repeat):
            line = []
            for name in names[i % 3 :] + names[: i % 3]:  # rotate who goes first
                t, c = time.perf_counter(), time.process_time()
                words = sides[name]()
                wall[name].append(time.perf_counter() - t)
                cpu[name].append(time.process_time() - c)
                line.append(f"{name} {wall[name][-1]:.2f} s wall / {cpu[name][-1]:.2f} s cpu ({words} words)")
            print(f"run {i + 1}: " + "; ".join(line))
        labels = {
            "bare": "bare faster-whisper",
            "ours": "kinod speech analyzer (defaults)",
            "ours-auto": 'kinod speech analyzer (segment_language="auto")',
        }
        for name in sides:
            c_s, w_s, w_med = min(cpu[name]), min(wall[name]), statistics.median(wall[name])
            print(
                f"{labels[name]}: realtime factor {c_s / seconds:.4f} by CPU time, "
                f"{w_s / seconds:.4f} by wall time (median {w_med / seconds:.4f}; {seconds / w_s:.1f}x realtime)"
            )
        for name in ("ours", "ours-auto"):
            print(
                f"overhead ratio {name} / bare: {min(cpu[name]) / min(cpu['bare']):.3f} by CPU time, "
                f"{min(wall[name]) / min(wall['bare']):.3f} by wall time "
                f"(medians {statistics.median(wall[name]) / statistics.median(wall['bare']):.3f}) (target <= 1.10)"
            )


if __name__ == "__main__":
    main()
