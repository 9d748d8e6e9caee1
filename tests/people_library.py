"""A labelled library of people, generated: real stills moving over backgrounds, on two cards.

Used by the people tests and ``benchmarks/people.py``. Six people: Obama, Biden, Alex
Lacamoire, the astronaut and the cameraman of scikit-image's sample images, and Lin-Manuel
Miranda (only in the hamilton clip). Obama, Biden and Alex are each in three clips; the
references are other photos where the fixtures have them (obama.jpg and biden.jpg against
the two faces of two_people.jpg; Obama is also in the real hamilton clip) and mirrored,
recoloured, rescaled versions of the same still where they do not (Alex, the astronaut).
Card B holds a clip with no one and one with only the cameraman, a distractor for every query.
Truth is in frames, ``(first, last)`` inclusive, at 25 fps (hamilton: 30000/1001).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from media import FIXTURE_MEDIA, ffmpeg

RATE = 25
FRAMES = 100
HAMILTON = FIXTURE_MEDIA / "short_hamilton_clip.mp4"

#: Face boxes (x, y, w, h) in the stills, grown by a margin when cut out.
STILL_FACES = {
    "obama_b": ("two_people.jpg", (230, 30, 153, 197)),
    "biden_b": ("two_people.jpg", (780, 49, 156, 208)),
    "alex": ("alex-lacamoire.png", (178, 112, 145, 202)),
}


@dataclass
class Appearance:
    still: str  # a key of the stills made by :func:`make_stills`
    first: int
    last: int
    width: int = 130
    y: int = 60


@dataclass
class ClipSpec:
    card: str
    name: str
    people: dict[str, Appearance] = field(default_factory=dict)
    background: str = "color=c=0x304050"


#: person -> reference photo key (see :func:`make_stills`)
REFERENCES = {"obama": "obama_ref", "biden": "biden_ref", "alex": "alex_ref", "astronaut": "astronaut_ref"}

A = Appearance
CLIPS = [
    ClipSpec("A", "A001", {"obama": A("obama_b", 10, 69, y=40), "biden": A("biden_b", 40, 99, y=200)}),
    ClipSpec("A", "A002", {"alex": A("alex_b", 0, 59), "astronaut": A("astronaut_b", 50, 99, y=190)},
             background="color=c=0x506030"),
    ClipSpec("A", "A003", {}, background="testsrc2"),
    ClipSpec("B", "B001", {"biden": A("biden_b2", 20, 79), "cameraman": A("cameraman_b", 5, 50, y=200)}),
    ClipSpec("B", "B002", {"obama": A("obama_b2", 30, 99, width=110), "alex": A("alex_b2", 0, 40, y=200)},
             background="color=c=0x202020"),
    ClipSpec("B", "B003", {"alex": A("alex_b", 25, 74, width=150)}, background="color=c=0x605040"),
    ClipSpec("B", "B004", {"biden": A("biden_b", 0, 45), "astronaut": A("astronaut_b2", 55, 99)}),
    ClipSpec("B", "B005", {"cameraman": A("cameraman_b", 10, 89, width=150)}, background="color=c=0x403030"),
]  # fmt: skip

#: The real clip: Obama in the audience shot (frames 211-274, fixtures README), on card A.
HAMILTON_TRUTH = {"obama": [(211, 274)]}


def _cut(img: np.ndarray, box: tuple[int, int, int, int], margin: float = 0.35) -> np.ndarray:
    x, y, w, h = box
    mx, my = int(w * margin), int(h * margin)
    return img[max(0, y - my) : y + h + my, max(0, x - mx) : x + w + mx]


def make_stills(folder: Path) -> dict[str, Path]:
    """Face stills to composite (``*_b``) and reference photos (``*_ref``) as PNG files."""
    import skimage.data

    folder.mkdir(parents=True, exist_ok=True)
    src = {k: cv2.imread(str(FIXTURE_MEDIA / f)) for k, (f, _) in STILL_FACES.items()}
    faces = {k: _cut(src[k], box) for k, (_, box) in STILL_FACES.items()}
    astro = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    camera = cv2.cvtColor(skimage.data.camera(), cv2.COLOR_GRAY2BGR)
    faces["astronaut"] = _cut(astro, (178, 60, 90, 116))
    faces["cameraman"] = _cut(camera, (201, 120, 53, 73), 0.5)
    warm = np.array([0.85, 1.0, 1.15])
    out = {
        "obama_b": faces["obama_b"],
        "obama_b2": np.clip(faces["obama_b"] * 0.8, 0, 255),
        "biden_b": faces["biden_b"],
        "biden_b2": np.clip(faces["biden_b"] * warm, 0, 255),
        "alex_b": cv2.flip(faces["alex"], 1),
        "alex_b2": np.clip(cv2.flip(faces["alex"], 1) * warm, 0, 255),
        "astronaut_b": faces["astronaut"],
        "astronaut_b2": np.clip(faces["astronaut"] * 0.85, 0, 255),
        "cameraman_b": faces["cameraman"],
        "alex_ref": cv2.resize(faces["alex"], None, fx=1.4, fy=1.4),
        "astronaut_ref": cv2.resize(cv2.flip(faces["astronaut"], 1), None, fx=2.0, fy=2.0),
    }
    paths = {k: folder / f"{k}.png" for k in out}
    for k, img in out.items():
        cv2.imwrite(str(paths[k]), img.astype(np.uint8))
    paths["obama_ref"] = FIXTURE_MEDIA / "obama.jpg"
    paths["biden_ref"] = FIXTURE_MEDIA / "biden.jpg"
    return paths


def render_clip(path: Path, spec: ClipSpec, stills: dict[str, Path], rate: int = RATE, frames: int = FRAMES) -> Path:
    """``spec`` as a 640x360 H.264 clip: each face on screen exactly from ``first`` to ``last``."""
    sep = ":" if "=" in spec.background else "="
    inputs = ["-f", "lavfi", "-i", f"{spec.background}{sep}s=640x360:r={rate}"]
    graph, last = [], "0:v"
    for i, a in enumerate(spec.people.values(), 1):
        inputs += ["-loop", "1", "-framerate", str(rate), "-i", str(stills[a.still])]
        x0 = 40 + 250 * (i - 1)
        graph.append(f"[{i}:v]scale={a.width}:-2[f{i}]")
        graph.append(f"[{last}][f{i}]overlay=x='{x0}+2*(n-{a.first})':y={a.y}:enable='between(n,{a.first},{a.last})'"
                     f":shortest=0[v{i}]")  # fmt: skip
        last = f"v{i}"
    graph.append(f"[{last}]format=yuv420p[out]")
    ffmpeg(*inputs, "-filter_complex", ";".join(graph), "-map", "[out]", "-frames:v", str(frames),
           "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", str(path))  # fmt: skip
    return path


@dataclass
class Library:
    root: Path
    clips: dict[str, Path]  # clip name -> file
    cards: dict[str, str]  # clip name -> card
    truth: dict[str, dict[str, list[tuple[int, int]]]]  # person -> clip name -> ranges
    references: dict[str, Path]  # person -> photo


def make_library(root: Path, *, hamilton: bool = True) -> Library:
    """Render the cards under ``root/cards/{A,B}`` (hamilton linked onto card A); returns the truth."""
    stills = make_stills(root / "stills")
    clips: dict[str, Path] = {}
    cards: dict[str, str] = {}
    truth: dict[str, dict[str, list[tuple[int, int]]]] = {}
    for spec in CLIPS:
        folder = root / "cards" / spec.card
        folder.mkdir(parents=True, exist_ok=True)
        clips[spec.name] = render_clip(folder / f"{spec.name}.mp4", spec, stills)
        cards[spec.name] = spec.card
        for person, a in spec.people.items():
            truth.setdefault(person, {}).setdefault(spec.name, []).append((a.first, a.last))
    if hamilton:
        link = root / "cards" / "A" / "A004.mp4"
        link.symlink_to(HAMILTON)
        clips["A004"], cards["A004"] = link, "A"
        for person, ranges in HAMILTON_TRUTH.items():
            truth.setdefault(person, {})["A004"] = list(ranges)
    refs = {person: stills[key] for person, key in REFERENCES.items()}
    return Library(root, clips, cards, truth, refs)
