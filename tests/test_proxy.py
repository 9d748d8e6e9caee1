"""Proxies: same TC, frame count and audio layout as the original; one decode pass with analysis."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from cardkit import ff, p2_card, tree_digest, video
from pymediainfo import MediaInfo

from kinod.analyzers.base import ClipInfo, RuntimeContext
from kinod.analyzers.shots import ShotsAnalyzer, ShotsConfig
from kinod.media.cards import detect_card
from kinod.media.decode import DecodePass
from kinod.media.ffmpeg import ffmpeg_path
from kinod.media.probe import probe
from kinod.media.proxy import (
    ProxyConfig,
    ProxyError,
    ffmpeg_filters,
    make_proxy,
    plan_proxy,
    proxy_path,
    proxy_up_to_date,
)

FF = ffmpeg_path()


@pytest.fixture(scope="module")
def df_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """29.97 DF ProRes, TC 01:00:00;00, reel A001, a mono and a stereo track, with a hard cut at frame 12."""
    root = tmp_path_factory.mktemp("orig") / "CARD"
    return video(
        root / "A001C001.mov",
        rate="30000/1001",
        seconds=1.0,
        size="640x360",
        source="testsrc2",
        codec=("-vf", "drawbox=enable='gte(n,12)':c=black:t=fill", "-c:v", "prores", "-profile:v", "0"),
        audio_tracks=(1, 2),
        audio_codec=("-c:a", "pcm_s24le"),
        timecode="01:00:00;00",
        reel="A001",
    )


def _mediainfo(path: Path) -> tuple[str, int, list[int], str]:
    mi = MediaInfo.parse(str(path))
    other = next(t for t in mi.tracks if t.track_type == "Other")
    v = next(t for t in mi.tracks if t.track_type == "Video")
    channels = [int(t.channel_s) for t in mi.tracks if t.track_type == "Audio"]
    return str(other.time_code_of_first_frame), int(v.frame_count), channels, str(v.frame_rate)


def _pyav(path: Path) -> tuple[int, Fraction, list[int], str]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        tc = v.metadata.get("timecode") or c.streams.data[0].metadata.get("timecode")
        return v.frames, v.average_rate, [a.codec_context.channels for a in c.streams.audio], tc


@pytest.mark.parametrize(
    ("config", "rel", "codec"),
    [
        (ProxyConfig(), "Proxies/A001C001_Proxy.mov", "AVC"),
        (ProxyConfig(codec="prores_proxy", layout="resolve"), "Proxy/A001C001.mov", "ProRes"),
    ],
)
def test_proxy_keeps_tc_frames_and_audio(
    tmp_path: Path, df_clip: Path, config: ProxyConfig, rel: str, codec: str
) -> None:
    src = probe(df_clip)
    assert (src.start_tc, src.frames, [a.channels for a in src.audio]) == ("01:00:00;00", 30, [1, 2])
    before = tree_digest(df_clip.parent)
    result = make_proxy(df_clip, src, tmp_path / "out", config, ffmpeg=FF)
    assert result.path == tmp_path / "out" / rel and result.warnings == []
    assert _mediainfo(result.path) == ("01:00:00;00", 30, [1, 2], "29.970")
    frames, rate, channels, tc = _pyav(result.path)
    assert (frames, rate, channels, tc) == (30, Fraction(30000, 1001), [1, 2], "01:00:00;00")
    pr = probe(result.path)
    assert pr.reel == "A001" and (pr.width, pr.height) == (640, 360)  # 540p asked, never upscaled
    assert pr.codec == codec and pr.duration_s == pytest.approx(src.duration_s, abs=0.05)
    if codec == "ProRes":
        assert pr.codec_profile == "422 Proxy"
    assert [p.name for p in result.path.parent.iterdir()] == [result.path.name]  # no partial files left
    assert tree_digest(df_clip.parent) == before
    assert proxy_up_to_date(result.path, df_clip)


def test_proxy_size_and_layouts(tmp_path: Path, df_clip: Path) -> None:
    src = probe(df_clip)
    big = ProxyConfig(height=270)
    result = make_proxy(df_clip, src, tmp_path, big, ffmpeg=FF)
    pr = probe(result.path)
    assert (pr.width, pr.height) == (480, 270)
    flat = ProxyConfig(layout="flat", root=tmp_path / "flat", width=320)
    assert proxy_path(df_clip, tmp_path, flat) == tmp_path / "flat" / "A001C001.mov"
    result = make_proxy(df_clip, src, tmp_path, flat, ffmpeg=FF)
    assert (probe(result.path).width, probe(result.path).height) == (320, 180)


def test_analysis_and_proxy_share_one_decode_pass(tmp_path: Path, df_clip: Path) -> None:
    src = probe(df_clip)
    job = plan_proxy(df_clip, src, tmp_path, ProxyConfig(), ffmpeg=FF)
    shots = ShotsAnalyzer(ShotsConfig(thumbnails=False, min_scene_len=5), RuntimeContext(tmp_path / "state"))
    info = ClipInfo(df_clip, src, src.timeline_rate, src.frames, tmp_path / "kf", src.start_tc_frames, src.drop_frame)
    shots.start(info)
    dp = DecodePass(df_clip, src, ffmpeg=FF, width=160)
    cmd = dp.command(True, False, 1, 3, job.video_branches, job.audio_branches)
    assert cmd.count("-i") == 1 and "rawvideo" in cmd and any("kinod-partial-video" in c for c in cmd)
    stats = dp.run([shots], video_branches=job.video_branches, audio_branches=job.audio_branches)
    assert stats.frames == 30
    result = shots.finish()
    assert [item["start_frame"] for item in result.items] == [0, 12]
    proxy = job.finalize()
    assert _mediainfo(proxy.path)[:3] == ("01:00:00;00", 30, [1, 2])


def test_p2_proxy_takes_the_split_audio_essences(tmp_path: Path) -> None:
    card = detect_card(p2_card(tmp_path / "P2", channels=2, seconds=0.3))
    clip = card.clips[0]
    assert clip.primary is not None
    src = probe(clip.primary, timecode_hints=clip.timecode_hints())
    extra = [f.path for f in clip.audio_files]
    result = make_proxy(clip.primary, src, tmp_path / "out", ProxyConfig(), ffmpeg=FF, extra_audio=extra)
    tc, frames, channels, _ = _mediainfo(result.path)
    assert (tc, frames, channels) == ("01:00:00;00", src.frames, [1, 1])
    assert result.path.name == "0001AB_Proxy.mov"


@pytest.mark.skipif("drawtext" not in ffmpeg_filters(FF), reason="this ffmpeg build has no drawtext")
def test_burn_in_with_hostile_clip_name(tmp_path: Path, df_clip: Path) -> None:
    src = probe(df_clip)
    cfg = ProxyConfig(burn_in_timecode=True, burn_in_name=True, height=180)
    name = "A001 $(rm -rf ~) 'quote' \"dq\" : ; \\ %{n} [x]"
    result = make_proxy(df_clip, src, tmp_path, cfg, ffmpeg=FF, clip_name=name)
    assert result.warnings == [] and _mediainfo(result.path)[:2] == ("01:00:00;00", 30)
    plain = make_proxy(df_clip, src, tmp_path / "plain", ProxyConfig(height=180), ffmpeg=FF)

    def first_frame(p: Path) -> np.ndarray:
        with av.open(str(p)) as c:
            return next(c.decode(video=0)).to_ndarray(format="gray").astype(int)

    diff = np.abs(first_frame(result.path) - first_frame(plain.path))
    # Burn-in lives in the bottom band (name left, TC right); the rest of the picture is untouched.
    assert diff[-40:, :150].mean() > 10 and diff[-40:, -150:].mean() > 10
    assert diff[:100].mean() < 2


def test_audio_only_and_abort(tmp_path: Path, df_clip: Path) -> None:
    wav = tmp_path / "sound.wav"
    ff("-f", "lavfi", "-i", "sine=d=0.2", str(wav))
    with pytest.raises(ProxyError, match=r"sound\.wav"):
        plan_proxy(wav, probe(wav), tmp_path, ProxyConfig(), ffmpeg=FF)
    job = plan_proxy(df_clip, probe(df_clip), tmp_path / "o", ProxyConfig(), ffmpeg=FF)
    with pytest.raises(ProxyError, match="was not written"):
        job.finalize()
    job.video_tmp.write_bytes(b"partial")
    job.abort()
    assert list((tmp_path / "o" / "Proxies").iterdir()) == []


def test_interlaced_xdcam_with_mono_tracks(tmp_path: Path) -> None:
    """XDCAM HD422-style MXF: interlaced MPEG-2 4:2:2, four mono PCM tracks, TC and reel."""
    src_path = video(
        tmp_path / "XDROOT" / "Clip" / "C0001.MXF",
        rate="25",
        size="1280x720",
        seconds=0.4,
        codec=(
            "-vf", "setfield=tff", "-c:v", "mpeg2video", "-pix_fmt", "yuv422p", "-b:v", "20M",
            "-flags", "+ildct+ilme", "-g", "12",
        ),
        audio_tracks=(1, 1, 1, 1),
        audio_codec=("-c:a", "pcm_s24le"),
        timecode="10:00:00:00",
        reel="XD0001",
    )  # fmt: skip
    src = probe(src_path)
    assert src.field_order == "tff" and [a.channels for a in src.audio] == [1, 1, 1, 1]
    result = make_proxy(src_path, src, tmp_path / "out", ProxyConfig(codec="prores_proxy"), ffmpeg=FF)
    assert result.warnings == []
    assert _mediainfo(result.path)[:3] == ("10:00:00:00", src.frames, [1, 1, 1, 1])
    pr = probe(result.path)
    assert pr.field_order == "progressive" and pr.reel == "XD0001" and (pr.width, pr.height) == (960, 540)


def test_proxy_of_a_file_with_a_hostile_name(tmp_path: Path) -> None:
    name = "-Szene 1 – Ätsch $(touch pwned) `x`; 'q' \"d\" & | * ? 日本:1.mov"
    src_path = video(tmp_path / "card" / name, seconds=0.3, timecode="00:59:59:00")
    result = make_proxy(src_path, probe(src_path), tmp_path / "out", ProxyConfig(burn_in_name=True), ffmpeg=FF)
    assert result.path.name == Path(name).stem + "_Proxy.mov"
    assert _mediainfo(result.path)[:2] == ("00:59:59:00", probe(src_path).frames)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
