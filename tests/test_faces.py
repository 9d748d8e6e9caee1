"""Faces: tracks, identities, find-person on real footage and on generated composites."""

from __future__ import annotations

import hashlib
import json
import stat
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from faces_media import face_crop, moving_face_clip
from media import FIXTURE_MEDIA

from kinod.analyzers.faces.analysis import ClipFaces, analyse
from kinod.analyzers.faces.backends import build_stack
from kinod.analyzers.faces.config import FacesConfig
from kinod.analyzers.faces.find_person import FindPersonError, find_person, match_ranges, reference_embedding, score
from kinod.analyzers.faces.sampler import sample_frames
from kinod.analyzers.faces.types import iou

HAMILTON = FIXTURE_MEDIA / "short_hamilton_clip.mp4"
CUTS = (20, 82, 211)  # measured (fixtures README §C)
CFG = FacesConfig()


@pytest.fixture(scope="module")
def stack():
    return build_stack(CFG)


@pytest.fixture(scope="module")
def hamilton(stack) -> ClipFaces:
    frames = sample_frames(HAMILTON, Fraction(30000, 1001), 640, 360, CFG.width, CFG.sample_fps)
    return analyse(frames, stack, CFG, 275)


@pytest.fixture(scope="module")
def obama_search(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, str]:
    out = tmp_path_factory.mktemp("obama-matches")
    before = hashlib.sha256(HAMILTON.read_bytes()).hexdigest()
    meta = find_person(FIXTURE_MEDIA / "obama.jpg", [HAMILTON], out, CFG, crops_fps=2.0)
    return meta, out, before


def _ref(stack, name: str) -> np.ndarray:
    return reference_embedding(FIXTURE_MEDIA / name, stack)[0]


def test_reference_photo_facts(stack) -> None:
    """obama.jpg: one face where face_recognition's HOG finds it (top 142, right 617, bottom 409, left 349)."""
    vec, box = reference_embedding(FIXTURE_MEDIA / "obama.jpg", stack)
    x, y, w, h = box
    assert iou((x, y, x + w, y + h), (349, 142, 617, 409)) > 0.5
    assert vec.shape == (512,) and abs(float(np.linalg.norm(vec)) - 1) < 1e-4
    # biden.jpg does not match obama.jpg; in two_people.jpg the left face is Obama, the right Biden.
    assert float(vec @ _ref(stack, "biden.jpg")) < CFG.match_possible
    img = cv2.imread(str(FIXTURE_MEDIA / "two_people.jpg"))
    faces = sorted(stack.detect(img), key=lambda f: f.box[0])
    assert len(faces) == 2
    left, right = (float(vec @ stack.embed(img, f)) for f in faces)
    assert left >= CFG.match_sure > right


def test_hamilton_tracks_follow_shots(hamilton: ClipFaces) -> None:
    assert hamilton.cuts and all(any(abs(c - t) <= 2 for c in hamilton.cuts) for t in CUTS)
    for t in hamilton.tracks:
        # Cuts are placed half-way between samples: a track may overrun one by up to 2 frames.
        assert not any(t.start + 2 < c <= t.end - 2 for c in CUTS), f"track {t.id} {t.start}-{t.end} spans a cut"
        assert len(t.boxes) == len(t.interpolated) == t.end - t.start + 1
        assert set(t.interpolated) <= {"0", "1"}
    last_shot = [t for t in hamilton.tracks if t.start >= 209]
    assert len(last_shot) >= 3  # Barack and Michelle Obama and others in the audience
    assert all(abs(t.start - 211) <= 2 and abs(t.end - 274) <= 2 for t in last_shot)


def test_hamilton_obama_separated_by_track(stack, hamilton: ClipFaces) -> None:
    ref = _ref(stack, "obama.jpg")
    scores = {t.id: float(t.embedding @ ref) for t in hamilton.tracks}
    best = max(scores, key=scores.get)
    track = next(t for t in hamilton.tracks if t.id == best)
    assert abs(track.start - 211) <= 2 and abs(track.end - 274) <= 2
    others = [v for k, v in scores.items() if k != best]
    assert scores[best] - max(others) > 0.08


def test_find_person_obama_on_hamilton(obama_search: tuple[dict, Path, str]) -> None:
    meta, out, before = obama_search
    assert meta["errors"] == []
    (clip,) = meta["clips"]
    (r,) = clip["ranges"]
    assert abs(r["start_frame"] - 211) <= 2 and abs(r["end_frame"] - 1 - 274) <= 2
    assert r["start_frame"] >= 209  # nothing in the earlier shots
    assert r["confidence"] in ("sure", "possible") and r["start_tc"] and r["end_s"] > r["start_s"]
    assert meta["thresholds"]["possible"] == CFG.match_possible and meta["model"]["sha256"]
    assert json.loads((out / "metadata.json").read_text()) == meta
    # Images: the best face and crops, private.
    best = out / r["images"]["best"]
    assert best.is_file() and r["images"]["crops"]
    assert stat.S_IMODE(best.stat().st_mode) == 0o600
    # The cut: as many frames as the range (within one), the original untouched.
    with av.open(str(out / r["clip"])) as c:
        n = sum(1 for _ in c.decode(c.streams.video[0]))
    assert abs(n - (r["end_frame"] - r["start_frame"])) <= 1
    assert hashlib.sha256(HAMILTON.read_bytes()).hexdigest() == before


