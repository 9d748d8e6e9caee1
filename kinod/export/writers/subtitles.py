"""SRT and WebVTT transcripts per clip, shaped the way subtitle editors expect.

Speech segments (``analyses.speech.items``, carried in the clip's metadata) become
cues within the usual limits: at most ``subtitle_max_lines`` lines of
``subtitle_max_line_chars`` characters, at most ``subtitle_max_duration_s`` on screen.
A segment that does not fit is split at word boundaries; with word timings each cue
runs from its first word's start to its last word's end, so every cue boundary falls
between two words (otherwise time is shared by length). SRT and VTT carry the same
cues: only the way the speaker is shown differs. Cues
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
from kinod.media.fsutil import atomic_write_text


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None


#: Holds the speaker label's spaces while wrapping; clean_text removes it from any text.
_HOLD = "\x1f"


@dataclass(frozen=True)
class _Word:
    text: str
    start: float
    end: float


def _words(seg: dict[str, Any], start: float, end: float) -> list[_Word]:
    """A segment's words with times: its word timings when it has them, else times shared by length.

    Timed words are clamped into the segment and made monotonic, so a cue never starts
    before the previous one's words or after its own.
    """
    timed = [
        (" ".join(clean_text(w["word"]).split()), float(w["start_s"]), float(w["end_s"]))
        for w in seg.get("words") or []
        if clean_text(w.get("word", "")).strip()
    ]
    if timed:
        out: list[_Word] = []
        floor = start
        for text, w_start, w_end in timed:
            w_start = min(max(w_start, floor), end)
            w_end = min(max(w_end, w_start), end)
            out.append(_Word(text, w_start, w_end))
            floor = w_start
        return out
    plain = clean_text(seg["text"]).split()
    total = sum(len(w) + 1 for w in plain) or 1
    out, done = [], 0
    for w in plain:
        a = start + (end - start) * done / total
        done += len(w) + 1
        out.append(_Word(w, a, start + (end - start) * done / total))
    return out


#: A cue that must be cut prefers to end after one of these, or before a pause.
_CLAUSE_END = (".", ",", ";", ":", "?", "!", "…", "。", "、")
_PAUSE_S = 0.4


def _cut_point(current: list[_Word]) -> int:
    """How many words of a full cue to keep: up to its last clause end or pause, else all of them.

    Keeps at least two words, so a cut never leaves one word alone on screen.
    """
    for k in range(len(current) - 1, 1, -1):
        prev, nxt = current[k - 1], current[k]
        if prev.text.endswith(_CLAUSE_END) or nxt.start - prev.end >= _PAUSE_S:
            return k
    return len(current)


def _chunks(words: list[_Word], prefix: str, opts: ExportOptions) -> list[list[_Word]]:
    """Words grouped into cues: each fits ``max_lines`` x ``max_line_chars`` (with ``prefix``,
    the speaker label, on each) and, where its words allow, ``max_duration_s``.

    A cue ends only after a word and the next starts with the following word, so every
    cue boundary falls between two words' times; where a cue must be cut, the cut goes
    after a clause or before a pause when the cue has one.
    """
    width, max_lines, limit = opts.subtitle_max_line_chars, opts.subtitle_max_lines, opts.subtitle_max_duration_s

    def fits(group: list[_Word]) -> bool:
        text = " ".join([prefix, *(x.text for x in group)]).strip()
        return len(_wrap(text, width)) <= max_lines and group[-1].end - group[0].start <= limit

    groups: list[list[_Word]] = []
    current: list[_Word] = []
    for w in words:
        while current and not fits([*current, w]):
            keep = _cut_point(current)
            groups.append(current[:keep])
            current = current[keep:]
        current.append(w)
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

    SRT and VTT get the same cues (same words, same times): the speaker label ``Name:``
    counts against the first line's length in both, and with ``inline_speaker`` (SRT) it
    opens that line, while VTT keeps it on the cue for its ``<v>`` span. Every cue has
    its label, or (when a segment has no speaker, or ``subtitle_speakers`` is off) none.
    """
    raw: list[Cue] = []
    # Labels on every cue or on none: a viewer reads a cue without one as "the same person".
    labelled = opts.subtitle_speakers and all(seg.get("speaker") for seg in transcript)
    for seg in transcript:
        start, end = float(seg["start_s"]), float(seg["end_s"])
        if end <= start:
            end = start + opts.subtitle_min_duration_s
        words = _words(seg, start, end)
        if not words:
            continue
        speaker = " ".join(clean_text(str(seg["speaker"])).split()) if seg.get("speaker") else None
        if not labelled:
            speaker = None
        # The label wraps as one word (its spaces held by a unit separator until the end).
        prefix = f"{speaker}:".replace(" ", _HOLD) if speaker else ""
        for group in _chunks(words, prefix, opts):
            head = prefix
            text = " ".join([head, *(w.text for w in group)]).strip()
            lines = _balanced(text, opts.subtitle_max_line_chars, opts.subtitle_max_lines)
            if head and not inline_speaker:
                first = lines[0][len(head) :].strip()
                lines = [first, *lines[1:]] if first else lines[1:]
            lines = [line.replace(_HOLD, " ") for line in lines]
            g_start = group[0].start
            # One word spoken longer than the limit is shown for the limit, from its start.
            g_end = min(max(group[-1].end, g_start), g_start + opts.subtitle_max_duration_s)
            cue_speaker = speaker if head and not inline_speaker else None
            raw.append(Cue(g_start, g_end, tuple(lines), cue_speaker))
    return _space(sorted(raw, key=lambda c: (c.start, c.end)), opts)


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
