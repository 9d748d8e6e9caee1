"""``kinod doctor`` checks for the speech analyzer: what is installed, verified and usable.

:meth:`SpeechAnalyzer.checks` (the ``Analyzer.checks`` hook that ``kinod doctor`` calls)
returns :func:`checks`; :func:`doctor` is the same with a ``"speech: "`` prefix, for callers
that list several analyzers' rows themselves. Neither loads a model nor writes anything:
the configured model is *verified* (sha256 of the assembled copy, or of the package files
it will be assembled from), never assembled here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from kinod.analyzers.base import AnalyzerError, RuntimeContext
from kinod.analyzers.speech.config import SpeechConfig
from kinod.analyzers.speech.models import (
    BUNDLED,
    MODEL_KEY,
    BundledModel,
    bundled_for,
    installed_version,
    part_paths,
    resolve_model,
    silero_vad_path,
    verify_dir,
)
from kinod.analyzers.speech.speakers import Ge2eBackend, PyannoteBackend, ResemblyzerBackend
from kinod.analyzers.speech.transcribe import WhisperXBackend, cuda_device_count

Check = tuple[str, bool, str]


def doctor(
    config: SpeechConfig | None = None, runtime: RuntimeContext | None = None, verify: bool = True
) -> list[Check]:
    """(check name, ok, detail) rows named "speech: ..."; see :func:`checks`."""
    return [(f"speech: {name}", ok, detail) for name, ok, detail in checks(config, runtime, verify)]


def checks(
    config: SpeechConfig | None = None, runtime: RuntimeContext | None = None, verify: bool = True
) -> list[Check]:
    """(check name, ok, detail) rows. ``verify`` hashes the configured model's files (~150 MB, <1 s).

    Never raises and never downloads: every failure becomes a row that says what to do.
    """
    cfg = config or SpeechConfig()
    rt = runtime or RuntimeContext(Path("var"))
    rows: list[Check] = []

    fw = installed_version("faster-whisper")
    rows.append(
        (
            "faster-whisper",
            fw == "1.2.1",
            f"{fw} (pinned 1.2.1)" if fw else "not installed: pip install faster-whisper==1.2.1",
        )
    )
    ct2 = installed_version("ctranslate2")
    gpus = cuda_device_count()
    rows.append(("ctranslate2", ct2 is not None, f"{ct2 or 'not installed'}; CUDA devices: {gpus}"))
    try:
        rows.append(("Silero VAD (bundled with faster-whisper)", True, f"{silero_vad_path()}: sha256 ok"))
    except AnalyzerError as exc:
        rows.append(("Silero VAD (bundled with faster-whisper)", False, str(exc)))

    for model in BUNDLED.values():
        versions = [(d, v, installed_version(d)) for d, v in model.distributions]
        ok = all(have == want for _, want, have in versions)
        detail = ", ".join(f"{d} {have or 'missing'} (pinned {want})" for d, want, have in versions)
        wanted = bundled_for(cfg.model) is model
        name = f"bundled model {model.name!r}" + (" (configured)" if wanted else "")
        rows.append((name, ok or not wanted, detail))

    if verify:
        rows.append(_model_row(cfg, rt))

    device = cfg.device or rt.device
    runs_on = "cuda float16" if device != "cpu" and gpus else "cpu int8"
    detail = (
        f"{device!r}: runs on {runs_on}"
        if cfg.compute_type == "auto"
        else f"{device!r}, compute_type {cfg.compute_type!r}"
    )
    rows.append(("device", not (device == "cuda" and gpus == 0), detail))

    if cfg.backend == "whisperx":
        missing = WhisperXBackend.missing(cfg.whisperx_align_model)
        rows.append(("whisperx backend", not missing, "; ".join(missing) or "whisperx and the alignment model present"))

    kind = cfg.speakers
    if kind == "off":
        rows.append(("speakers", True, "off"))
    elif kind in ("auto", "mfcc"):
        rows.append(("speakers", True, f"{kind}: mfcc (numpy MFCC + pitch clustering, no weights)"))
    elif kind == "ge2e":
        problem = Ge2eBackend.missing()
        rows.append(("speakers", problem is None, problem or "ge2e: GE2E and Silero VAD weights present, sha256 ok"))
    elif kind == "resemblyzer":
        problem = ResemblyzerBackend.missing()
        rows.append(("speakers", problem is None, problem or "resemblyzer installed"))
    else:
        missing = PyannoteBackend(cfg.pyannote_pipeline).missing()
        rows.append(("speakers", not missing, "; ".join(missing) or "pyannote pipeline present"))
    return rows


def _model_row(cfg: SpeechConfig, rt: RuntimeContext) -> Check:
    """Verify the configured model without assembling it (doctor writes nothing)."""
    bundled = bundled_for(cfg.model)
    try:
        if bundled is None:
            resolved = resolve_model(cfg.model, rt.models_dir, cfg.model_sha256)
            return (MODEL_KEY, True, f"{resolved.path}: model.bin {resolved.sha256[:12]}…")
        target = rt.models_dir / bundled.dir_name
        if target.is_dir() and not verify_dir(target, bundled.sha256):
            return (MODEL_KEY, True, f"{target}: every file's sha256 verified")
        _verify_sources(bundled)
        state = "copy failed verification; it" if target.is_dir() else "it"
        return (MODEL_KEY, True, f"package files verified; {state} will be assembled into {target} on first use")
    except AnalyzerError as exc:
        return (MODEL_KEY, False, str(exc))


def _verify_sources(model: BundledModel) -> None:
    for name, paths in part_paths(model).items():
        digest = hashlib.sha256()
        for path in paths:
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
        if digest.hexdigest() != model.sha256[name]:
            raise AnalyzerError(
                f"{MODEL_KEY} = {model.name!r}: the installed package files for {name} do not match the pinned "
                f"sha256 (tampered or not {' '.join(model.requirements)}); reinstall them"
            )
