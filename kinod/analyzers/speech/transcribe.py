"""Transcription backends: faster-whisper (default) and whisperX (local models only).

Both take a mono float32 signal at 16 kHz and return plain dataclasses, so the
analyzer, the tests and the benchmark never depend on a backend's own types.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kinod.analyzers.base import AnalyzerError, ModelMissingError
from kinod.analyzers.speech.config import SpeechConfig
from kinod.analyzers.speech.errors import GpuOutOfMemory, is_cuda_oom
from kinod.analyzers.speech.models import ResolvedModel, silero_vad_path

RATE = 16000


@dataclass
class WordOut:
    word: str
    start: float
    end: float
    probability: float


@dataclass
class SegmentOut:
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    words: list[WordOut]
    language: str
    language_probability: float | None = None


@dataclass
class TranscriptOut:
    segments: list[SegmentOut]
    language: str
    language_probability: float
    device: str
    compute_type: str
    batch_size: int
    top_languages: list[tuple[str, float]] = field(default_factory=list)
    speech_seconds_vad: float = 0.0


def cuda_device_count() -> int:
    try:
        import ctranslate2
    except ImportError:
        return 0
    try:
        return int(ctranslate2.get_cuda_device_count())
    except Exception:
        return 0


def resolve_device(requested: str, compute_type: str) -> tuple[str, str]:
    """(device, compute type): "auto" is CUDA float16 when CTranslate2 sees a GPU, else CPU int8."""
    if requested == "auto":
        requested = "cuda" if cuda_device_count() > 0 else "cpu"
    if requested == "cuda" and cuda_device_count() == 0:
        raise AnalyzerError(
            "analyzers.speech.device = 'cuda' (or runtime device cuda), but CTranslate2 sees no CUDA device; "
            "use 'auto' or 'cpu'"
        )
    if compute_type == "auto":
        compute_type = "float16" if requested == "cuda" else "int8"
    return requested, compute_type


class _LanguageSpy:
    """Wraps the CTranslate2 model to remember the language detected for the current window.

    With ``multilingual=True`` faster-whisper re-detects the language of every 30-s
    decoding window from the encoder output it already has (no extra encoder pass), but
    does not report it. Segments are yielded right after their window is decoded, so the
    last detection is the language of the segment being yielded.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.last: tuple[str, float] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def detect_language(self, *args: Any, **kwargs: Any) -> Any:
        results = self._inner.detect_language(*args, **kwargs)
        token, prob = results[0][0]
        self.last = (token[2:-2], float(prob))
        return results


