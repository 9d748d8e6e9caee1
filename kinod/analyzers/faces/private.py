"""Files holding faces or embeddings: written atomically and readable by the owner only (0600).

Why not :mod:`kinod.media.fsutil`: its files are 0644 for NLEs and sync jobs to read; a face
image or an embedding is biometric data, so the temp file is created 0600 and renamed.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np


def write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_private_json(path: Path, data: Any) -> None:
    write_private(path, (json.dumps(data, indent=1) + "\n").encode())


def write_private_jpeg(path: Path, image: np.ndarray, quality: int = 92) -> None:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"{path}: cannot encode the face image")
    write_private(path, buf.tobytes())
