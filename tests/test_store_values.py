"""The job store hands out typed, frozen values through its repositories, never SQLite rows.

Readers (scheduler, finalize, ``kinod status``, the card lifecycle) depend on these
attributes; a row leaking out would let a column rename break them silently.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kinod.jobs.rows import ClaimedJob, FailedTask, JobRow, QueuedTask
from kinod.jobs.store import CardRecord, JobEvent, JobSpec, JobStore, PathRecord, job_key


def _spec(fp: str, name: str, kind: str) -> JobSpec:
    return JobSpec(job_key(fp, name, "1", "c", None), fp, name, "1", "c", None, f"/f/{fp}.mov", kind=kind)


def _frozen(value: object) -> None:
    assert dataclasses.is_dataclass(value) and type(value).__dataclass_params__.frozen  # type: ignore[attr-defined]
    field = dataclasses.fields(value)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, None)


def test_the_store_is_a_connection_with_three_repositories(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "s.sqlite")
    try:
        assert {type(store.queue).__name__, type(store.cards).__name__, type(store.clips).__name__} == {
            "QueueRepo", "CardRepo", "ClipRepo"
        }  # fmt: skip
        for old in ("enqueue", "upsert_clip", "clip", "cards", "paths_of", "finish_pass", "card_files"):
            assert not callable(getattr(store, old, None)), old  # no direct methods left on the store
    finally:
        store.close()


def test_queue_card_path_and_event_rows_are_frozen_values(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "s.sqlite")
    odd = "/f/A001/caf\udce9.mov"  # a name that is not UTF-8 keeps its bytes
    try:
        store.cards.upsert("k", root="/f", path="/f/A001", name="A001", loose=False, state="ready")
        store.clips.upsert("fp", odd, 1, "A001", "queued", card_path="/f/A001", out_dir="/out")
        store.clips.set_state("fp", "queued", cache="ready")
        model, stream = _spec("fp", "m", "model"), _spec("fp", "s", "stream")
        store.queue.enqueue([model, stream])
        store.queue.enqueue_pass("fp", odd)

        tasks = store.queue.next_tasks(10, newest_first=True)
        assert all(isinstance(t, QueuedTask) for t in tasks) and {t.kind for t in tasks} == {"pass", "model"}
        _frozen(tasks[0])
        claimed = store.queue.claim("pass:fp", "me", 60)
        assert claimed == [ClaimedJob(stream.key, "s")]
        store.queue.finish_pass(
            "fp", "me", state="done", error=None, records={"s": (stream.key, {"v": 1})}, failures={}, clip={}
        )
        jobs = {j.analyzer: j for j in store.queue.jobs_of("fp")}
        assert isinstance(jobs["s"], JobRow) and jobs["s"].record == {"v": 1} and jobs["m"].state == "queued"
        assert store.queue.claim(model.key, "me", 60) == [ClaimedJob(model.key, "m")]
        store.queue.finish_job(model.key, "me", state="failed", error="boom")
        assert store.queue.failed_tasks(5) == [FailedTask("m", "/f/fp.mov", "boom", 1)]

        (card,) = store.cards.all()
        assert isinstance(card, CardRecord) and (card.path, card.name, card.state) == ("/f/A001", "A001", "ready")
        assert store.cards.get("k") == card
        (place,) = store.clips.paths_of("fp")
        assert place == PathRecord(Path(odd), 1, None, Path("/out"), "A001", "/f/A001", None)
        _frozen(place)
        events = store.events(model.key)
        assert all(isinstance(e, JobEvent) for e in events)
        assert [e.event for e in events] == ["queued", "started", "failed"]
    finally:
        store.close()
