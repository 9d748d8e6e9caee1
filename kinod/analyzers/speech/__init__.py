"""Speech analyzer: offline transcripts with word timings, languages, speech density and speakers.

Entry point (group ``kinod.analyzers``): ``speech = "kinod.analyzers.speech:SpeechAnalyzer"``.

* Transcription: faster-whisper 1.2.1 (CTranslate2) with Silero VAD from the faster-whisper
  wheel; the model comes from an installed, version-pinned package, is assembled into
  ``<state dir>/models/`` and sha256-verified before loading (:mod:`.models`). whisperX is an
  optional backend for users with local alignment models.
* Channels: the loudest non-empty channel by default (:mod:`.channels`).
* Speakers: numpy MFCC + pitch clustering by default, resemblyzer/pyannote optional (:mod:`.speakers`).
* Errors: :class:`GpuOutOfMemory` (retry smaller, then on CPU), ``ModelMissingError`` naming
  ``analyzers.speech.model``; clips without audio, silent or without speech give empty
  results whose ``summary["status"]``/``["reason"]`` say why.
* ``kinod doctor``: :func:`doctor`.
"""

from kinod.analyzers.speech.analyzer import SpeechAnalyzer
from kinod.analyzers.speech.config import SpeechConfig
from kinod.analyzers.speech.doctor import doctor
from kinod.analyzers.speech.errors import GpuOutOfMemory
from kinod.analyzers.speech.speakers import link_profiles

__all__ = ["GpuOutOfMemory", "SpeechAnalyzer", "SpeechConfig", "doctor", "link_profiles"]
