"""Categories: espeak-ng speech about cooking, football and a software tutorial lands in the right place.

The WAVs (tests/data/categories, made once by make_categories.sh) go through the real
pipeline: one decode pass, the analysis cache, speech (the bundled tiny.en model), then
categories reading the transcript. The full 9-clip confusion table is benchmarks/categories.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kinod.analyzers import text_embed
from kinod.analyzers.base import AnalyzerError, ModelMissingError, Result, RuntimeContext
from kinod.analyzers.categories import CategoriesAnalyzer, CategoriesConfig
from kinod.analyzers.categories.taxonomy import TaxonomyError, load
from kinod.analyzers.speech import SpeechAnalyzer
from kinod.config import load_config
from kinod.jobs.store import JobStore
from kinod.jobs.tasks import Task
from kinod.media.cards.model import ClipFiles
from kinod.run.processor import ClipProcessor

DATA = Path(__file__).parent / "data" / "categories"
EXPECTED = {
    "cooking_1.wav": ["Lifestyle", "Food & Cooking"],
    "football_2.wav": ["Sports", "Football"],
    "tutorial_1.wav": ["Education", "Tutorials"],
}


def _config(tmp: Path) -> Path:
    for d in ("footage", "out", "var"):
        (tmp / d).mkdir(exist_ok=True)
    cfg = tmp / "config.toml"
    cfg.write_text(
        f'[[watch.roots]]\npath = "{tmp / "footage"}"\n[output]\nroot = "{tmp / "out"}"\n'
        f'[state]\ndir = "{tmp / "var"}"\n[logging]\nformat = "json"\n'
        '[analyzers]\nenabled = ["speech", "categories"]\n'
        '[analyzers.speech]\nmodel = "tiny.en"\nbeam_size = 1\nspeakers = "off"\nlanguage = "en"\n'
    )
    return cfg


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_spoken_topic_lands_in_its_category(name: str, tmp_path: Path) -> None:
    config = load_config(_config(tmp_path))
    store = JobStore(config.state.dir / "kinod.sqlite")
    try:
        outcome = ClipProcessor(config, store, classes=[SpeechAnalyzer, CategoriesAnalyzer]).process(
            DATA / name, tmp_path / "out"
        )
    finally:
        store.close()
    assert outcome.ok, outcome.error
    summary = json.loads(Path(str(outcome.sidecar)).read_text())["analyses"]["categories"]["summary"]
    assert summary["top"][0]["path"] == EXPECTED[name], summary
    assert len(summary["top"]) == 3 and summary["top"][0]["score"] >= summary["top"][1]["score"]
    assert summary["sources"] == ["speech"]


def test_embeddings_are_normalised_and_similar_sentences_are_closer() -> None:
    e = text_embed.embed(["Fry the onions in olive oil.", "Saute the onion in a pan.", "The striker scored."])
    assert e.shape == (3, 384) and np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2
    assert text_embed.embed([]).shape == (0, 384)


def test_empty_transcript_is_an_uncertain_result_not_an_error(tmp_path: Path) -> None:
    a = CategoriesAnalyzer(runtime=RuntimeContext(tmp_path))
    a.use_results({"speech": Result(items=[]), "ocr": Result(items=[])})
    result = a.run(None, None)  # type: ignore[arg-type]
    assert result.summary["status"] == "no_text" and result.summary["uncertain"] is True
    assert result.summary["top"] == []


def test_vague_speech_is_uncertain(tmp_path: Path) -> None:
    a = CategoriesAnalyzer(runtime=RuntimeContext(tmp_path))
    a.use_results({"speech": Result(items=[{"text": "Okay. Yes. Right, hmm, okay then."}])})
    assert a.run(None, None).summary["uncertain"] is True  # type: ignore[arg-type]
    a.use_results({"speech": Result(items=[{"text": "The striker scores a goal and the referee ends the match."}])})
    assert a.run(None, None).summary["uncertain"] is False  # type: ignore[arg-type]


def test_tags_and_screen_text_alone_still_categorise(tmp_path: Path) -> None:
    a = CategoriesAnalyzer(runtime=RuntimeContext(tmp_path))
    visual = Result(items=[{"tags": [{"label": "espresso"}, {"label": "cup"}], "editorial": ["food", "indoor"]}])
    a.use_results({"visual": visual, "ocr": Result(items=[{"text": "Grandma's lasagne recipe"}])})
    top = a.run(None, None).summary["top"]  # type: ignore[arg-type]
    assert top[0]["path"] == ["Lifestyle", "Food & Cooking"]


def test_taxonomy_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "tax.toml"
    bad.write_text('[Sports]\nabout = "sport"\n"Football" = "football\n')
    with pytest.raises(TaxonomyError, match=r"tax\.toml.*line 3"):
        load(bad)
    a = CategoriesAnalyzer(CategoriesConfig(taxonomy=str(bad)), RuntimeContext(tmp_path))
    a.use_results({"speech": Result(items=[{"text": "a goal"}])})
    with pytest.raises(AnalyzerError, match=r"analyzers\.categories\.taxonomy: .*tax\.toml.*line 3"):
        a.run(None, None)  # type: ignore[arg-type]
    assert not dict((n, ok) for n, ok, _ in a.checks())["taxonomy"]


def test_own_taxonomy_with_deeper_levels(tmp_path: Path) -> None:
    own = tmp_path / "own.toml"
    own.write_text(
        '[Sport]\nabout = "sport"\n[Sport.Ball]\nabout = "ball games"\n'
        '"Football" = "football: goals, strikers, referees"\n"Tennis" = "tennis: rackets, serve, sets"\n'
        '[Food]\nabout = "food"\n"Baking" = "baking bread and cakes in the oven"\n'
    )
    leaves = load(own)
    assert [leaf.path for leaf in leaves] == [("Sport", "Ball", "Football"), ("Sport", "Ball", "Tennis"),
                                              ("Food", "Baking")]  # fmt: skip
    a = CategoriesAnalyzer(CategoriesConfig(taxonomy=str(own), top=2), RuntimeContext(tmp_path))
    a.use_results({"speech": Result(items=[{"text": "He serves, and wins the second set with his racket."}])})
    top = a.run(None, None).summary["top"]  # type: ignore[arg-type]
    assert top[0]["path"] == ["Sport", "Ball", "Tennis"] and len(top) == 2


def test_tampered_minilm_is_refused(tmp_path: Path) -> None:
    src = text_embed.package_dir()
    for rel in text_embed.FILES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).symlink_to(src / rel)
    (tmp_path / "model/tokenizer.json").unlink()
    (tmp_path / "model/tokenizer.json").write_text("{}")
    with pytest.raises(ModelMissingError, match=r"analyzers\.categories\.model.*sha256 mismatch"):
        text_embed.MiniLM(root=tmp_path)




def test_embeddings_match_sentence_transformers_reference() -> None:
    """Reference vectors computed once with sentence-transformers + torch from the same packaged model."""
    ref = json.loads((DATA / "minilm_reference.json").read_text())
    got = text_embed.embed(ref["sentences"])
    want = np.asarray(ref["vectors"], np.float32)
    assert np.abs(got - want).max() < 1e-4
    assert float(np.min(np.sum(got * want, axis=1))) > 0.9999


def test_a_model_analyzer_waits_for_a_running_one_it_reads(tmp_path: Path) -> None:
    """categories reads speech: queued behind it, held while it still runs on another slot,
    then handed out with speech's result in the task (its runner reads no store)."""
    config = load_config(_config(tmp_path))
    store = JobStore(config.state.dir / "kinod.sqlite")
    try:
        proc = ClipProcessor(config, store, classes=[SpeechAnalyzer, CategoriesAnalyzer])
        plan = proc.enqueue_clip(ClipFiles.alone(DATA / "football_1.wav"), tmp_path / "out")
        specs = proc.specs(plan.fingerprint, DATA / "football_1.wav")
        assert specs["categories"].priority > specs["speech"].priority
        speech_key = plan.keys["speech"]
        assert store.queue.claim(speech_key, "other-worker", 60.0) is not None  # speech runs elsewhere
        task = Task(plan.keys["categories"], "model", plan.fingerprint, str(DATA / "football_1.wav"), "categories")
        assert proc.facts.blocked(task)
        record = {"items": [{"start_frame": 0, "end_frame": 10, "text": "The striker scores a goal."}], "summary": {}}
        store.queue.finish_job(speech_key, "other-worker", state="done", record=record)
        assert not proc.facts.blocked(task)
        filled = Task.from_json(proc.facts.fill(task).to_json())  # as it travels to a worker
    finally:
        store.close()
    assert set(filled.results) == {"speech"}  # ocr is not enabled: left out, not waited for
    assert filled.results["speech"]["items"][0]["text"] == "The striker scores a goal."
    assert filled.cache_dir == str(config.state.dir / "cache" / plan.fingerprint)


