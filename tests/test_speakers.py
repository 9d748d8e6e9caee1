"""Speakers on real conversations: the ge2e backend (Silero VAD, GE2E d-vectors in numpy, spectral clustering).

The set and its licences: tests/data/speakers/README.md; the per-file table is benchmarks/speakers.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from speaker_set import SET, der, load_rttm, load_wav

from kinod.analyzers.speech import ge2e, vad
from kinod.analyzers.speech.diarize import diarize, label_spans
from kinod.analyzers.speech.speakers import Ge2eBackend, make_backend
from kinod.analyzers.speech.transcribe import SegmentOut, WordOut
from kinod.analyzers.speech.turns import split_by_speaker
from kinod.analyzers.visual.torchload import load_state_dict

pytestmark = pytest.mark.skipif(Ge2eBackend.missing() is not None, reason=str(Ge2eBackend.missing()))


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    return load_wav(SET / "sample.wav"), load_rttm(SET / "sample.rttm", "sample")


def test_two_speakers_found_in_a_real_two_person_conversation(sample) -> None:  # type: ignore[no-untyped-def]
    audio, ref = sample
    found = diarize(audio)
    assert found.speaker_count == 2, found.turns
    score = der(ref, found.turns, audio.shape[0] / 16000)
    assert score.total <= 0.20, score


def test_max_speakers_bounds_the_count(sample) -> None:  # type: ignore[no-untyped-def]
    audio, _ = sample
    assert diarize(audio, max_speakers=1).speaker_count == 1


def test_a_segment_holding_both_sides_is_split_at_the_word_where_the_voice_changes(sample) -> None:  # type: ignore[no-untyped-def]
    audio, ref = sample
    found = diarize(audio)
    # One "Whisper segment" over two reference turns: 8.32-10.02 one speaker, 10.57-14.70 the same,
    # 14.49-17.92 the other. Words placed inside each turn must come out as two pieces.
    words = [WordOut("first", 8.6, 9.4, 0.9), WordOut("second", 11.0, 12.0, 0.9), WordOut("third", 15.5, 16.5, 0.9)]
    seg = SegmentOut(8.5, 16.6, "first second third", -0.2, 0.01, words, "en")
    pieces, labels = split_by_speaker([seg], found.frames)
    assert [p.text for p in pieces] == ["first second", "third"], [p.text for p in pieces]
    assert labels[0] != labels[1] and min(labels) >= 0
    assert pieces[0].start == 8.5 and pieces[1].end == 16.6
    truth = {s for a, b, s in ref if a <= 15.5 and b >= 16.5}
    assert len(truth) == 1
    assert label_spans(found.frames, [(100.0, 101.0)]) == [-1]  # past the end: unknown


def test_weights_are_the_pinned_files_and_read_without_torch() -> None:
    sd = load_state_dict(ge2e.weights_path())
    assert sd["model_state.lstm.weight_ih_l0"].shape == (1024, 40)
    assert sd["model_state.linear.weight"].shape == (256, 256)
    assert vad.model_path().name == "silero_vad.onnx"


def test_silence_has_no_speakers() -> None:
    found = diarize(np.zeros(16000 * 3, dtype=np.float32))
    assert found.turns == [] and found.speaker_count == 0


def test_backend_is_chosen_by_name_and_auto_stays_mfcc() -> None:
    assert make_backend("ge2e", 1.0, 0.75, 3, None).name == "ge2e"
    assert make_backend("auto", 1.0, 0.75, 0, None).name == "mfcc"


def test_a_short_clip_of_two_espeak_voices_gives_two_speakers() -> None:
    """12 s, voice A twice then voice B: few windows must not fall apart into cliques."""
    from test_speech import DATA, decode_pcm

    found = diarize(decode_pcm(DATA / "en_two_voices.wav")[:, 0])
    labels = [lab for _, _, lab in found.turns]
    assert found.speaker_count == 2 and labels[0] == labels[1] != labels[-1], found.turns


def test_an_hour_of_windows_is_clustered_from_a_subset() -> None:
    """9,000 windows (an hour of speech) go through a 1,000-window affinity, all of them labelled."""
    from kinod.analyzers.speech.diarize import Windows, cluster

    rng = np.random.default_rng(7)
    voices = np.abs(rng.normal(size=(2, 256)))
    who = (np.arange(9000) // 300) % 2  # the two voices take turns every 300 windows (2 minutes)
    vectors = voices[who] + 0.6 * np.abs(rng.normal(size=(9000, 256)))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    spans = [(i * 0.4, i * 0.4 + 1.6) for i in range(9000)]
    found = cluster(Windows(int(3601.6 / 0.01), [(0.0, 3601.6)], spans, vectors))
    assert found.speaker_count == 2
    labels = {lab for _, _, lab in found.turns}
    assert labels == {0, 1} and len(found.turns) == 30
