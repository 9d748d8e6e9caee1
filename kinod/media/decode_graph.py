"""The decode pass's ffmpeg filter graph: one ``split`` tree from the decoded clip to every pipe.

Picture: an optional ``fps`` (VFR clips onto the nominal grid), then one leg per
frame stream (select for sampling, scale, BGR), the filter taps' legs and a frame
counter; extra branches (the proxy) split off before any of that. Sound: all audio
streams merged, then the PCM pipes, the audio taps and extra branches. Each tap ends
in a ``metadata`` printer writing to its own pipe.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kinod.contracts import FilterTap
from kinod.media.decode_types import FAST_SCALE_FLAGS, POINT_FLAGS, SCALE_FLAGS, AudioBranch, StreamSpec, VideoBranch
from kinod.media.imageseq import ImageSequence
from kinod.media.imageseq_probe import LINEAR_TO_DISPLAY, concat_list

if TYPE_CHECKING:
    from kinod.media.decode import DecodePass

#: (tap, filter chain, pipe fd) of one filter tap.
TapLeg = tuple[FilterTap, str, int]


def filter_graph(
    dp: DecodePass,
    streams: Sequence[tuple[StreamSpec, int | str]],
    taps: Sequence[TapLeg],
    counter_fd: int | None,
    pcm_fd: int | str | None,
    native_fd: int | None,
    video_branches: Sequence[VideoBranch],
    audio_branches: Sequence[AudioBranch],
) -> tuple[list[str], list[list[str]]]:
    """The ``-filter_complex`` parts and the output options (``-map`` ... target) of each output."""
    graph: list[str] = []
    outputs: list[list[str]] = []
    vtaps = [t for t in taps if t[0].media == "video"]
    ataps = [t for t in taps if t[0].media == "audio"]
    if dp.probe.has_video:
        _video_graph(dp, graph, outputs, streams, vtaps, counter_fd, video_branches)
    if dp.probe.audio:
        _audio_graph(dp, graph, outputs, pcm_fd, native_fd, ataps, audio_branches)
    return graph, outputs


def _video_graph(
    dp: DecodePass,
    graph: list[str],
    outputs: list[list[str]],
    streams: Sequence[tuple[StreamSpec, int | str]],
    taps: Sequence[TapLeg],
    counter_fd: int | None,
    branches: Sequence[VideoBranch],
) -> None:
    """The picture's legs: branches off the decoded frames, then frame streams, taps and the counter."""
    small = [t for t in taps if t[0].size == "small"]
    full = [t for t in taps if t[0].size == "full"]
    tap_spec = dp.tap_spec()
    # The small taps ride the detection stream's scaling when there is one of their size.
    shared = next((i for i, (spec, _fd) in enumerate(streams) if spec == tap_spec), None) if small else None
    legs = len(streams) + bool(small and shared is None) + bool(full) + (counter_fd is not None)
    if not legs and not branches:
        return
    picture = "[0:v:0]" + (f"{LINEAR_TO_DISPLAY}," if dp.probe.sequence and dp.probe.transfer == "linear" else "")
    top = _split(graph, picture, "split", "v", int(bool(legs)) + len(branches))
    for b, lb in zip(branches, top[int(bool(legs)) :], strict=True):
        graph.append(f"{lb}{b.filters or 'null'}[{lb[1:-1]}o]")
        outputs.append(["-map", f"[{lb[1:-1]}o]", *b.output_args])
    if not legs:
        return
    r = dp.rate
    # A sequence's frame that fails to decode leaves a hole in time that fps fills, as for VFR.
    regrid = dp.probe.vfr or dp.probe.sequence is not None
    head = top[0] + (f"fps={r.numerator}/{r.denominator}," if regrid else "")
    labels = _split(graph, head, "split", "an", legs)
    _frame_streams(graph, outputs, streams, labels, shared)
    rest = labels[len(streams) :]
    if small:
        if shared is not None:
            src = "[tapsrc]setpts=PTS-STARTPTS,"
        else:
            w, h = tap_spec.width, tap_spec.height
            src = f"{rest.pop(0)}setpts=PTS-STARTPTS,scale={w}:{h}:flags={POINT_FLAGS},format=yuv420p,"
        _tap_legs(graph, src, "ts", small, "nullsink")
    if full:
        _tap_legs(graph, f"{rest.pop(0)}setpts=PTS-STARTPTS,", "tf", full, "nullsink")
    if counter_fd is not None:
        # An output of its own: a graph of taps alone still needs one for ffmpeg to run.
        graph.append(
            f"{rest.pop(0)}metadata=mode=add:key=kinod.n:value=1,metadata=mode=print:file='pipe\\:{counter_fd}'[cnt]"
        )
        outputs.append(["-map", "[cnt]", "-f", "null", "-"])


