"""The speech analyzer: transcript, word timings, languages, density and speakers of a clip."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kinod.analyzers.base import (
    AnalyzerConfig,
    AnalyzerError,
    AudioNeeds,
    ClipInfo,
    Marker,
    MarkerCategorySpec,
    ModelAnalyzer,
    ModelInfo,
    ModelMissingError,
    Needs,
    ReadContext,
    Resources,
    Result,
    RuntimeContext,
    SearchEntry,
    UiSection,
)
from kinod.analyzers.speech import reading
from kinod.analyzers.speech.channels import choose_channels
from kinod.analyzers.speech.config import SpeechConfig
from kinod.analyzers.speech.models import bundled_for, cached_sha256, resolve_model
from kinod.analyzers.speech.speakers import PyannoteBackend, ResemblyzerBackend, SpeakerResult, make_backend
from kinod.analyzers.speech.transcribe import (
    RATE,
    FasterWhisperBackend,
    SegmentOut,
    TranscriptOut,
    WhisperXBackend,
    resolve_device,
)

TRANSCRIPT_FILE = "transcript.txt"
_SENTENCE_END = re.compile(r"[.!?…。！？]['\")\]]*$")


def gpu_mem_estimate_mb(model_bytes: int, batch_size: int) -> int:
    """GPU memory for a float16 Whisper model: weights + CUDA context/workspace + per-batch activations.

    The CTranslate2 model.bin files we ship are float16 already, so weights on the GPU are
    about the file size; 600 MB covers the CUDA context and cuBLAS workspace, and each
    batch item (a 30-s window with its beam) adds roughly 150 MB for base-sized models,
    scaled with the model.
    """
    weights = model_bytes / 2**20
    per_item = 150 * max(1.0, weights / 150) ** 0.5
    return math.ceil(weights + 600 + per_item * max(batch_size, 1))


class SpeechAnalyzer(ModelAnalyzer):
    """Transcribes the clip's speech offline (faster-whisper / CTranslate2) and finds who speaks when.

    A *model* analyzer: it reads 16 kHz PCM from the analysis cache, never the media.
    The model is loaded on the first clip and kept for the rest of the process.
    """

    name: ClassVar[str] = "speech"
    version: ClassVar[str] = "1.0.0"
    #: Speech markers are searched through the transcript they repeat, not as markers.
    marker_categories: ClassVar[tuple[MarkerCategorySpec, ...]] = (
        MarkerCategorySpec("speech", "GREEN", "Speech", order=50, search_kind=None),
    )
    needs: ClassVar[Needs] = Needs(cache=True, audio=AudioNeeds())
    # gpu=1: it uses a GPU when the job's device is cuda/auto and one is free; the estimate is
    # for the default model ("base", 145 MB) at the CUDA default batch of 8 (see resources_for()).
    resources: ClassVar[Resources] = Resources(
        cpu=2, gpu=1, gpu_mem_mb=gpu_mem_estimate_mb(145_217_532, 8), ram_mb=2048
    )
    Config: ClassVar[type[AnalyzerConfig]] = SpeechConfig

    @classmethod
    def search_entries(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[SearchEntry]:
        return reading.search_entries(record, ctx)

    @classmethod
    def ui_sections(cls, record: Mapping[str, Any], ctx: ReadContext) -> list[UiSection]:
        return reading.ui_sections(record, ctx)

    def __init__(self, config: AnalyzerConfig | None = None, runtime: RuntimeContext | None = None) -> None:
        super().__init__(config, runtime)
        if not isinstance(self.config, SpeechConfig):
            raise AnalyzerError(f"speech: expected SpeechConfig, got {type(self.config).__name__}")
        self.cfg: SpeechConfig = self.config

    # ------------------------------------------------------------------ scheduler and job keys

    @classmethod
    def resources_for(cls, config: SpeechConfig, device: str = "cuda") -> Resources:
        """A tighter estimate than the class default, for this config's model and batch size."""
        bundled = bundled_for(config.model)
        model_bin = Path(config.model).expanduser() / "model.bin"
        size = 145_217_532 if bundled is None and not model_bin.is_file() else 0
        if bundled is not None:
            size = 75_537_502 if bundled.name == "tiny.en" else 145_217_532
        elif model_bin.is_file():
            size = model_bin.stat().st_size
        if device == "cpu":
            return Resources(cpu=cls.resources.cpu, gpu=0, gpu_mem_mb=0, ram_mb=max(1024, 3 * size // 2**20 + 768))
        batch = config.batch_size or 8
        return Resources(cpu=cls.resources.cpu, gpu=1, gpu_mem_mb=gpu_mem_estimate_mb(size, batch), ram_mb=2048)

    def checks(self) -> list[tuple[str, bool, str]]:
        """``kinod doctor`` rows: packages, Silero VAD, the configured model (sha256, not loaded), device, backends."""
        from kinod.analyzers.speech.doctor import checks

        return checks(self.cfg, self.runtime)

    def model_info(self) -> ModelInfo | None:
        bundled = bundled_for(self.cfg.model)
        if bundled is not None:
            return ModelInfo(bundled.name, bundled.sha256["model.bin"], bundled.source)
        model_bin = Path(self.cfg.model).expanduser() / "model.bin"
        if not model_bin.is_file():
            return None
        return ModelInfo(model_bin.parent.name, cached_sha256(model_bin), f"local:{model_bin.parent}")

    # ------------------------------------------------------------------ run

    def run(self, clip: ClipInfo, cache: Any) -> Result:
        cfg = self.cfg
        model_info = self.model_info()
        if not cache.has_audio:
            return self._empty(clip, "no_audio", "the clip has no audio stream", model_info)
        try:
            samples = cache.audio()
            if samples.ndim != 2 or samples.shape[1] != cache.audio_channels:
                raise ValueError(f"shape {samples.shape} for {cache.audio_channels} channel(s)")
            choice = choose_channels(samples, cfg.channel, cfg.empty_channel_dbfs)
        except ValueError as exc:
            if "analyzers.speech.channel" in str(exc):
                raise AnalyzerError(f"speech: {exc}") from exc
            raise AnalyzerError(f"speech: the analysis cache's audio is corrupt or truncated ({exc})") from exc
        except OSError as exc:
            raise AnalyzerError(f"speech: cannot read the analysis cache's audio ({exc})") from exc
        # Whisper and the speaker models hear 16 kHz; the cache holds ``media.audio_rate``.
        mono = to_model_rate(choice.mono, int(cache.audio_rate))
        duration = mono.shape[0] / RATE
        channels = {
            "available": int(samples.shape[1]),
            "used": choice.used,
            "mode": choice.mode,
            "reason": choice.reason,
            "levels_dbfs": [round(v, 1) for v in choice.levels_dbfs],
            "empty": choice.empty,
        }
        warnings = []
        if choice.sanitized:
            warnings.append("the audio held NaN or infinite samples (a damaged stream?); they were zeroed")
        if len(choice.empty) == samples.shape[1]:
            return self._empty(
                clip,
                "silent",
                f"every audio channel is below {cfg.empty_channel_dbfs:.0f} dBFS (silent track)",
                model_info,
                channels,
                duration,
                warnings,
            )

        self._check_speaker_backend()  # fail before minutes of transcription, not after
        resolved = resolve_model(cfg.model, self.runtime.models_dir, cfg.model_sha256)
        warnings.extend(resolved.warnings)
        device, compute_type = resolve_device(cfg.device or self.runtime.device, cfg.compute_type)
        batch = cfg.batch_size or (8 if device == "cuda" else 1)
        threads = cfg.cpu_threads or self.resources.cpu
        backend: FasterWhisperBackend | WhisperXBackend
        if cfg.backend == "whisperx":
            backend = WhisperXBackend(resolved, device, compute_type, cfg.whisperx_align_model)
        else:
            backend = FasterWhisperBackend(resolved, device, compute_type, threads)
        transcript = backend.transcribe(mono, cfg, batch)
        model_info = ModelInfo(resolved.name, resolved.sha256, resolved.source)

        segments = _clean_segments(transcript.segments, duration)
        if not segments:
            result = self._empty(
                clip, "no_speech", "voice activity detection found no speech", model_info, channels, duration, warnings
            )
            # No language for a clip without speech, but what Whisper guessed can help a person debugging.
            guess = _language_summary(transcript, [])
            result.summary.update({k: guess[k] for k in ("detected_language", "top_languages")})
            return result

        speakers = self._speakers(mono, segments, warnings)
        return self._result(clip, transcript, segments, speakers, channels, duration, model_info, warnings)

    def _check_speaker_backend(self) -> None:
        """An explicitly chosen optional speaker backend that is not installed is an error naming the key."""
        if self.cfg.speakers == "resemblyzer":
            problem = ResemblyzerBackend.missing()
            if problem:
                raise ModelMissingError(f"analyzers.speech.speakers: {problem}")
        elif self.cfg.speakers == "pyannote":
            problems = PyannoteBackend(self.cfg.pyannote_pipeline).missing()
            if problems:
                raise ModelMissingError("analyzers.speech.speakers = 'pyannote': " + "; ".join(problems))

    def _speakers(self, mono: np.ndarray, segments: list[SegmentOut], warnings: list[str]) -> SpeakerResult | None:
        cfg = self.cfg
        if cfg.speakers == "off":
            return None
        backend = make_backend(
            cfg.speakers, cfg.speaker_threshold, cfg.speaker_similarity, cfg.max_speakers, cfg.pyannote_pipeline
        )
        try:
            result: SpeakerResult = backend.assign(mono, [(s.start, s.end) for s in segments])
        except ModelMissingError:
            raise
        except Exception as exc:  # a speaker backend failure must not lose the transcript
            warnings.append(f"speaker backend {backend.name!r} failed ({exc}); no speakers")
            return None
        warnings.extend(result.notes)
        return result

    # ------------------------------------------------------------------ results

    def _empty(
        self,
        clip: ClipInfo,
        status: str,
        reason: str,
        model_info: ModelInfo | None,
        channels: dict[str, Any] | None = None,
        duration: float = 0.0,
        warnings: list[str] | None = None,
    ) -> Result:
        """An empty but well-formed result: the reason is in the summary and the warnings."""
        artefacts = [_write_transcript(clip, "")]
        summary: dict[str, Any] = {
            "status": status,
            "reason": reason,
            "language": None,
            "language_probability": None,
            "language_switches": [],
            "channels": channels,
            "word_count": 0,
            "segment_count": 0,
            "duration_s": round(duration, 3),
            "speech_s": 0.0,
            "words_per_second": 0.0,
            "words_per_second_speech": 0.0,
            "talking_head": False,
            "talking_head_threshold_wps": self.cfg.talking_head_wps,
            "speaker_count": 0,
            "speakers": [],
            "transcript": "",
        }
        return Result(
            summary=summary, model=model_info, artefacts=artefacts, warnings=[*(warnings or []), f"speech: {reason}"]
        )

    def _result(
        self,
        clip: ClipInfo,
        transcript: TranscriptOut,
        segments: list[SegmentOut],
        speakers: SpeakerResult | None,
        channels: dict[str, Any],
        duration: float,
        model_info: ModelInfo,
        warnings: list[str],
    ) -> Result:
        cfg = self.cfg
        rate = clip.rate
        labels = speakers.labels if speakers is not None else [None] * len(segments)
        names = [f"Speaker {label + 1}" if label is not None and label >= 0 else None for label in labels]
        items: list[dict[str, Any]] = []
        for seg, speaker in zip(segments, names, strict=True):
            start_f, end_f = _frames(seg.start, seg.end, rate, clip.frames)
            items.append(
                {
                    "start_frame": start_f,
                    "end_frame": end_f,
                    "start_s": round(seg.start, 3),
                    "end_s": round(seg.end, 3),
                    "text": seg.text,
                    "language": seg.language,
                    "confidence": round(_confidence(seg.avg_logprob), 4),
                    "avg_logprob": round(seg.avg_logprob, 4),
                    "no_speech_probability": round(seg.no_speech_prob, 4),
                    "speaker": speaker,
                    "words": [
                        {
                            "word": w.word,
                            "start_s": round(w.start, 3),
                            "end_s": round(w.end, 3),
                            **_frame_keys(w.start, w.end, rate, clip.frames),
                            "probability": round(w.probability, 4),
                        }
                        for w in seg.words
                    ],
                }
            )
        word_count = sum(len(s.words) or len(s.text.split()) for s in segments)
        speech_s = sum(s.end - s.start for s in segments)
        wps = word_count / duration if duration > 0 else 0.0
        wps_speech = word_count / speech_s if speech_s > 0 else 0.0
        text = " ".join(s.text for s in segments).strip()
        speaker_rows = []
        profiles: dict[str, Any] = {}
        if speakers is not None:
            for label in sorted({lab for lab in speakers.labels if lab >= 0}):
                mine = [s for s, lab in zip(segments, speakers.labels, strict=True) if lab == label]
                speaker_rows.append(
                    {
                        "name": f"Speaker {label + 1}",
                        "segments": len(mine),
                        "speech_s": round(sum(s.end - s.start for s in mine), 3),
                        "words": sum(len(s.words) for s in mine),
                    }
                )
                if label in speakers.profiles:
                    profiles[f"Speaker {label + 1}"] = speakers.profiles[label]
        summary: dict[str, Any] = {
            "status": "ok",
            "reason": "",
            **_language_summary(transcript, segments, rate, clip.frames),
            "channels": channels,
            "word_count": word_count,
            "segment_count": len(segments),
            "duration_s": round(duration, 3),
            "speech_s": round(speech_s, 3),
            "words_per_second": round(wps, 3),
            "words_per_second_speech": round(wps_speech, 3),
            "talking_head": wps > cfg.talking_head_wps,
            "talking_head_threshold_wps": cfg.talking_head_wps,
            "speaker_count": len(speaker_rows),
            "speakers": speaker_rows,
            "speaker_backend": speakers.backend if speakers is not None else None,
            "speaker_profiles": profiles,
            "transcript": text,
            "backend": cfg.backend,
            "model": model_info.name,
            "device": transcript.device,
            "compute_type": transcript.compute_type,
            "batch_size": transcript.batch_size,
            "beam_size": cfg.beam_size,
        }
        artefacts = [_write_transcript(clip, _transcript_text(segments, names))]
        markers = _markers(cfg.markers, items, rate, clip.frames)
        return Result(
            items=items, summary=summary, markers=markers, model=model_info, artefacts=artefacts, warnings=warnings
        )


# ---------------------------------------------------------------------- helpers


def _confidence(avg_logprob: float) -> float:
    """exp(average token log-probability): the geometric-mean token probability, in 0..1."""
    return float(min(1.0, max(0.0, math.exp(avg_logprob))))


def _frames(start_s: float, end_s: float, rate: Fraction, total: int) -> tuple[int, int]:
    """[start, end) frame range at the clip's rate; at least one frame; inside the clip when its length is known."""
    fps = rate.numerator / rate.denominator
    # The epsilon keeps 1.2 s * 25 fps at frame 30 despite binary floating point.
    start = math.floor(start_s * fps + 1e-6)
    end = math.ceil(end_s * fps - 1e-6)
    if total > 0:
        start = min(start, total - 1)
        end = min(end, total)
    return start, max(end, start + 1)


def _frame_keys(start_s: float, end_s: float, rate: Fraction, total: int) -> dict[str, int]:
    start, end = _frames(start_s, end_s, rate, total)
    return {"start_frame": start, "end_frame": end}


def _clean_segments(segments: list[SegmentOut], duration: float) -> list[SegmentOut]:
    """Drop empty segments; keep every time inside the audio and word times monotonic."""
    out = []
    last = 0.0
    for seg in segments:
        if not seg.text.strip():
            continue
        seg.start = min(max(seg.start, 0.0), duration)
        seg.end = min(max(seg.end, seg.start), duration)
        words = []
        for w in seg.words:
            w.word = w.word.strip()
            if not w.word:
                continue
            w.start = min(max(w.start, last, 0.0), duration)
            w.end = min(max(w.end, w.start), duration)
            last = w.start
            words.append(w)
        seg.words = words
        if words:
            seg.start = min(seg.start, words[0].start)
            seg.end = max(seg.end, words[-1].end)
        out.append(seg)
    return out


def _language_summary(
    transcript: TranscriptOut, segments: list[SegmentOut], rate: Fraction | None = None, total: int = 0
) -> dict[str, Any]:
    """Clip language (the one with most speech time), per-language time and the switches between segments."""
    seconds: dict[str, float] = {}
    for s in segments:
        seconds[s.language] = seconds.get(s.language, 0.0) + (s.end - s.start)
    language = max(seconds, key=lambda k: seconds[k]) if seconds else transcript.language
    total_s = sum(seconds.values())
    if language == transcript.language:
        probability = transcript.language_probability
    else:
        probability = seconds[language] / total_s if total_s else 0.0
    switches = []
    for prev, cur in itertools.pairwise(segments):
        if cur.language != prev.language:
            row: dict[str, Any] = {"start_s": round(cur.start, 3), "from": prev.language, "to": cur.language}
            if rate is not None:
                row["start_frame"] = _frames(cur.start, cur.end, rate, total)[0]
            switches.append(row)
    return {
        "language": language,
        "language_probability": round(float(probability), 4),
        "detected_language": {
            "language": transcript.language,
            "probability": round(transcript.language_probability, 4),
        },
        "top_languages": [{"language": lang, "probability": round(p, 4)} for lang, p in transcript.top_languages],
        "languages_s": {k: round(v, 3) for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])},
        "language_switches": switches,
    }


