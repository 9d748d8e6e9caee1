"""SRT and WebVTT transcripts per clip, shaped the way subtitle editors expect.

Speech segments (``analyses.speech.items``, carried in the clip's metadata) become
cues within the usual limits: at most ``subtitle_max_lines`` lines of
``subtitle_max_line_chars`` characters, at most ``subtitle_max_duration_s`` on screen.
A segment that does not fit is split at word boundaries; with word timings the
split falls where those words are spoken, otherwise time is shared by length. Cues
shorter than ``subtitle_min_duration_s`` are held longer where the next cue leaves
room, and consecutive cues keep ``subtitle_min_gap_s`` apart. Times are media time
from the clip's first frame, which is what players and NLE caption tracks use.

Escaping: a blank line ends a cue in both formats, so text is re-wrapped and never
contains one. WebVTT escapes ``&``, ``<`` and ``>`` as entities and puts the speaker
in a ``<v>`` span. SRT has no escapes and players read ``<i>`` as markup, so ``<`` and
``>`` are shown as ``‹`` and ``›``.
"""

from __future__ import annotations

import re
import textwrap
from abc import abstractmethod
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

from kinod.export.writers.base import ReadMarker, Writer, clean_text, timeline_facts
from kinod.export.writers.options import ExportOptions
from kinod.fsutil import atomic_write_text


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None


def _words(seg: dict[str, Any]) -> list[tuple[str, float | None, float | None]]:
    """(word, start, end) of a segment: its word timings when they match its text, else plain words."""
    timed = [
        (clean_text(w["word"]).strip(), float(w["start_s"]), float(w["end_s"]))
        for w in seg.get("words") or []
        if clean_text(w.get("word", "")).strip()
    ]
    if timed:
        return [(" ".join(w.split()), s, e) for w, s, e in timed]
    return [(w, None, None) for w in clean_text(seg["text"]).split()]


