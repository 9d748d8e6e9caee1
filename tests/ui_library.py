"""The search test library, copied and extended for the browse UI's pages.

Adds ``CARD3`` to a copy of :func:`search_library.build_library` (so the shared one
stays as other tests expect it):

* ``A003C001.mov``: two people on screen (face markers per person), a marker that
  runs past the clip's end, a shop sign read as two OCR items while a sentence is said;
* ``jfk.flac``: the real sound file (no picture), for the audio player and waveform.
"""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

from export_sidecars import make_sidecar, marker
from media import FIXTURE_MEDIA, ffmpeg
from search_library import _span, _synthetic, build_library

from kinod.library.index.update import reindex


def _faces(names: list[tuple[str, str, float, float]]) -> dict:
    items = [{**_span(a, b), "track": i, "person": pid, "person_name": name,
              "best_image": f"faces/A003C001.mov/{pid}.jpg"} for i, (pid, name, a, b) in enumerate(names)]
    people = [{"id": pid, "name": name, "tracks": [i], "best_image": f"faces/A003C001.mov/{pid}.jpg"}
              for i, (pid, name, _, _) in enumerate(names)]
    return {"items": items, "summary": {"people": people}}


def two_people_sidecar(root: Path) -> dict:
    people = [("person-1", "Ann Lee", 0.5, 6.0), ("person-2", "Omar Haddad", 4.0, 10.0)]
    markers = [marker("face", int(a * 25), name, f"track {i}", duration=int((b - a) * 25))
               for i, (_, name, a, b) in enumerate(people)]
    markers.append(marker("problem", 260, "Crushed blacks", "shadows clipped", duration=25))  # past the end
    words = ["we", "open", "the", "blue", "heron", "bakery", "at", "six", "every", "morning"]
    speech = {"items": [{"start_s": 1.0, "end_s": 5.0, "text": " ".join(words), "speaker": "Speaker 1",
                         "words": [{"word": w, "start_s": 1.0 + 0.4 * i, "end_s": 1.3 + 0.4 * i}
                                   for i, w in enumerate(words)]}]}
    sc = _synthetic(
        "A003C001.mov", root / "CARD3", frames=275, markers=markers, faces=_faces(people), speech=speech,
        ocr={"items": [{**_span(1, 4), "text": "BLUE", "box": [40, 42, 70, 28]},
                       {**_span(1, 4), "text": "HERON BAKERY", "box": [120, 40, 200, 30]}]},
        shots={"items": [{**_span(0, 5.5), "thumbnail": "shot_0000000.jpg", "index": 0},
                         {**_span(5.5, 11), "thumbnail": "shot_0000137.jpg", "index": 1}]},
    )
    sc["source"]["card"] = "CARD3"
    return sc


def audio_sidecar(root: Path) -> dict:
    flac = root / "CARD3" / "jfk.flac"
    sc = make_sidecar(name="jfk.flac", folder=str(root / "CARD3"), rate=Fraction(25), frames=275)
    sc["probe"].update(has_video=False, width=None, height=None, codec="flac")
    sc["source"]["card"] = "CARD3"
    sc["source"]["path"] = str(flac)
    return sc


def build_ui_library(tmp: Path) -> dict[str, Path]:
    """A copy of the search library with CARD3, reindexed; returns the same keys as build_library."""
    base = build_library(tmp.parent / (tmp.name + "-base"))
    ws = {k: tmp / v.name for k, v in base.items() if k in ("root", "out", "state")}
    for k in ("root", "out", "state"):
        shutil.copytree(base[k], ws[k])
    cfg = tmp / "config.toml"
    text = base["config"].read_text()
    for k in ("root", "out", "state"):
        text = text.replace(str(base[k]), str(ws[k]))
    cfg.write_text(text)
    ws["config"] = cfg
    (ws["root"] / "CARD3").mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURE_MEDIA / "jfk.flac", ws["root"] / "CARD3" / "jfk.flac")
    out3 = ws["out"] / "CARD3"
    for d in ("faces/A003C001.mov", "keyframes/A003C001.mov"):
        (out3 / d).mkdir(parents=True, exist_ok=True)
    for pid, src in (("person-1", "testsrc"), ("person-2", "smptebars")):
        ffmpeg("-f", "lavfi", "-i", f"{src}=s=96x96:d=1", "-frames:v", "1", str(out3 / f"faces/A003C001.mov/{pid}.jpg"))
    for n, colour in (("0000000", "orange"), ("0000137", "teal")):
        ffmpeg("-f", "lavfi", "-i", f"color=c={colour}:s=320x180:d=1", "-frames:v", "1",
               str(out3 / f"keyframes/A003C001.mov/shot_{n}.jpg"))
    for sc in (two_people_sidecar(ws["root"]), audio_sidecar(ws["root"])):
        (out3 / f"{sc['source']['name']}.kino.json").write_text(json.dumps(sc))
    (out3 / "A003C001.mov.otio").write_text("{}")
    reindex(ws["state"], ws["out"])
    return ws