def _frame_streams(
    graph: list[str],
    outputs: list[list[str]],
    streams: Sequence[tuple[StreamSpec, int | str]],
    labels: list[str],
    shared: int | None,
) -> None:
    """One leg per BGR frame stream; the ``shared`` one also feeds the small taps (``[tapsrc]``)."""
    for i, (spec, fd) in enumerate(streams):
        chain = []
        if spec.step is not None:
            # Same rule as StreamSpec.index: exact in doubles for any real clip length.
            a, b = spec.step.numerator, spec.step.denominator
            chain.append(f"select='gt(floor(n*{a}/{b}),floor((n-1)*{a}/{b}))'")
        if spec.scaling in ("area", "fast"):
            flags = SCALE_FLAGS if spec.scaling == "area" else FAST_SCALE_FLAGS
            chain.append(f"scale={spec.width}:{spec.height}:flags={flags}")
        else:
            # Always through 8-bit 4:2:0, so the BGR is the same whether taps share it or not.
            chain.append(f"scale={spec.width}:{spec.height}:flags={POINT_FLAGS},format=yuv420p")
        if i == shared:
            graph.append(f"{labels[i]}{','.join(chain)},split=2[p{i}][tapsrc]")
            graph.append(f"[p{i}]format=bgr24[s{i}]")
        else:
            graph.append(f"{labels[i]}{','.join(chain)},format=bgr24[s{i}]")
        # passthrough: never pad the start with duplicated frames when audio begins
        # before video (short_hamilton_clip.mp4), so pipe frame n is clip frame n.
        outputs.append(["-map", f"[s{i}]", "-fps_mode", "passthrough", "-f", "rawvideo", f"pipe:{fd}"])


def _audio_graph(
    dp: DecodePass,
    graph: list[str],
    outputs: list[list[str]],
    pcm_fd: int | str | None,
    native_fd: int | None,
    taps: Sequence[TapLeg],
    branches: Sequence[AudioBranch],
) -> None:
    """The sound's legs: every audio stream merged into one, then PCM pipes, taps and branches."""
    legs = (pcm_fd is not None) + (native_fd is not None) + bool(taps) + len(branches)
    if not legs:
        return
    n_audio = len(dp.probe.audio)
    if dp.audio_inputs:
        n_audio = len(dp.audio_inputs)
        ins = "".join(f"[{i + 1}:a:0]" for i in range(n_audio))
    else:
        ins = "".join(f"[0:a:{i}]" for i in range(n_audio))
    merged = f"{ins}amerge=inputs={n_audio}," if n_audio > 1 else ins
    labels = _split(graph, merged, "asplit", "a", legs)
    if pcm_fd is not None:
        graph.append(f"{labels.pop(0)}aresample={dp.audio_rate},aformat=sample_fmts=flt[pcm]")
        outputs.append(["-map", "[pcm]", "-f", "f32le", f"pipe:{pcm_fd}"])
    if native_fd is not None:
        graph.append(f"{labels.pop(0)}aresample={dp.native_rate},aformat=sample_fmts=flt[nat]")
        outputs.append(["-map", "[nat]", "-f", "f32le", f"pipe:{native_fd}"])
    if taps:
        _tap_legs(graph, f"{labels.pop(0)}asetpts=PTS-STARTPTS,", "ta", taps, "anullsink", audio=True)
    for ab, lb in zip(branches, labels, strict=True):
        graph.append(f"{lb}{ab.filters or 'anull'}[{lb[1:-1]}o]")
        outputs.append(["-map", f"[{lb[1:-1]}o]", *ab.output_args])


def _tap_legs(
    graph: list[str],
    head: str,
    prefix: str,
    taps: Sequence[TapLeg],
    sink: str,
    audio: bool = False,
) -> None:
    """One leg per tap off ``head``: the tap's chain, then a metadata printer on its pipe, then a sink."""
    printer = "ametadata" if audio else "metadata"
    legs = _split(graph, head, "asplit" if audio else "split", prefix, len(taps))
    for lb, (_tap, chain, fd) in zip(legs, taps, strict=True):
        graph.append(f"{lb}{chain},{printer}=mode=print:file='pipe\\:{fd}',{sink}")


def _split(graph: list[str], head: str, kind: str, prefix: str, n: int) -> list[str]:
    """Labels of ``n`` copies of ``head`` (a pad label, maybe followed by filters ending in ',')."""
    labels = [f"[{prefix}{i}]" for i in range(n)]
    if n == 1 and head.endswith(","):
        graph.append(f"{head[:-1]}{labels[0]}")
    elif n == 1:
        graph.append(f"{head}{'anull' if kind == 'asplit' else 'null'}{labels[0]}")
    else:
        graph.append(f"{head}{kind}={n}{''.join(labels)}")
    return labels


def input_path(path: Path) -> str:
    """A path ffmpeg will not mistake for an option or a protocol (leading dash, colon)."""
    return "file:" + str(Path(path).absolute())


def write_concat_list(parts: Sequence[Path]) -> Path:
    """An ffconcat list of the parts (absolute paths, quotes escaped), in a private temp file."""
    import tempfile

    lines = ["ffconcat version 1.0"]
    for p in parts:
        quoted = str(Path(p).absolute()).replace("'", "'\\''")
        lines.append(f"file 'file:{quoted}'")
    fd, name = tempfile.mkstemp(prefix="kinod-span-", suffix=".ffconcat")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return Path(name)


def sequence_input(block: dict[str, Any], rate: Fraction) -> list[str]:
    """The image2 demuxer's input options for a whole, gap-free sequence (``probe.sequence``)."""
    seq = ImageSequence.from_json(block)
    pattern = str(Path(seq.folder).absolute()).replace("%", "%%") + "/" + seq.pattern
    return [
        "-f", "image2", "-pattern_type", "sequence", "-start_number", str(seq.first), "-start_number_range", "1",
        "-framerate", f"{rate.numerator}/{rate.denominator}", "-i", "file:" + pattern,
    ]  # fmt: skip


def write_sequence_list(block: dict[str, Any], rate: Fraction) -> Path:
    """A sequence with gaps (or frames to read one by one) as an ffconcat list in a private temp file."""
    import tempfile

    fd, name = tempfile.mkstemp(prefix="kinod-seq-", suffix=".ffconcat")
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as fh:
        fh.write(concat_list(ImageSequence.from_json(block), rate))
    return Path(name)