def test_cut_starts_on_the_asked_frame(obama_search: tuple[dict, Path, str]) -> None:
    """The cut's first picture is the clip's frame start_frame (re-encoded range, frame-accurate)."""
    meta, out, _ = obama_search
    r = meta["clips"][0]["ranges"][0]
    frames = {f.index: f.image for f in sample_frames(HAMILTON, Fraction(30000, 1001), 640, 360, 640, 30)}
    with av.open(str(out / r["clip"])) as c:
        first = next(c.decode(c.streams.video[0])).to_ndarray(format="bgr24")
    diffs = {i: float(np.abs(frames[i].astype(int) - first.astype(int)).mean()) for i in range(205, 220)}
    assert min(diffs, key=diffs.get) == r["start_frame"]


@pytest.mark.parametrize("photo", ["biden.jpg", "alex-lacamoire.png"])
def test_other_people_are_not_found_on_hamilton(stack, hamilton: ClipFaces, photo: str) -> None:
    """Never "sure": Miranda may be a "possible" Alex (raw cosine 0.50, above Obama's own 0.46)."""
    tracks = [t for t in hamilton.tracks if t.embedding is not None]
    scores = score(_ref(stack, photo), np.stack([t.embedding for t in tracks]), CFG)
    assert [r for r in match_ranges(tracks, scores, CFG) if r.confidence == "sure"] == []


def test_bad_reference_photos(stack, tmp_path: Path) -> None:
    with pytest.raises(FindPersonError, match="no face"):
        reference_embedding(_write(tmp_path / "wall.png", np.full((300, 400, 3), 128, np.uint8)), stack)
    with pytest.raises(FindPersonError, match=r"2 faces.*x=\d+, y=\d+, w=\d+, h=\d+.*x=\d+"):
        reference_embedding(FIXTURE_MEDIA / "two_people.jpg", stack)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    with pytest.raises(FindPersonError, match=r"corrupt\.jpg: not a readable image"):
        reference_embedding(corrupt, stack)
    with pytest.raises(FindPersonError, match="cannot read"):
        reference_embedding(tmp_path / "absent.jpg", stack)


def _write(path: Path, image: np.ndarray) -> Path:
    cv2.imwrite(str(path), image)
    return path


def test_moving_face_gives_one_track_with_the_right_ends(stack, tmp_path: Path) -> None:
    face = face_crop("obama.jpg", (300, 40, 360, 420), tmp_path / "face.png")
    clip = moving_face_clip(tmp_path / "moving.mp4", face, start_s=1.0, end_s=3.0)
    faces = analyse(sample_frames(clip, Fraction(25), 640, 360, 640, CFG.sample_fps), stack, CFG, 100)
    (t,) = faces.tracks
    interval = 25 / CFG.sample_fps
    assert abs(t.start - 25) <= interval and abs(t.end - 75) <= interval
    xs = [b[0] for b in t.boxes]
    assert xs[-1] - xs[0] > 100  # it moved across the frame
    assert "1" in t.interpolated and "0" in t.interpolated


def test_two_people_two_tracks_and_obama_found(tmp_path: Path) -> None:
    photo = face_crop("two_people.jpg", (0, 0, 1126, 661), tmp_path / "two.png")
    clip = moving_face_clip(tmp_path / "two.mp4", photo, start_s=0.5, end_s=3.5, width=420)
    meta = find_person(FIXTURE_MEDIA / "obama.jpg", [clip], tmp_path / "out", CFG, cut_clips=False)
    (c,) = meta["clips"]
    assert c["tracks"] == 2
    (r,) = c["ranges"]
    assert abs(r["start_frame"] - 13) <= 3 and abs(r["end_frame"] - 1 - 87) <= 3


def test_faceless_tiny_and_dark_clips_do_not_crash(stack, tmp_path: Path) -> None:
    from media import cuts_clip

    empty = cuts_clip(tmp_path / "empty.mp4", [("testsrc2", 30)], size="640x360", audio=False)
    assert analyse(sample_frames(empty, Fraction(25), 640, 360, 640, 10), stack, CFG, 30).tracks == []
    face = face_crop("obama.jpg", (300, 40, 360, 420), tmp_path / "face.png")
    tiny = moving_face_clip(tmp_path / "tiny.mp4", face, start_s=0.0, end_s=2.0, width=20, seconds=2)
    dark = moving_face_clip(
        tmp_path / "dark.mp4", face, start_s=0.0, end_s=2.0, seconds=2, background="color=c=black", brightness=-0.7
    )
    for clip in (tiny, dark):
        result = analyse(sample_frames(clip, Fraction(25), 640, 360, 640, 10), stack, CFG, 50)
        assert len(result.tracks) <= 1  # found as one face, or (below the size floor / too dark) not at all


def test_hamilton_identities(stack, hamilton: ClipFaces) -> None:
    """Tracks cluster into people: Obama is a person of his own, apart from everyone on stage."""
    from kinod.analyzers.faces.identities import cluster

    tracks = [t for t in hamilton.tracks if t.embedding is not None]
    labels = cluster([t.embedding for t in tracks], CFG.identity_threshold)
    ref = _ref(stack, "obama.jpg")
    obama = max(range(len(tracks)), key=lambda i: float(tracks[i].embedding @ ref))
    assert labels.count(labels[obama]) == 1
    assert len(set(labels)) >= 4  # the audience shot alone shows four different people
    last_shot = [labels[i] for i, t in enumerate(tracks) if t.start >= 209]
    assert len(set(last_shot)) == len(last_shot)
