"""Read a PyTorch state dict without torch: a restricted unpickler that rebuilds tensors as numpy.

Why: the classifier's weights ship as a ``.pth`` file, but making every kinod install
carry a full torch (hundreds of MB, CUDA libraries) for one read of one file is out of
proportion. A state dict is a pickle of an ``OrderedDict`` of tensors whose storages
follow the pickle (legacy format) or sit in a zip (torch >= 1.6). The unpickler below
allows only the handful of globals a state dict uses, so a tampered file cannot run
code; anything else is an error that names the file.
"""

from __future__ import annotations

import collections
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

_DTYPES: dict[str, Any] = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class StateDictError(ValueError):
    """The file is not a state dict this reader understands (names the file)."""


class _StorageType:
    def __init__(self, name: str) -> None:
        self.name = name


def _rebuild(storage: Any, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any) -> tuple:
    return ("tensor", storage, offset, tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    """Allows only what a plain state dict needs; records storage references."""

    def __init__(self, fh: BinaryIO, path: Path) -> None:
        super().__init__(fh)
        self.path = path
        self.storages: dict[str, str] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise StateDictError(f"{self.path}: not a plain state dict (refuses to load {module}.{name})")

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
            raise StateDictError(f"{self.path}: unexpected persistent id in the pickle")
        storage_type, key = pid[1], str(pid[2])
        dtype = storage_type.name if isinstance(storage_type, _StorageType) else str(storage_type)
        self.storages[key] = dtype
        return key


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """All tensors of a ``.pth`` state dict as numpy arrays (copies, C-contiguous)."""
    try:
        if zipfile.is_zipfile(path):
            return _load_zip(path)
        with open(path, "rb") as fh:
            return _load_legacy(fh, path)
    except (pickle.UnpicklingError, EOFError, struct.error, KeyError, ValueError, TypeError) as e:
        if isinstance(e, StateDictError):
            raise
        raise StateDictError(f"{path}: cannot read the state dict ({type(e).__name__}: {e})") from None


def _load_legacy(fh: BinaryIO, path: Path) -> dict[str, np.ndarray]:
    for _ in range(3):  # magic number, protocol version, system info
        pickle.Unpickler(fh).load()
    up = _Unpickler(fh, path)
    obj = up.load()
    keys = pickle.Unpickler(fh).load()
    data: dict[str, np.ndarray] = {}
    for key in keys:
        (count,) = struct.unpack("<q", fh.read(8))
        dtype = np.dtype(_DTYPES[up.storages[str(key)]])
        raw = fh.read(count * dtype.itemsize)
        if len(raw) != count * dtype.itemsize:
            raise StateDictError(f"{path}: truncated tensor data")
        data[str(key)] = np.frombuffer(raw, dtype=dtype)
    return _tensors(obj, data, path)


def _load_zip(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as zf:
        pkl = next((n for n in zf.namelist() if n.endswith("data.pkl")), None)
        if pkl is None:
            raise StateDictError(f"{path}: zip has no data.pkl")
        prefix = pkl[: -len("data.pkl")]
        with zf.open(pkl) as fh:
            up = _Unpickler(fh, path)  # type: ignore[arg-type]
            obj = up.load()
        data = {
            key: np.frombuffer(zf.read(f"{prefix}data/{key}"), dtype=np.dtype(_DTYPES[dtype]))
            for key, dtype in up.storages.items()
        }
    return _tensors(obj, data, path)


def _tensors(obj: Any, data: dict[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    if not isinstance(obj, dict):
        raise StateDictError(f"{path}: the pickle is not a dict of tensors")
    out: dict[str, np.ndarray] = {}
    for name, t in obj.items():
        if isinstance(t, dict):  # a checkpoint that nests its state dict: {"model_state": {...}, "step": n}
            out.update({f"{name}.{k}": v for k, v in _tensors(t, data, path).items()})
            continue
        if not (isinstance(t, tuple) and t and t[0] == "tensor"):
            continue
        _, key, offset, size, stride = t
        flat = data[str(key)][offset:]
        if not size:
            out[name] = flat[:1].reshape(()).copy()
            continue
        strides = [s * flat.itemsize for s in stride]
        out[name] = np.ascontiguousarray(np.lib.stride_tricks.as_strided(flat, shape=size, strides=strides))
    return out
