"""NVDEC decoding with the CPU as fallback, through a fake driver and an ffmpeg that records what it was asked."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import imageio_ffmpeg
import pytest

from kinod.analyzers.base import ClipInfo, finish_order
from kinod.analyzers.shots import ShotsAnalyzer
from kinod.media.decode import DecodePass
from kinod.media.probe import probe

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO.parent / "shared" / "fixtures" / "media" / "testvideo.mp4"
FF = imageio_ffmpeg.get_ffmpeg_exe()


def fake_tools(tmp: Path, cuda_opens: bool) -> Path:
    """nvidia-smi on PATH, and an ffmpeg whose CUDA device opens (or not); it runs the real one without NVDEC."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA Fake, 16384'\n")
    ffmpeg = bin_dir / "ffmpeg-cuda"
    device = "exit 0" if cuda_opens else "echo 'No device' >&2; exit 1"
    ffmpeg.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{tmp / "calls.txt"}"\n'
        f'case " $* " in *" -init_hw_device "*) {device};; esac\n'
        'n=$#; skip=0; for a in "$@"; do\n'
        "  if [ $skip = 1 ]; then skip=0; continue; fi\n"
        '  if [ "$a" = "-hwaccel" ]; then skip=1; continue; fi\n'
        '  set -- "$@" "$a"; done\n'
        f'shift $n; exec "{FF}" "$@"\n'
    )
    for p in (smi, ffmpeg):
        p.chmod(p.stat().st_mode | stat.S_IXUSR)
    return ffmpeg


def cuts(ffmpeg: str, hw: str, tmp: Path) -> list[int]:
    pr = probe(CLIP)
    a = ShotsAnalyzer()
    a.start(ClipInfo(CLIP, pr, pr.timeline_rate, pr.frames, tmp, pr.start_tc_frames, pr.drop_frame))
    DecodePass(CLIP, pr, ffmpeg=ffmpeg, hw_decode=hw).run([a])
    for x in finish_order([a]):
        return x.finish().summary["cuts"]
    return []


@pytest.mark.skipif(not CLIP.is_file(), reason="fixture media not found")
@pytest.mark.parametrize("cuda_opens", [True, False])
def test_nvdec_when_the_device_opens_else_the_cpu_with_the_same_cuts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cuda_opens: bool
) -> None:
    ffmpeg = fake_tools(tmp_path, cuda_opens)
    monkeypatch.setenv("PATH", f"{ffmpeg.parent}{os.pathsep}{os.environ['PATH']}")
    got = cuts(str(ffmpeg), "auto", tmp_path)
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    decode = [c for c in calls if "-filter_complex" in c]
    assert len(decode) == 1 and any("-init_hw_device cuda" in c for c in calls)
    if cuda_opens:
        assert "-hwaccel cuda" in decode[0] and "-skip_loop_filter" not in decode[0]
    else:  # the CPU decoder, with its own shortcut
        assert "-hwaccel" not in decode[0] and "-skip_loop_filter noref" in decode[0]
    assert got == cuts(FF, "off", tmp_path) == [30, 180, 394]
