"""Slots: what the machine may run at once, and the accounting of what is taken.

At most ``jobs.cpu_workers`` CPU slots and ``jobs.gpu_workers`` GPU slots are taken at
once, and GPU tasks never reserve more GPU memory than there is. Why apart from the
scheduler: the limits are worked out once from the machine (``nvidia-smi``) and the
config, and the accounting is plain arithmetic that reads on its own.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass

from kinod.jobs.rows import QueuedTask
from kinod.jobs.tasks import Need, Task


@dataclass(frozen=True)
class Limits:
    cpu_slots: int
    gpu_slots: int = 0
    #: GPU memory that may be reserved, MiB; 0 = unknown (only slots limit GPU tasks).
    gpu_memory_mb: int = 0

    @property
    def has_gpu(self) -> bool:
        return self.gpu_slots > 0


def gpu_memory_mb() -> int | None:
    """Total memory of the first NVIDIA GPU, or None when there is none (or no driver tools)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run(
            [smi, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else ""
    return int(float(first)) if first.replace(".", "", 1).isdigit() else None


def limits_for(cpu_workers: int, gpu_workers: int, device: str, configured_gpu_mb: int) -> tuple[Limits, str]:
    """Slots for this machine under ``[jobs]``, and a sentence saying why."""
    if device == "cpu" or gpu_workers == 0:
        return Limits(cpu_workers), "GPU not used (jobs.device = 'cpu' or jobs.gpu_workers = 0)"
    total = gpu_memory_mb()
    if total is None:
        why = "no NVIDIA GPU found (nvidia-smi)"
        if device == "cuda":
            why += "; jobs.device = 'cuda' but GPU tasks will run on the CPU"
        return Limits(cpu_workers), why
    mem = configured_gpu_mb or total
    return Limits(cpu_workers, gpu_workers, mem), f"GPU with {total} MiB, planning for {mem} MiB"


class Slots:
    """CPU slots, GPU slots and GPU memory in use."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.cpu = 0
        self.gpu = 0
        self.gpu_mem = 0

    def cpu_need(self, task: Task) -> int:
        return max(1, min(task.need.cpu, self.limits.cpu_slots))

    def fits(self, task: Task) -> bool:
        if task.on_gpu:
            mem_ok = not self.limits.gpu_memory_mb or self.gpu_mem + task.need.gpu_mem_mb <= self.limits.gpu_memory_mb
            return self.gpu + max(1, task.need.gpu) <= self.limits.gpu_slots and mem_ok
        return self.cpu + self.cpu_need(task) <= self.limits.cpu_slots

    def take(self, task: Task) -> None:
        if task.on_gpu:
            self.gpu += max(1, task.need.gpu)
            self.gpu_mem += task.need.gpu_mem_mb
        else:
            self.cpu += self.cpu_need(task)

    def give(self, task: Task) -> None:
        if task.on_gpu:
            self.gpu -= max(1, task.need.gpu)
            self.gpu_mem -= task.need.gpu_mem_mb
        else:
            self.cpu -= self.cpu_need(task)


def task_from_row(row: QueuedTask, limits: Limits) -> Task:
    """A queued store row as a task; it runs on the GPU only where these limits have room for it."""
    options = dict(row.options)
    need = Need(row.cpu, row.gpu, row.gpu_mem_mb)
    on_gpu = (
        need.gpu > 0
        and limits.has_gpu
        and options.get("device") != "cpu"
        and (not limits.gpu_memory_mb or need.gpu_mem_mb <= limits.gpu_memory_mb)
    )
    return Task(
        key=row.key,
        kind=row.kind,
        fingerprint=row.fingerprint,
        path=row.path,
        analyzer=row.analyzer,
        need=need,
        priority=row.priority,
        attempts=row.attempts,
        device="cuda" if on_gpu else "cpu",
        options=options,
        card=row.card,
        version=row.version,
        config_hash=row.config_hash,
        model_sha256=row.model_sha256,
        files=json.loads(row.parts) if row.parts else None,
    )
