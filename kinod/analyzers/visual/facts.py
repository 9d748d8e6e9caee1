"""Picture facts of a shot that need no model: scale, camera motion, day/night, palette, description.

Why plain image statistics: they cost well under a millisecond per frame at 256 px, they
are explainable, and every one is marked with where it came from. Shot scale comes from
the largest face box when the faces analyzer ran (``scale_source = "faces"``); without
faces it is estimated from how far the picture's detail spreads and how dense it is
(``"picture"``; a small subject in a large empty frame is wide, fine detail everywhere
is wide, large smooth areas are close), overridden by landscape tags (``"tags"``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import cv2
import numpy as np

SCALES = ("extreme close-up", "close-up", "medium", "wide", "extreme wide")


def scale_from_face(face_h: float, frame_h: float) -> str:
    """Shot scale from the height of the largest face box as a share of the frame height.

    Bounds measured on the labelled stills of benchmarks/tags.py (faces analyzer boxes, brow
    to chin): waist-up "medium" shots put the face at 0.18-0.34 of the height, head-and-
    shoulders close-ups at about 0.5, a face filling the frame above 0.75, full figures under 0.16.
    """
    share = face_h / frame_h if frame_h else 0.0
    if share >= 0.75:
        return "extreme close-up"
    if share >= 0.42:
        return "close-up"
    if share >= 0.17:
        return "medium"
    if share >= 0.035:
        return "wide"
    return "extreme wide"


def _small_gray(bgr: np.ndarray, width: int = 256) -> np.ndarray:
    h, w = bgr.shape[:2]
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    if w <= width:
        return gray
    return cv2.resize(gray, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


def scale_from_picture(bgr: np.ndarray) -> tuple[str, dict[str, float]]:
    """Shot scale from the spread and density of edges; returns the scale and the measures."""
    gray = _small_gray(bgr)
    edges = cv2.Canny(gray, 60, 160) > 0
    density = float(edges.mean())
    detail = float(cv2.Laplacian(gray, cv2.CV_32F).var())
    if density < 0.002:
        return "medium", {"edge_density": round(density, 4), "extent": 0.0, "detail": round(detail, 1)}
    ys, xs = np.nonzero(edges)
    h, w = edges.shape
    x0, x1 = np.percentile(xs, [5, 95])
    y0, y1 = np.percentile(ys, [5, 95])
    extent = float((x1 - x0 + 1) * (y1 - y0 + 1) / (w * h))
    if extent < 0.08:
        scale = "extreme wide"  # a small subject in a large, plain frame
    elif extent < 0.3:
        scale = "wide"
    elif detail < 400:
        scale = "close-up"  # large smooth areas (skin, shallow focus) fill the frame
    elif detail < 900:
        scale = "medium"
    else:
        scale = "wide"  # fine detail everywhere: many small things in view
    return scale, {"edge_density": round(density, 4), "extent": round(extent, 3), "detail": round(detail, 1)}


def camera_motion(frames: Sequence[np.ndarray], threshold: float = 0.004) -> tuple[str, float]:
    """ "static" or "moving" from the median global shift between consecutive frames.

    Phase correlation finds the dominant translation (the background when the camera
    pans; ~0 when only a subject moves in a locked-off frame). The shift is a share of
    the picture width per sample.
    """
    if len(frames) < 2:
        return "static", 0.0
    grays = [np.float32(_small_gray(f, 160)) for f in frames]
    window = cv2.createHanningWindow(grays[0].shape[::-1], cv2.CV_32F)
    shifts = []
    for a, b in itertools.pairwise(grays):
        if a.shape != b.shape:
            continue
        (dx, dy), response = cv2.phaseCorrelate(a, b, window)
        if response < 0.2:  # no common picture to shift (new content, a flash): not a camera move
            continue
        shifts.append(float(np.hypot(dx, dy)) / a.shape[1])
    if not shifts:
        return "static", 0.0
    motion = float(np.median(shifts))
    return ("moving" if motion > threshold else "static"), round(motion, 4)


def _inside_bars(gray: np.ndarray) -> np.ndarray:
    """The picture without black letterbox or pillarbox bars (rows and columns that are all near black)."""
    rows = np.nonzero(gray.max(axis=1) > 24)[0]
    cols = np.nonzero(gray.max(axis=0) > 24)[0]
    if len(rows) == 0 or len(cols) == 0:
        return gray
    return gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def day_night(bgr: np.ndarray, night_luma: float = 0.22) -> str:
    """ "night" when the picture is dark overall with few bright areas, else "day"."""
    gray = _inside_bars(_small_gray(bgr)).astype(np.float32) / 255.0
    mean = float(gray.mean())
    bright = float((gray > 0.7).mean())
    return "night" if mean < night_luma and bright < 0.1 else "day"


def palette(bgr: np.ndarray, colours: int = 5) -> list[dict[str, object]]:
    """The picture's main colours (k-means on a 64-px thumbnail), largest share first."""
    h, w = bgr.shape[:2]
    small = cv2.resize(bgr, (64, max(1, round(h * 64 / w))), interpolation=cv2.INTER_AREA)
    pixels = small.reshape(-1, 3).astype(np.float32)
    k = min(colours, len(pixels))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    cv2.setRNGSeed(7)
    _c, labels, centres = cv2.kmeans(pixels, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    counts = np.bincount(labels.ravel(), minlength=k)
    order = np.argsort(-counts)
    out = []
    for i in order:
        b, g, r = (round(float(v)) for v in centres[i])
        out.append({"hex": f"#{r:02x}{g:02x}{b:02x}", "share": round(float(counts[i] / counts.sum()), 3)})
    return out


def describe(
    scale: str, camera: str, when: str, tags: Sequence[str], editorial: Sequence[str], people: int | None
) -> str:
    """One line composed from the facts (marked ``generated_from: "tags"`` by the caller)."""
    words = [f"{scale.capitalize()} {camera} shot"]
    if people:
        words.append(f"{people} {'person' if people == 1 else 'people'}")
    setting = [e for e in editorial if e in ("indoor", "outdoor", "city", "nature")]
    things = [e for e in editorial if e not in ("indoor", "outdoor", "people")]
    body = ", ".join(words)
    if setting:
        body += f", {setting[0]}"
    body += f", {when}"
    if tags:
        body += ": " + ", ".join(tags[:3])
    if things:
        body += f" ({', '.join(dict.fromkeys(things))})"
    return body
