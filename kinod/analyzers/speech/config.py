"""The ``[analyzers.speech]`` config section.

Every key has a default that works offline on a 2-core CPU with the model that an
installed package ships, so an empty section is a valid one.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from kinod.analyzers.base import AnalyzerConfig

#: How the analyzer picks the audio it transcribes out of a multichannel recording.
ChannelMode = Literal["loudest", "mix"]


class SpeechConfig(AnalyzerConfig):
    """Keys of ``[analyzers.speech]``; see the package docstring for what each one is for."""

    #: A local model folder or pipeline file is resolved against the config file's folder.
    path_keys: ClassVar[tuple[str, ...]] = ("model", "pyannote_pipeline", "whisperx_align_model")

    #: "faster-whisper" (default, CTranslate2) or "whisperx" (needs whisperx and local alignment models).
    backend: Literal["faster-whisper", "whisperx"] = "faster-whisper"
    #: A bundled model name ("base": multilingual, "tiny.en": English only) or a local CTranslate2 model directory.
    model: str = "base"
    #: Optional expected sha256 per file of a *local* model directory ({"model.bin" = "..."}); bundled
    #: models always use the pinned table in ``kinod.analyzers.speech.models``.
    model_sha256: dict[str, str] = Field(default_factory=dict)
    #: None follows the daemon's runtime device; "auto" = CUDA when CTranslate2 sees a GPU, else CPU.
    device: Literal["auto", "cpu", "cuda"] | None = None
    #: "auto" = float16 on CUDA, int8 on CPU; or any CTranslate2 compute type ("int8_float16", "float32", ...).
    compute_type: str = "auto"
    #: CPU threads for CTranslate2 (0 = use the analyzer's CPU reservation, ``Resources.cpu``).
    cpu_threads: int = Field(default=0, ge=0)
    #: Beam size of the decoder (1 = greedy, fastest).
    beam_size: int = Field(default=5, ge=1, le=16)
    #: 0 = auto (1 on CPU: sequential decoding; 8 on CUDA: batched pipeline); >1 forces batched decoding.
    batch_size: int = Field(default=0, ge=0, le=64)
    #: Force a language ("en", "de", ...); None detects it per clip.
    language: str | None = None
    #: Per-segment language, for clips that switch language:
    #: "window" (default): free, the language faster-whisper re-detects for each 30-s decoding window, so a
    #: switch is seen when the other language fills a window of its own;
    #: "auto": "window" plus a language check (one extra encoder pass, ~2 s of CPU for "base") of each run of
    #: segments >= 1 s whose mean word probability is below ``segment_language_suspect`` (foreign speech decoded
    #: under the clip's language scores low), re-decoded in its own language when that differs; catches short
    #: switches inside a window;
    #: "segment": that check on every segment >= 1 s (slowest, most thorough); "off": one language per clip.
    #: Why "window" is the default: on the 5-minute benchmark track "auto" spent ~20 % more time on checks.
    segment_language: Literal["off", "window", "auto", "segment"] = "window"
    segment_language_suspect: float = Field(default=0.6, ge=0.0, le=1.0)
    #: Initial prompt for the decoder: spelling of names and jargon ("Kinod, DaVinci Resolve, B-roll").
    initial_prompt: str | None = None
    #: Vocabulary list, passed to the decoder as hotwords (names, jargon).
    vocabulary: list[str] = Field(default_factory=list)
    #: Silero VAD: minimum pause that splits speech (ms), and the speech threshold.
    vad_min_silence_ms: int = Field(default=500, ge=0)
    vad_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    #: "loudest" = loudest non-empty channel (lav over camera mic), "mix" = average of non-empty
    #: channels, or a 1-based channel number (2 = second channel).
    channel: ChannelMode | int = "loudest"
    #: A channel whose RMS level is below this (dBFS) counts as empty.
    empty_channel_dbfs: float = -60.0
    #: Words per second over the whole clip above which the clip is flagged ``talking_head``.
    talking_head_wps: float = Field(default=0.5, ge=0.0)
    #: Speaker backend: "auto" (= "mfcc"), "ge2e" (word-level turns from a diarization), "mfcc",
    #: "resemblyzer", "pyannote", "off"; see ``speakers.py``.
    speakers: Literal["auto", "off", "ge2e", "mfcc", "resemblyzer", "pyannote"] = "auto"
    #: Upper bound on speakers per clip (0 = no bound).
    max_speakers: int = Field(default=0, ge=0)
    #: Voice distance under which the mfcc backend merges segments into one speaker (higher: fewer speakers).
    speaker_threshold: float = Field(default=1.0, gt=0.0)
    #: Cosine similarity above which two embedding-backend segments are the same speaker.
    speaker_similarity: float = Field(default=0.75, gt=0.0, lt=1.0)
    #: Local pyannote pipeline directory (config.yaml + weights) for ``speakers = "pyannote"``.
    pyannote_pipeline: str | None = None
    #: Local whisperX alignment model directory (wav2vec2) for ``backend = "whisperx"``.
    whisperx_align_model: str | None = None
    #: One transcript marker per "sentence", per speaker "turn", per "segment", or "off".
    markers: Literal["sentence", "turn", "segment", "off"] = "sentence"

    @field_validator("channel")
    @classmethod
    def _channel_is_one_based(cls, value: ChannelMode | int) -> ChannelMode | int:
        if isinstance(value, int) and value < 1:
            raise ValueError("channel numbers start at 1 (1 = first channel)")
        return value