class FasterWhisperBackend:
    """faster-whisper on a verified local model; the loaded model is shared per process."""

    _models: ClassVar[dict[tuple[str, str, str, int], Any]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, model: ResolvedModel, device: str, compute_type: str, cpu_threads: int) -> None:
        self.resolved = model
        self.device = device
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads

    @classmethod
    def available(cls) -> str | None:
        """None when usable, else what is missing."""
        if importlib.util.find_spec("faster_whisper") is None:
            return "faster-whisper is not installed: pip install faster-whisper==1.2.1"
        return None

    def load(self) -> Any:
        """Load (once per process per model/device/compute type) and return the WhisperModel."""
        missing = self.available()
        if missing:
            raise ModelMissingError(f"analyzers.speech.backend = 'faster-whisper': {missing}")
        key = (str(self.resolved.path), self.device, self.compute_type, self.cpu_threads)
        with self._lock:
            model = self._models.get(key)
            if model is None:
                from faster_whisper import WhisperModel

                try:
                    model = WhisperModel(
                        str(self.resolved.path),
                        device=self.device,
                        compute_type=self.compute_type,
                        cpu_threads=self.cpu_threads,
                        local_files_only=True,
                    )
                except RuntimeError as exc:
                    if self.device == "cuda" and is_cuda_oom(exc):
                        raise GpuOutOfMemory(1, f"loading {self.resolved.name}: {exc}") from exc
                    raise ModelMissingError(
                        f"analyzers.speech.model = {self.resolved.name!r}: CTranslate2 could not load "
                        f"{self.resolved.path}: {exc}"
                    ) from exc
                self._models[key] = model
        return model

    @classmethod
    def forget_models(cls) -> None:
        """Drop cached models (tests, or a worker that frees memory between jobs)."""
        with cls._lock:
            cls._models.clear()

    def transcribe(self, audio: np.ndarray, config: SpeechConfig, batch_size: int) -> TranscriptOut:
        from faster_whisper import BatchedInferencePipeline
        from faster_whisper.vad import VadOptions

        silero_vad_path()  # verified bundled ONNX; faster-whisper loads this very file
        model = self.load()
        multilingual_model = bool(model.model.is_multilingual)
        language = config.language
        if not multilingual_model:
            if language not in (None, "en"):
                raise AnalyzerError(
                    f"analyzers.speech.language = {language!r}, but model {self.resolved.name!r} is English-only"
                )
            language = "en"
        vad = VadOptions(threshold=config.vad_threshold, min_silence_duration_ms=config.vad_min_silence_ms)
        per_window = config.segment_language != "off" and language is None and batch_size <= 1
        options: dict[str, Any] = {
            "language": language,
            "beam_size": config.beam_size,
            "word_timestamps": True,
            "vad_filter": True,
            "vad_parameters": vad,
            "initial_prompt": config.initial_prompt or None,
            "hotwords": ", ".join(config.vocabulary) or None,
        }
        spy: _LanguageSpy | None = None
        try:
            if batch_size > 1:
                runner: Any = BatchedInferencePipeline(model)
                iterator, info = runner.transcribe(audio, batch_size=batch_size, **options)
            else:
                runner = model
                if per_window:
                    # A shallow copy whose CTranslate2 model is wrapped, so the shared model is not mutated.
                    runner = copy.copy(model)
                    spy = _LanguageSpy(model.model)
                    runner.model = spy
                iterator, info = runner.transcribe(audio, multilingual=per_window, **options)
            segments = []
            for seg in iterator:
                seg_lang, seg_prob = spy.last if spy is not None and spy.last else (info.language, None)
                words = [WordOut(w.word, float(w.start), float(w.end), float(w.probability)) for w in seg.words or []]
                segments.append(
                    SegmentOut(
                        float(seg.start),
                        float(seg.end),
                        seg.text.strip(),
                        float(seg.avg_logprob),
                        float(seg.no_speech_prob),
                        words,
                        seg_lang,
                        seg_prob,
                    )
                )
            if config.segment_language in ("auto", "segment") and multilingual_model and config.language is None:
                limit = 1.01 if config.segment_language == "segment" else config.segment_language_suspect
                segments = self._redetect_segments(model, audio, segments, options, limit, info.language)
        except RuntimeError as exc:
            if self.device == "cuda" and is_cuda_oom(exc):
                raise GpuOutOfMemory(max(batch_size, 1), str(exc)) from exc
            raise AnalyzerError(f"speech: transcription failed: {exc}") from exc
        top = sorted(info.all_language_probs or [], key=lambda lp: -lp[1])[:5]
        return TranscriptOut(
            segments=segments,
            language=info.language,
            language_probability=float(info.language_probability),
            device=self.device,
            compute_type=self.compute_type,
            batch_size=max(batch_size, 1),
            top_languages=[(lang, float(p)) for lang, p in top],
            speech_seconds_vad=float(getattr(info, "duration_after_vad", 0.0) or 0.0),
        )

    def _redetect_segments(
        self,
        model: Any,
        audio: np.ndarray,
        segments: list[SegmentOut],
        options: dict[str, Any],
        suspect: float,
        clip_language: str,
    ) -> list[SegmentOut]:
        """Language check of single stretches of speech, for ``segment_language`` "auto" and "segment".

        "auto" checks runs of consecutive *suspect* segments (mean word probability below
        ``suspect``, gaps under a second): foreign speech decoded under the clip's language
        token comes out as low-probability gibberish or, worse, as a confident-looking
        translation after a run of same-language context, which lowers word probabilities
        too. "segment" (``suspect`` > 1) checks every segment on its own. A checked stretch
        of at least a second gets one language detection (one encoder pass) and, when its
        language is confidently another one than the clip's or the one it was decoded with, is
        decoded again on its own with that language forced (no previous-text conditioning);
        the fresh decode replaces the old one when the language differs or it scores better.
        """
        groups: list[list[SegmentOut]] = []
        for seg in segments:
            mean_p = _mean_probability(seg)
            if mean_p >= suspect:
                groups.append([seg])
                continue
            if suspect <= 1.0 and groups and groups[-1][-1].end + 1.0 >= seg.start and _is_suspect(groups[-1], suspect):
                groups[-1].append(seg)
            else:
                groups.append([seg])
        out: list[SegmentOut] = []
        for group in groups:
            start, end = group[0].start, group[-1].end
            if (not _is_suspect(group, suspect)) or end - start < 1.0:
                out.extend(group)
                continue
            offset = int(start * RATE)
            stretch = audio[offset : math.ceil(end * RATE)]
            lang, prob, _ = model.detect_language(audio=stretch)
            decoded_as = max(
                {s.language for s in group}, key=lambda lg: sum(s.end - s.start for s in group if s.language == lg)
            )
            if prob < 0.5 or lang == decoded_as == clip_language:
                for seg in group if prob >= 0.5 else ():
                    seg.language_probability = float(prob)
                out.extend(group)
                continue
            redo = dict(options, language=lang, vad_filter=False, condition_on_previous_text=False)
            iterator, _info = model.transcribe(stretch, **redo)
            fresh = []
            for sub in iterator:
                words = [
                    WordOut(w.word, float(w.start) + start, float(w.end) + start, float(w.probability))
                    for w in sub.words or []
                ]
                fresh.append(
                    SegmentOut(
                        float(sub.start) + start,
                        min(float(sub.end) + start, end),
                        sub.text.strip(),
                        float(sub.avg_logprob),
                        float(sub.no_speech_prob),
                        words,
                        lang,
                        float(prob),
                    )
                )
            old_p = _mean_probability_of(group)
            if fresh and (lang != decoded_as or _mean_probability_of(fresh) > old_p):
                out.extend(fresh)
            else:
                for seg in group:
                    if seg.language == lang:
                        seg.language_probability = float(prob)
                out.extend(group)
        return out


