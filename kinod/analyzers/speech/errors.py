"""Errors the speech analyzer raises beyond the base contract."""

from __future__ import annotations

from kinod.analyzers.base import OutOfMemoryError


class GpuOutOfMemory(OutOfMemoryError):
    """CUDA ran out of memory; the scheduler may retry with ``retry_batch_size``, then on CPU.

    Why a class of its own: a scheduler must tell "the GPU was too full" (retry smaller,
    or elsewhere) from "this clip cannot be transcribed" (do not retry). The attributes
    say what to try next:

    * ``batch_size``: the batch size that failed;
    * ``retry_batch_size``: half of it, or ``None`` when it was already 1;
    * ``retry_on_cpu``: ``True`` when only a CPU run is left to try
      (set ``[analyzers.speech] device = "cpu"`` or the job's runtime device to "cpu").

    The message starts with ``"CUDA out of memory"`` for schedulers that only look at text.
    """

    def __init__(self, batch_size: int, detail: str = "") -> None:
        retry = batch_size // 2 if batch_size > 1 else None
        advice = f"retry with batch_size={retry}" if retry is not None else "retry on CPU (device='cpu')"
        message = f"CUDA out of memory in speech analyzer at batch_size={batch_size}: {advice}. {detail}"
        super().__init__(batch_size, message.strip())


def is_cuda_oom(exc: BaseException) -> bool:
    """CTranslate2 reports CUDA OOM as a RuntimeError whose text says "out of memory"."""
    text = str(exc).lower()
    return "out of memory" in text or "cudaerrormemoryallocation" in text or "cublas_status_alloc_failed" in text