def test_jfk_inaugural_is_politics_or_history(tmp_path: Path) -> None:
    """The 1961 inaugural ("ask not what your country can do for you"), real speech through the pipeline."""
    from media import FIXTURE_MEDIA

    config = load_config(_config(tmp_path))
    store = JobStore(config.state.dir / "kinod.sqlite")
    try:
        outcome = ClipProcessor(config, store, classes=[SpeechAnalyzer, CategoriesAnalyzer]).process(
            FIXTURE_MEDIA / "jfk.flac", tmp_path / "out"
        )
    finally:
        store.close()
    assert outcome.ok, outcome.error
    summary = json.loads(Path(str(outcome.sidecar)).read_text())["analyses"]["categories"]["summary"]
    assert summary["top"][0]["path"] in (["News & Politics", "Politics"], ["Education", "History"]), summary
    assert summary["uncertain"] is False and summary["margin"] >= CategoriesConfig().min_margin


def test_close_answers_are_uncertain_even_with_a_high_score(tmp_path: Path) -> None:
    """Uncertainty comes from the margin between the first two answers, not from one absolute score."""
    a = CategoriesAnalyzer(CategoriesConfig(min_score=0.0, min_margin=0.03), runtime=RuntimeContext(tmp_path))
    a.use_results({"speech": Result(items=[{"text": "The striker scores a goal and the referee ends the match."}])})
    sure = a.run(None, None).summary  # type: ignore[arg-type]
    assert sure["uncertain"] is False and sure["margin"] >= 0.03
    a = CategoriesAnalyzer(CategoriesConfig(min_score=0.0, min_margin=1.0), runtime=RuntimeContext(tmp_path))
    a.use_results({"speech": Result(items=[{"text": "The striker scores a goal and the referee ends the match."}])})
    assert a.run(None, None).summary["uncertain"] is True  # type: ignore[arg-type]


def test_named_people_count_with_the_transcript(tmp_path: Path) -> None:
    a = CategoriesAnalyzer(runtime=RuntimeContext(tmp_path))
    faces = Result(items=[{"track": 1, "person_name": "Senator Jane Doe"}, {"track": 2, "person_name": None}])
    a.use_results({"faces": faces, "speech": Result(items=[{"text": "Thank you all for coming tonight."}])})
    summary = a.run(None, None).summary  # type: ignore[arg-type]
    assert summary["sources"] == ["people", "speech"]