def _chunks(words: list[tuple[str, float | None, float | None]], opts: ExportOptions) -> list[list[int]]:
    """Word index groups, each fitting in one cue of max_lines x max_line_chars."""
    width, max_lines = opts.subtitle_max_line_chars, opts.subtitle_max_lines
    groups: list[list[int]] = []
    current: list[int] = []
    for i in range(len(words)):
        trial = " ".join(words[j][0] for j in [*current, i])
        if current and len(_wrap(trial, width)) > max_lines:
            groups.append(current)
            current = []
        current.append(i)
    if current:
        groups.append(current)
    return groups


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` characters; a single longer word is cut rather than overflowing."""
    return textwrap.wrap(text, width=width, break_long_words=True, break_on_hyphens=False) or [""]


def _balanced(text: str, width: int, max_lines: int) -> list[str]:
    """Wrap, then even out two lines (editors prefer a pyramid to one long and one short line)."""
    lines = _wrap(text, width)
    if len(lines) == 2:
        words = text.split()
        best = lines
        for k in range(1, len(words)):
            a, b = " ".join(words[:k]), " ".join(words[k:])
            if len(a) <= width and len(b) <= width and abs(len(a) - len(b)) < abs(len(best[0]) - len(best[1])):
                best = [a, b]
        lines = best
    return lines[:max_lines]


def build_cues(
    transcript: list[dict[str, Any]] | tuple[dict[str, Any], ...], opts: ExportOptions, inline_speaker: bool = False
) -> list[Cue]:
    """Cues within the limits in the options, in time order, never overlapping.

    With ``inline_speaker`` (SRT) the speaker's name opens the segment's first line as
    ``Name:`` and counts against the line length; otherwise it is kept on the cue.
    """
    raw: list[Cue] = []
    for seg in transcript:
        start, end = float(seg["start_s"]), float(seg["end_s"])
        if end <= start:
            end = start + opts.subtitle_min_duration_s
        words = _words(seg)
        if not words:
            continue
        speaker = " ".join(clean_text(str(seg["speaker"])).split()) if seg.get("speaker") else None
        if not opts.subtitle_speakers:
            speaker = None
        if inline_speaker and speaker:
            words = [(f"{speaker}:", words[0][1], words[0][1]), *words]
            speaker = None
        groups = _chunks(words, opts)
        total_chars = sum(len(w[0]) + 1 for w in words)
        done_chars = 0
        for group in groups:
            text = " ".join(words[i][0] for i in group)
            g_start, g_end = words[group[0]][1], words[group[-1]][2]
            chars = sum(len(words[i][0]) + 1 for i in group)
            if g_start is None or g_end is None:
                g_start = start + (end - start) * done_chars / total_chars
                g_end = start + (end - start) * (done_chars + chars) / total_chars
            done_chars += chars
            g_start, g_end = max(g_start, start), min(max(g_end, g_start), end)
            lines = _balanced(text, opts.subtitle_max_line_chars, opts.subtitle_max_lines)
            raw.extend(_split_long(g_start, g_end, tuple(lines), speaker if group is groups[0] else None, opts))
    return _space(sorted(raw, key=lambda c: (c.start, c.end)), opts)


def _split_long(start: float, end: float, lines: tuple[str, ...], speaker: Any, opts: ExportOptions) -> list[Cue]:
    """A cue longer than the maximum duration is split by lines, else shown for the maximum."""
    limit = opts.subtitle_max_duration_s
    if end - start <= limit:
        return [Cue(start, end, lines, speaker)]
    if len(lines) > 1:
        step = (end - start) / len(lines)
        out = []
        for i, line in enumerate(lines):
            out += _split_long(start + i * step, start + (i + 1) * step, (line,), speaker if i == 0 else None, opts)
        return out
    return [Cue(start, start + limit, lines, speaker)]


def _space(cues: list[Cue], opts: ExportOptions) -> list[Cue]:
    """Enforce the minimum gap and, where room allows, the minimum duration (in whole milliseconds)."""
    gap = round(opts.subtitle_min_gap_s * 1000)
    shortest = round(opts.subtitle_min_duration_s * 1000)
    spans = [(round(c.start * 1000), round(c.end * 1000)) for c in cues]
    out: list[list[int]] = []
    for i, (start, end) in enumerate(spans):
        if out and start < out[-1][1] + gap:
            out[-1][1] = max(out[-1][0] + 1, min(out[-1][1], start - gap))
            start = max(start, out[-1][1] + gap)
        if end - start < shortest:
            limit = spans[i + 1][0] - gap if i + 1 < len(spans) else end + shortest
            end = max(end, min(start + shortest, limit))
        out.append([start, max(end, start + 1)])
    return [Cue(a / 1000, b / 1000, c.lines, c.speaker) for (a, b), c in zip(out, cues, strict=True)]


def _stamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def srt_text(text: str) -> str:
    """A cue line as SRT carries it: ``<``/``>`` shown as ``‹``/``›`` so players see no markup."""
    return text.replace("<", "‹").replace(">", "›")


def vtt_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_srt(cues: list[Cue]) -> str:
    blocks = []
    for n, cue in enumerate(cues, 1):
        lines = [srt_text(line) for line in cue.lines]
        blocks.append(f"{n}\n{_stamp(cue.start, ',')} --> {_stamp(cue.end, ',')}\n" + "\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def render_vtt(cues: list[Cue]) -> str:
    blocks = ["WEBVTT"]
    for cue in cues:
        lines = [vtt_text(line) for line in cue.lines]
        if cue.speaker:
            lines[0] = f"<v {vtt_text(cue.speaker)}>{lines[0]}"
        blocks.append(f"{_stamp(cue.start, '.')} --> {_stamp(cue.end, '.')}\n" + "\n".join(lines))
    return "\n\n".join(blocks) + "\n"


_SRT_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2})[,.](\d{3}) --> (\d{2}):(\d{2}):(\d{2})[,.](\d{3})")


def read_cues(path: Path) -> list[Cue]:
    """Parse an SRT or VTT file we wrote (times and text lines; VTT entities decoded)."""
    text = path.read_text(encoding="utf-8-sig")
    vtt = text.startswith("WEBVTT")
    cues = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        idx = next((i for i, line in enumerate(lines) if _SRT_TIME.match(line)), None)
        if idx is None:
            continue
        g = [int(x) for x in _SRT_TIME.match(lines[idx]).groups()]  # type: ignore[union-attr]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        body = lines[idx + 1 :]
        speaker = None
        if vtt and body and body[0].startswith("<v "):
            head, _, rest = body[0][3:].partition(">")
            speaker, body = head, [rest, *body[1:]]
        if vtt:
            body = [b.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") for b in body]
            speaker = speaker.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") if speaker else None
        cues.append(Cue(start, end, tuple(body), speaker))
    return cues


class _SubtitleWriter(Writer):
    card = False

    @abstractmethod
    def render(self, transcript: list[dict[str, Any]], opts: ExportOptions) -> str:
        """The file's text for a clip's transcript segments."""

    def write(self, timeline: otio.schema.Timeline, dest: Path, opts: ExportOptions) -> Path:
        facts = timeline_facts(timeline)
        transcript = [seg for clip in facts.clips[:1] for seg in clip.transcript]
        atomic_write_text(dest, self.render(transcript, opts))
        return dest

    def read(self, path: Path, rate: Fraction | None = None) -> list[ReadMarker]:
        return [
            ReadMarker(name=" ".join(c.lines), comment=c.speaker or "", duration=round((c.end - c.start) * 1000))
            for c in read_cues(path)
        ]


class SrtWriter(_SubtitleWriter):
    format = "srt"
    suffix = ".srt"
    description = "SubRip transcript of the clip's speech"

    def render(self, transcript: list[dict[str, Any]], opts: ExportOptions) -> str:
        return render_srt(build_cues(transcript, opts, inline_speaker=True))


class VttWriter(_SubtitleWriter):
    format = "vtt"
    suffix = ".vtt"
    description = "WebVTT transcript of the clip's speech"

    def render(self, transcript: list[dict[str, Any]], opts: ExportOptions) -> str:
        return render_vtt(build_cues(transcript, opts))
