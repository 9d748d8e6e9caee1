"""The speech analyzer: transcript, word timings, languages, density and speakers of a clip."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kinod.analyzers.base import (
    AnalyzerConfig,
    AnalyzerError,
    AudioNeeds,
    ClipInfo,
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
from kinod.analyzers.speech.channels import ChannelChoice, choose_channels
from kinod.analyzers.speech.config import SpeechConfig
from kinod.analyzers.speech.markers import speech_markers as _markers  # the name tests reach for
from kinod.analyzers.speech.models import bundled_for, cached_sha256, resolve_model
from kinod.analyzers.speech.resample import to_model_rate
from kinod.analyzers.speech.segments import (
    clean_segments,
    language_summary,
    segment_items,
    speaker_table,
    speaker_turns,
)
from kinod.analyzers.speech.speakers import (
    Ge2eBackend,
    PyannoteBackend,
    ResemblyzerBackend,
    SpeakerResult,
    make_backend,
)
from kinod.analyzers.speech.transcribe import (
    RATE,
    FasterWhisperBackend,
    SegmentOut,
    TranscriptOut,
    WhisperXBackend,
    resolve_device,
)
from kinod.analyzers.speech.transcript_text import TRANSCRIPT_FILE, transcript_text, write_transcript
from kinod.analyzers.speech.turns import split_by_speaker

__all__ = ["TRANSCRIPT_FILE", "SpeechAnalyzer", "gpu_mem_estimate_mb", "to_model_rate"]


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
    version: ClassVar[str] = "1.1.0"  # 1.1.0: speaker_turns, segments split at speaker changes (ge2e)
    #: Speech markers are searched through the transcript they repeat, not as markers.
    marker_categories: ClassVar[tuple[MarkerCategorySpec, ...]] = (
        MarkerCategorySpec("speech", "GREEN", "Speech", order=50, search_kind=None),
    )
    needs: ClassVar[Needs] = Needs(cache=True, audio=AudioNeeds())
    # gpu=1: it uses a GPU when the job's device is cuda/auto and one is free; the estimate is
    # for the default model ("base", 145 MB) at the CUDA default batch of 8 (see resources_for()).
    # cpu=1: one CTranslate2 thread. Two take about 1.6x the CPU for ~10 % less wall time on
    # one clip (83 s of speech: 51 vs 79-86 CPU-s), so on a card two clips transcribed side by
    # side, one thread each, finish far sooner; cpu_threads raises it for a lone clip.
    resources: ClassVar[Resources] = Resources(
        cpu=1, gpu=1, gpu_mem_mb=gpu_mem_estimate_mb(145_217_532, 8), ram_mb=2048
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
        samples, choice = self._read_audio(cache)
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
        transcript, model_info = self._transcribe(mono, warnings)

        segments = clean_segments(transcript.segments, duration)
        if not segments:
            result = self._empty(
                clip, "no_speech", "voice activity detection found no speech", model_info, channels, duration, warnings
            )
            # No language for a clip without speech, but what Whisper guessed can help a person debugging.
            guess = language_summary(transcript, [])
            result.summary.update({k: guess[k] for k in ("detected_language", "top_languages")})
            return result

        segments, speakers = self._speakers(mono, segments, warnings)
        return self._result(clip, transcript, segments, speakers, channels, duration, model_info, warnings)

    def _read_audio(self, cache: Any) -> tuple[np.ndarray, ChannelChoice]:
        """The cache's PCM and the channel(s) to transcribe; a damaged cache is an error that says so."""
        cfg = self.cfg
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
        return samples, choice

    def _transcribe(self, mono: np.ndarray, warnings: list[str]) -> tuple[TranscriptOut, ModelInfo]:
        """Whisper on the verified model, on the device and with the batch size this job got."""
        cfg = self.cfg
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
        return transcript, ModelInfo(resolved.name, resolved.sha256, resolved.source)

    def _check_speaker_backend(self) -> None:
        """An explicitly chosen optional speaker backend that is not installed is an error naming the key."""
        if self.cfg.speakers == "ge2e":
            problem = Ge2eBackend.missing()
            if problem:
                raise ModelMissingError(f"analyzers.speech.speakers = 'ge2e': {problem}")
        elif self.cfg.speakers == "resemblyzer":
            problem = ResemblyzerBackend.missing()
            if problem:
                raise ModelMissingError(f"analyzers.speech.speakers: {problem}")
        elif self.cfg.speakers == "pyannote":
            problems = PyannoteBackend(self.cfg.pyannote_pipeline).missing()
            if problems:
                raise ModelMissingError("analyzers.speech.speakers = 'pyannote': " + "; ".join(problems))

    def _speakers(
        self, mono: np.ndarray, segments: list[SegmentOut], warnings: list[str]
    ) -> tuple[list[SegmentOut], SpeakerResult | None]:
        """Speaker per segment; the ge2e backend first splits segments where their words change speaker."""
        cfg = self.cfg
        if cfg.speakers == "off":
            return segments, None
        backend = make_backend(
            cfg.speakers, cfg.speaker_threshold, cfg.speaker_similarity, cfg.max_speakers, cfg.pyannote_pipeline
        )
        try:
            if isinstance(backend, Ge2eBackend):
                found = backend.diarize(mono)
                segments, labels = split_by_speaker(segments, found.frames)
                result = SpeakerResult(labels, backend.profiles(found), backend.name, found.notes)
                result.turns = found.turns
            else:
                result = backend.assign(mono, [(s.start, s.end) for s in segments])
        except ModelMissingError:
            raise
        except Exception as exc:  # a speaker backend failure must not lose the transcript
            warnings.append(f"speaker backend {backend.name!r} failed ({exc}); no speakers")
            return segments, None
        warnings.extend(result.notes)
        return segments, result

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
        artefacts: list[str] = []  # no transcript file for a clip without speech
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
        items = segment_items(segments, names, rate, clip.frames)
        word_count = sum(len(s.words) or len(s.text.split()) for s in segments)
        speech_s = sum(s.end - s.start for s in segments)
        wps = word_count / duration if duration > 0 else 0.0
        wps_speech = word_count / speech_s if speech_s > 0 else 0.0
        text = " ".join(s.text for s in segments).strip()
        speaker_rows, profiles = speaker_table(segments, speakers)
        summary: dict[str, Any] = {
            "status": "ok",
            "reason": "",
            **language_summary(transcript, segments, rate, clip.frames),
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
            "speaker_turns": speaker_turns(speakers),
            "transcript": text,
            "backend": cfg.backend,
            "model": model_info.name,
            "device": transcript.device,
            "compute_type": transcript.compute_type,
            "batch_size": transcript.batch_size,
            "beam_size": cfg.beam_size,
        }
        artefacts = [write_transcript(clip, transcript_text(segments, names))] if segments else []
        markers = _markers(cfg.markers, items, rate, clip.frames)
        return Result(
            items=items, summary=summary, markers=markers, model=model_info, artefacts=artefacts, warnings=warnings
        )
