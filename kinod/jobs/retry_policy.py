"""The retry and out-of-memory policy: what becomes of a task after its outcome.

A GPU task that runs out of memory is retried with the smaller batch its analyzer
suggests, then on the CPU when ``jobs.oom_cpu_fallback`` allows; other retriable
failures are retried up to ``jobs.max_attempts``. Pure: it decides, the scheduler writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kinod.jobs.tasks import Task, TaskOutcome


@dataclass(frozen=True)
class Decision:
    state: str  # done | failed | queued | cancelled
    options: dict[str, Any] | None = None
    note: str | None = None
    count_attempt: bool = True


def decide(task: Task, outcome: TaskOutcome, max_attempts: int, cpu_fallback: bool) -> Decision:
    """What happens to a task after its outcome: the retry and out-of-memory policy."""
    if outcome.status in ("done", "cancelled"):
        return Decision(outcome.status)
    oom = outcome.oom
    if oom is not None:
        if oom.retry_batch_size and task.on_gpu:
            note = f"CUDA out of memory at batch_size={oom.batch_size}; retrying with batch_size={oom.retry_batch_size}"
            return Decision("queued", {**task.options, "batch_size": oom.retry_batch_size}, note, False)
        if task.on_gpu and cpu_fallback:
            note = f"CUDA out of memory ({oom.message}); retrying on the CPU"
            return Decision("queued", {**task.options, "device": "cpu"}, note, False)
        why = "jobs.oom_cpu_fallback is off" if task.on_gpu else "it ran on the CPU"
        return Decision("failed", None, f"out of memory and no smaller retry left ({why})")
    if outcome.retriable and task.attempts < max_attempts:
        return Decision("queued", None, f"attempt {task.attempts} of {max_attempts} failed; retrying")
    return Decision("failed")
