"""OCR on the labelled pictures (benchmarks/sets/ocr): character and line accuracy, per kind.

    .venv/bin/python benchmarks/ocr.py

Rendered slates, signs, lower thirds, burned-in timecode windows, captions and documents
(drawn at run time), and real frames of fixture clips, each with its exact text lines. Each
picture is read once by the engine; the analyzer's line building (joining boxes on one line,
dropping fragments, taking timecode windows apart) is then applied for several settings.
Line accuracy = expected lines read exactly; character accuracy = 1 - edit distance between the
expected and the read text (lines joined with newlines, reading order) / expected length;
timecode = windows recognised as ``burned_in_tc`` with the right label. The row "engine boxes"
is the engine's boxes as they come (no spaces put back, no joining, no timecode handling). Even ids tune, odd ids
are held out.
"""

from __future__ import annotations

import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kinod.analyzers.base import RuntimeContext  # noqa: E402
from kinod.analyzers.ocr import OcrAnalyzer, OcrConfig, lines  # noqa: E402
from kinod.analyzers.ocr.engine import TextBox  # noqa: E402

SET = ROOT / "benchmarks" / "sets" / "ocr" / "pictures.toml"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "media"
FONTS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))


def _font(name: str, size: int) -> Any:
    from PIL import ImageFont

    for d in FONTS:
        if (d / name).is_file():
            return ImageFont.truetype(str(d / name), size)
    raise SystemExit(f"font {name} missing (apt install fonts-dejavu-core fonts-liberation)")


def _background(bg: str) -> np.ndarray:
    if bg.startswith("skimage:"):
        import skimage

        image = cv2.imread(str(Path(skimage.__file__).parent / "data" / bg.split(":", 1)[1]))
        return cv2.resize(image, (1280, 720), interpolation=cv2.INTER_CUBIC)
    if bg == "testsrc":
        x = np.linspace(0, 255, 1280, dtype=np.uint8)
        image = np.dstack([np.tile(x, (720, 1)), np.tile(x[::-1], (720, 1)), np.full((720, 1280), 128, np.uint8)])
        for i in range(0, 1280, 160):
            image[:, i : i + 80] //= 2
        return np.ascontiguousarray(image)
    rgb = tuple(int(bg[i : i + 2], 16) for i in (1, 3, 5))
    return np.full((720, 1280, 3), rgb[::-1], np.uint8)


def build(row: dict[str, Any]) -> np.ndarray:
    """The picture: a fixture frame, or the drawn one (box, text, then rotation, blur, JPEG)."""
    if "src" in row:
        clip, _, index = row["src"].split(":", 1)[1].rpartition(":")
        cap = cv2.VideoCapture(str(FIXTURES / clip))
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        ok, image = cap.read()
        cap.release()
        if not ok:
            raise SystemExit(f"{row['src']}: cannot read it")
        return cv2.resize(image, (1280, 720), interpolation=cv2.INTER_AREA)
    from PIL import Image, ImageDraw

    canvas = Image.fromarray(cv2.cvtColor(_background(row["bg"]), cv2.COLOR_BGR2RGB))
    draw = ImageDraw.Draw(canvas)
    if "box" in row:
        x, y, w, h, colour = row["box"]
        draw.rectangle([x, y, x + w, y + h], fill=colour)
    for text, font, size, x, y, colour in row["draws"]:
        draw.text((x, y), text, font=_font(font, size), fill=colour)
    image = cv2.cvtColor(np.asarray(canvas), cv2.COLOR_RGB2BGR)
    if row.get("rotate"):
        m = cv2.getRotationMatrix2D((640, 360), row["rotate"], 1.0)
        image = cv2.warpAffine(image, m, (1280, 720), borderMode=cv2.BORDER_REPLICATE)
    if row.get("blur"):
        image = cv2.GaussianBlur(image, (0, 0), row["blur"])
    if row.get("jpeg"):
        _ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, row["jpeg"]])
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return image


def _distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def settle(raw: list[TextBox], cfg: OcrConfig, h: int, joined: bool) -> tuple[list[str], list[str]]:
    """(text lines, timecode labels) as the analyzer would keep them at ``cfg``."""
    if not joined:
        return [t.text for t in raw if t.confidence >= cfg.min_confidence], []
    found = lines.kept(lines.join_lines(raw, cfg.line_gap), cfg.min_height * h, cfg.min_confidence)
    text = [t.text for t in found if lines.burned_in_tc(t.text) is None]
    return text, [tc for t in found if (tc := lines.burned_in_tc(t.text)) is not None]


def measure(reads: list[tuple[dict[str, Any], list[TextBox], int]], cfg: OcrConfig, joined: bool = True) -> str:
    exact = want_lines = dist = chars = tc_right = tc_want = extra = 0
    for row, raw, h in reads:
        got, tcs = settle(raw, cfg, h, joined)
        want = row["lines"]
        if not joined and row.get("tc"):
            want = [*want, row["tc"]]  # the engine alone reads the window as text at best
        exact += sum(line in got for line in want)
        want_lines += len(want)
        extra += sum(line not in want for line in got)
        dist += _distance("\n".join(want), "\n".join(got))
        chars += max(1, len("\n".join(want)))
        if row.get("tc") and joined:
            tc_want += 1
            tc_right += tcs == [row["tc"]]
    tc = f"{tc_right}/{tc_want}" if joined else "-"
    return (f"lines {exact}/{want_lines} = {exact / want_lines:.1%}  chars {1 - dist / chars:.1%}  "
            f"extra lines {extra}  timecode {tc}")  # fmt: skip


def main() -> None:
    rows = tomllib.loads(SET.read_text("utf-8"))["p"]
    with tempfile.TemporaryDirectory() as tmp:
        a = OcrAnalyzer(OcrConfig(min_confidence=0.0, min_height=0.0), RuntimeContext(Path(tmp)))
        engine = a._load()
        reads = []
        raws = []
        for row in rows:
            image = build(row)
            reads.append((row, engine.read(image), image.shape[0]))
            raws.append((row, engine.read(image, restore_spaces=False), image.shape[0]))
    default = OcrConfig()
    for half, keep in (("tune (even ids)", 0), ("held-out (odd ids)", 1)):
        part = [r for r in reads if r[0]["id"] % 2 == keep]
        print(f"\n== {half}: {len(part)} pictures")
        raw = [r for r in raws if r[0]["id"] % 2 == keep]
        print(f"  engine boxes as they come: {measure(raw, default, joined=False)}")
        for gap in (0.8, 1.0, 1.4, 2.0):
            for conf in (0.5, 0.6, 0.8):
                cfg = default.model_copy(update={"line_gap": gap, "min_confidence": conf})
                mark = " <- default" if (gap, conf) == (default.line_gap, default.min_confidence) else ""
                print(f"  line_gap {gap:.1f} min_confidence {conf:.1f}: {measure(part, cfg)}{mark}")
    print("\nper kind at the defaults (both halves):")
    kinds = sorted({r[0]["kind"] for r in reads})
    for kind in kinds:
        print(f"  {kind:20} {measure([r for r in reads if r[0]['kind'] == kind], default)}")
    print("\nlines not read exactly at the defaults:")
    for row, raw, h in reads:
        got, tcs = settle(raw, default, h, True)
        if got != row["lines"] or (row.get("tc") and tcs != [row["tc"]]):
            print(f"  id {row['id']:>2} {row['kind']}: want {row['lines']} {row.get('tc', '')} got {got} {tcs}")


if __name__ == "__main__":
    main()