def _mean_probability(seg: SegmentOut) -> float:
    return float(np.mean([w.probability for w in seg.words])) if seg.words else 0.0


def _mean_probability_of(segments: list[SegmentOut]) -> float:
    probs = [w.probability for s in segments for w in s.words]
    return float(np.mean(probs)) if probs else 0.0


def _is_suspect(group: list[SegmentOut], suspect: float) -> bool:
    return suspect > 1.0 or _mean_probability_of(group) < suspect


class WhisperXBackend:
    """whisperX: faster-whisper transcription plus wav2vec2 forced alignment, from local models only.

    Used only when ``backend = "whisperx"``; whisperx and torch are never imported otherwise.
    The alignment model must be a local directory (``whisperx_align_model``): whisperX would
    otherwise fetch one from the Hub, which kinod never does.
    """

    def __init__(self, model: ResolvedModel, device: str, compute_type: str, align_model: str | None) -> None:
        self.resolved = model
        self.device = device
        self.compute_type = compute_type
        self.align_model = align_model

    @staticmethod
    def missing(align_model: str | None) -> list[str]:
        """What the whisperX backend lacks on this machine (empty when usable)."""
        out = []
        if importlib.util.find_spec("whisperx") is None:
            out.append("the whisperx package is not installed (pip install whisperx; it brings torch)")
        if not align_model:
            out.append("analyzers.speech.whisperx_align_model is not set (a local wav2vec2 alignment model directory)")
        elif not Path(align_model).expanduser().is_dir():
            out.append(f"analyzers.speech.whisperx_align_model = {align_model!r} does not exist")
        return out

    def transcribe(self, audio: np.ndarray, config: SpeechConfig, batch_size: int) -> TranscriptOut:
        missing = self.missing(self.align_model)
        if missing:
            raise ModelMissingError("analyzers.speech.backend = 'whisperx': " + "; ".join(missing))
        import whisperx  # type: ignore[import-not-found]

        assert self.align_model is not None
        try:
            asr = whisperx.load_model(
                str(self.resolved.path),
                self.device,
                compute_type=self.compute_type,
                language=config.language,
                asr_options={"beam_size": config.beam_size, "initial_prompt": config.initial_prompt},
                local_files_only=True,
            )
            result = asr.transcribe(audio, batch_size=max(batch_size, 1))
            language = result.get("language") or config.language or "en"
            align, meta = whisperx.load_align_model(
                language_code=language, device=self.device, model_name=str(Path(self.align_model).expanduser())
            )
            aligned = whisperx.align(result["segments"], align, meta, audio, self.device, return_char_alignments=False)
        except RuntimeError as exc:
            if self.device == "cuda" and is_cuda_oom(exc):
                raise GpuOutOfMemory(max(batch_size, 1), str(exc)) from exc
            raise AnalyzerError(f"speech (whisperx): {exc}") from exc
        segments = []
        for seg in aligned.get("segments", []):
            words = [
                WordOut(w["word"], float(w["start"]), float(w["end"]), float(w.get("score", 0.0)))
                for w in seg.get("words", [])
                if "start" in w and "end" in w
            ]
            # whisperX gives alignment scores per word, no token log-probabilities: use log(mean score).
            mean_score = float(np.mean([w.probability for w in words])) if words else 0.0
            avg_logprob = math.log(mean_score) if mean_score > 0 else -10.0
            segments.append(
                SegmentOut(
                    float(seg["start"]), float(seg["end"]), seg["text"].strip(), avg_logprob, 0.0, words, language
                )
            )
        return TranscriptOut(segments, language, 1.0, self.device, self.compute_type, max(batch_size, 1))
