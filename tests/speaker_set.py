"""The labelled speaker set (tests/data/speakers): WAV and RTTM readers and the diarization error rate.

DER here is the usual frame count (10 ms): missed speech + false alarm + speaker
confusion over reference speech, with overlapped speech scored (each overlapping
reference speaker counts) and no forgiveness collar, which is how pyannote reports its
figures; reference and hypothesis speakers are matched one-to-one to maximise their
common time (Hungarian assignment).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

SET = Path(__file__).resolve().parent / "data" / "speakers"
#: file -> reference RTTM (sample.wav: the pyannote.audio sample; the rest: AMI excerpts).
FILES = {
    "sample": "sample.rttm",
    "dev00": "ami_excerpts.rttm",
    "dev01": "ami_excerpts.rttm",
    "trn04": "ami_excerpts.rttm",
    "trn05": "ami_excerpts.rttm",
    "trn06": "ami_excerpts.rttm",
    "trn08": "ami_excerpts.rttm",
    "trn09": "ami_excerpts.rttm",
    "tst00": "ami_excerpts.rttm",
}


def load_wav(path: Path) -> np.ndarray:
    """Mono 16 kHz samples of a PCM16 or float32 WAV (the set holds only those)."""
    raw = path.read_bytes()
    pos, fmt, data = 12, None, b""
    while pos + 8 <= len(raw):
        cid, size = raw[pos : pos + 4], struct.unpack("<I", raw[pos + 4 : pos + 8])[0]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", raw[pos + 8 : pos + 24])
        elif cid == b"data":
            data = raw[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    assert fmt is not None and fmt[1] == 1 and fmt[2] == 16000, f"{path}: not mono 16 kHz"
    if fmt[0] == 3:
        return np.frombuffer(data, "<f4").astype(np.float32)
    return np.frombuffer(data, "<i2").astype(np.float32) / 32768.0


def load_rttm(path: Path, uri: str) -> list[tuple[float, float, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER" and f[1] == uri:
            out.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    return out


@dataclass
class Der:
    miss: float
    false_alarm: float
    confusion: float

    @property
    def total(self) -> float:
        return self.miss + self.false_alarm + self.confusion


def der(ref: list[tuple[float, float, str]], hyp: list[tuple[float, float, object]], duration: float) -> Der:
    n = int(np.ceil(duration / 0.01))
    rs = sorted({s for _, _, s in ref})
    hs = sorted({str(s) for _, _, s in hyp})
    r = np.zeros((n, len(rs)), dtype=bool)
    h = np.zeros((n, len(hs)), dtype=bool)
    for a, b, s in ref:
        r[round(a / 0.01) : round(b / 0.01), rs.index(s)] = True
    for a, b, s in hyp:
        h[round(a / 0.01) : round(b / 0.01), hs.index(str(s))] = True
    correct = np.zeros(n)
    if rs and hs:
        rows, cols = linear_sum_assignment(-(r.T.astype(np.float32) @ h.astype(np.float32)))
        for i, j in zip(rows, cols, strict=True):
            correct += r[:, i] & h[:, j]
    nr, nh = r.sum(axis=1), h.sum(axis=1)
    total = max(float(nr.sum()), 1.0)
    return Der(
        float(np.maximum(nr - nh, 0).sum()) / total,
        float(np.maximum(nh - nr, 0).sum()) / total,
        float((np.minimum(nr, nh) - correct).sum()) / total,
    )