def _clock(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000 // 100}"


def _transcript_text(segments: list[SegmentOut], speakers: list[str | None]) -> str:
    """Plain text, one paragraph per speaker turn (or per segment without speakers), with clip time."""
    lines: list[str] = []
    turn: list[str] = []
    turn_start = 0.0
    current: str | None = None
    for i, (seg, speaker) in enumerate(zip(segments, speakers, strict=True)):
        if i == 0 or speaker != current or speaker is None:
            if turn:
                lines.append(_paragraph(turn_start, current, turn))
            turn, turn_start, current = [], seg.start, speaker
        turn.append(seg.text)
    if turn:
        lines.append(_paragraph(turn_start, current, turn))
    return "\n\n".join(lines) + ("\n" if lines else "")


def _paragraph(start: float, speaker: str | None, texts: list[str]) -> str:
    who = f"{speaker} " if speaker else ""
    return f"[{_clock(start)}] {who}\n{' '.join(texts)}".replace(" \n", "\n")


def _write_transcript(clip: ClipInfo, text: str) -> str:
    clip.artefact_dir.mkdir(parents=True, exist_ok=True)
    tmp = clip.artefact_dir / (TRANSCRIPT_FILE + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(clip.artefact_dir / TRANSCRIPT_FILE)
    return TRANSCRIPT_FILE


def _markers(mode: str, items: list[dict[str, Any]], rate: Fraction, total: int) -> list[Marker]:
    """Transcript markers: per sentence (split on ., ?, ! or a change of speaker), turn or segment."""
    if mode == "off" or not items:
        return []
    groups: list[tuple[str | None, list[dict[str, Any]], str, float]] = []  # speaker, words, text, confidence
    if mode == "segment":
        groups = [(it["speaker"], it["words"], it["text"], it["confidence"]) for it in items]
    elif mode == "turn":
        for it in items:
            if groups and groups[-1][0] == it["speaker"] and it["speaker"] is not None:
                speaker, words, text, conf = groups[-1]
                n = len(words) + len(it["words"])
                merged_conf = (conf * max(len(words), 1) + it["confidence"] * max(len(it["words"]), 1)) / max(n, 1)
                groups[-1] = (speaker, words + it["words"], f"{text} {it['text']}", merged_conf)
            else:
                groups.append((it["speaker"], list(it["words"]), it["text"], it["confidence"]))
    else:
        words: list[dict[str, Any]] = []
        speaker: str | None = None
        for it in items:
            for w in it["words"]:
                if words and it["speaker"] != speaker:
                    groups.append(_sentence(speaker, words))
                    words = []
                speaker = it["speaker"]
                words.append(w)
                if _SENTENCE_END.search(w["word"]):
                    groups.append(_sentence(speaker, words))
                    words = []
        if words:
            groups.append(_sentence(speaker, words))
    markers = []
    for speaker, words, text, conf in groups:
        if not words:
            continue
        start, end = _frames(words[0]["start_s"], words[-1]["end_s"], rate, total)
        name = text if len(text) <= 60 else text[:57].rstrip() + "..."
        markers.append(
            Marker(
                category="speech",
                frame=start,
                name=f"{speaker}: {name}" if speaker else name,
                duration_frames=end - start,
                comment=text,
                confidence=round(float(conf), 4),
            )
        )
    return markers


def _sentence(speaker: str | None, words: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]], str, float]:
    text = " ".join(w["word"] for w in words)
    conf = float(np.mean([w["probability"] for w in words])) if words else 0.0
    return speaker, words, text, conf


def to_model_rate(mono: np.ndarray, rate: int) -> np.ndarray:
    """The cache's mono PCM at the 16 kHz the speech models were trained on.

    Why here: the analysis cache is at ``media.audio_rate`` (16 kHz by default, when this
    is a no-op), which a user may raise for other analyzers. Downsampling first low-passes
    with a windowed sinc below the new Nyquist (so nothing above 8 kHz folds into the
    voice band), then interpolates; upsampling only interpolates.
    """
    if rate == RATE or mono.shape[0] == 0:
        return mono
    if rate <= 0:
        raise AnalyzerError(f"speech: the analysis cache says its audio rate is {rate} Hz")
    x = mono.astype(np.float32, copy=False)
    if rate > RATE:
        cutoff = 0.95 * (RATE / 2) / rate  # cycles per input sample
        n = np.arange(-32, 33)
        taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(n.size)
        x = np.convolve(x, (taps / taps.sum()).astype(np.float32), mode="same")
    out_len = round(x.shape[0] * RATE / rate)
    t = np.arange(out_len, dtype=np.float64) * (rate / RATE)
    return np.interp(t, np.arange(x.shape[0], dtype=np.float64), x).astype(np.float32)
