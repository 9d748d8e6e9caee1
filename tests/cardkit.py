"""Builders for synthetic camera cards used by the card, MHL, probe and proxy tests.

Everything is made here with the real ffmpeg (lavfi sources) and plain struct/XML
writing, small and short, so the tests need no fixture files and run in seconds.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
from pathlib import Path

import xxhash

from kinod.media.ffmpeg import ffmpeg_path

FF = ffmpeg_path()


def ff(*args: str) -> None:
    """Run ffmpeg; fail the test with its stderr if it fails."""
    cmd = [FF, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"ffmpeg failed: {' '.join(cmd)}\n{out.stderr}"


def video(
    path: Path,
    *,
    rate: str = "25",
    seconds: float = 0.6,
    size: str = "320x180",
    codec: tuple[str, ...] = ("-c:v", "libx264", "-preset", "ultrafast"),
    audio_tracks: tuple[int, ...] = (2,),
    audio_codec: tuple[str, ...] = ("-c:a", "aac"),
    timecode: str | None = None,
    reel: str | None = None,
    fmt: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
    source: str = "testsrc2",
) -> Path:
    """A short clip with the given rate, audio tracks (channels per track), timecode and reel."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = ["-f", "lavfi", "-i", f"{source}=s={size}:r={rate}:d={seconds}"]
    for i, ch in enumerate(audio_tracks):
        layout = {1: "mono", 2: "stereo"}.get(ch, f"{ch}c")
        args += ["-f", "lavfi", "-i", f"sine=f={300 + 100 * i}:r=48000:d={seconds},aformat=channel_layouts={layout}"]
    args += ["-map", "0:v"]
    for i in range(len(audio_tracks)):
        args += ["-map", f"{i + 1}:a"]
    args += [*codec]
    if audio_tracks:
        args += [*audio_codec]
    if timecode:
        args += ["-timecode", timecode]
    if reel:
        args += ["-metadata:s:v:0", f"reel_name={reel}", "-metadata", f"reel_name={reel}"]
    args += [*extra, *fmt, str(path)]
    ff(*args)
    return path


def sony_xml(
    path: Path,
    *,
    ltc: str,
    fps: str = "29.97p",
    tc_fps: int = 30,
    half_step: bool = False,
    duration: int = 15,
    model: str = "ILME-FX6V",
    serial: str = "1234567",
    title: str | None = None,
    marks: tuple[tuple[str, int], ...] = (),
) -> Path:
    title_el = f'<Title usAscii="{title}" international="{title}"/>' if title else ""
    marks_el = "".join(f'<EssenceMark value="{v}" frameCount="{f}"/>' for v, f in marks)
    path.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<NonRealTimeMeta xmlns="urn:schemas-professionalDisc:nonRealTimeMeta:ver.2.20"
 xmlns:lib="urn:schemas-professionalDisc:lib:ver.2.00" lastUpdate="2026-01-01T10:00:00+01:00">
 <TargetMaterial umidRef="060A2B340101010501010D4313000000C20AA47F479805C59C50D1FFFEAC3B63"/>
 <Duration value="{duration}"/>
 <LtcChangeTable tcFps="{tc_fps}" halfStep="{str(half_step).lower()}">
  <LtcChange frameCount="0" value="{ltc}" status="increment"/>
  <LtcChange frameCount="{duration - 1}" value="{ltc}" status="end"/>
 </LtcChangeTable>
 <CreationDate value="2026-01-01T10:00:00+01:00"/>
 <VideoFormat><VideoRecPort port="DIRECT"/>
  <VideoFrame videoCodec="AVC_1920_1080_H422IP@L41" captureFps="{fps}" formatFps="{fps}"/>
  <VideoLayout pixel="1920" numOfVerticalLine="1080" aspectRatio="16:9"/></VideoFormat>
 <AudioFormat numOfChannel="2"/>
 <Device manufacturer="Sony" modelName="{model}" serialNo="{serial}"/>
 <Lens modelName="FE 24-105mm F4 G OSS"/>
 {title_el}
 <EssenceMarkTable>{marks_el}</EssenceMarkTable>
 <AcquisitionRecord><Group name="CameraUnitMetadataSet">
  <Item name="CaptureGammaEquation" value="s-log3-cine"/></Group></AcquisitionRecord>
</NonRealTimeMeta>
""",
        encoding="utf-8",
    )
    return path


def p2_xml(
    path: Path,
    *,
    name: str,
    start_tc: str = "01:00:00;00",
    frame_rate: str = "29.97p",
    edit_unit: str = "1001/30000",
    audio_channels: int = 2,
    duration: int = 15,
    user_clip_name: str = "Interview A",
    serial: str = "P2SN0042",
    shot_mark: bool = True,
    global_shot_id: str | None = None,
    offset_in_shot: int = 0,
) -> Path:
    audio = "".join(
        "<Audio><AudioFormat>MXF</AudioFormat><SamplingRate>48000</SamplingRate>"
        "<BitsPerSample>24</BitsPerSample></Audio>"
        for _ in range(audio_channels)
    )
    relation = (
        f"<Relation><OffsetInShot>{offset_in_shot}</OffsetInShot><GlobalShotID>{global_shot_id}</GlobalShotID>"
        "</Relation>"
        if global_shot_id
        else ""
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""<?xml version="1.0" encoding="UTF-8" standalone="no" ?>
<P2Main xmlns="urn:schemas-Professional-Plug-in:P2:ClipMetadata:v3.1">
 <ClipContent>
  <ClipName>{name}</ClipName>
  <GlobalClipID>060A2B340101010501010D43130000006A3D04002DC405D4008045820{name}</GlobalClipID>
  <Duration>{duration}</Duration>
  <EditUnit>{edit_unit}</EditUnit>
  <EssenceList>
   <Video><VideoFormat>MXF</VideoFormat><Codec Class="100">AVC-I_1080/29.97p</Codec>
    <FrameRate>{frame_rate}</FrameRate><StartTimecode>{start_tc}</StartTimecode>
    <StartBinaryGroup>00000000</StartBinaryGroup><AspectRatio>16:9</AspectRatio></Video>
   {audio}
  </EssenceList>
  {relation}
  <ClipMetadata>
   <UserClipName>{user_clip_name}</UserClipName>
   <DataSource>SHOOTING</DataSource>
   <Access><CreationDate>2026-01-01T10:00:00+01:00</CreationDate></Access>
   <Device><Manufacturer>Panasonic</Manufacturer><SerialNo.>{serial}</SerialNo.>
    <ModelName>AJ-PX800G</ModelName></Device>
   <ShotMark>{str(shot_mark).lower()}</ShotMark>
  </ClipMetadata>
 </ClipContent>
</P2Main>
""",
        encoding="utf-8",
    )
    return path


def p2_card(root: Path, name: str = "0001AB", channels: int = 2, seconds: float = 0.5) -> Path:
    """A P2 card: OP-Atom DNxHR video, one OP-Atom PCM file per audio channel, clip XML."""
    contents = root / "CONTENTS"
    (contents / "VIDEO").mkdir(parents=True, exist_ok=True)
    (contents / "AUDIO").mkdir(parents=True, exist_ok=True)
    frames = round(seconds * 30000 / 1001)
    ff(
        "-f", "lavfi", "-i", f"testsrc2=s=1280x720:r=30000/1001:d={seconds}",
        "-c:v", "dnxhd", "-profile:v", "dnxhr_lb", "-pix_fmt", "yuv422p",
        "-timecode", "00:00:00;00", "-f", "mxf_opatom", str(contents / "VIDEO" / f"{name}.MXF"),
    )  # fmt: skip
    for ch in range(channels):
        ff(
            "-f", "lavfi", "-i", f"sine=f={400 + 200 * ch}:r=48000:d={seconds}",
            "-c:a", "pcm_s24le", "-f", "mxf_opatom", "-mxf_audio_edit_rate", "30000/1001",
            str(contents / "AUDIO" / f"{name}{ch:02d}.MXF"),
        )  # fmt: skip
    p2_xml(contents / "CLIP" / f"{name}.XML", name=name, audio_channels=channels, duration=frames)
    (contents / "ICON").mkdir(exist_ok=True)
    (contents / "ICON" / f"{name}.BMP").write_bytes(b"BM" + bytes(64))
    (root / "LASTCLIP.TXT").write_text(name)
    return root


def bwf(
    path: Path,
    *,
    seconds: float = 0.5,
    channels: int = 2,
    sample_rate: int = 48000,
    bits: int = 24,
    time_reference: int | None = 172_800_000,
    ixml: str | None = None,
    description: str = "",
    originator: str = "Sound Devices 833",
) -> Path:
    """A Broadcast WAV written by hand: fmt, bext (with time reference), iXML, data."""
    n = int(seconds * sample_rate)
    sample_bytes = bits // 8
    data = bytes(n * channels * sample_bytes)
    fmt = struct.pack(
        "<HHIIHH", 1, channels, sample_rate, sample_rate * channels * sample_bytes, channels * sample_bytes, bits
    )
    chunks = [(b"fmt ", fmt)]
    if time_reference is not None:
        bext = bytearray(602)
        bext[0 : len(description.encode())] = description.encode()[:256]
        bext[256 : 256 + len(originator)] = originator.encode()[:32]
        bext[320:330] = b"2026-01-01"
        bext[330:338] = b"10:00:00"
        bext[338:346] = struct.pack("<II", time_reference & 0xFFFFFFFF, time_reference >> 32)
        bext[346:348] = struct.pack("<H", 1)
        chunks.append((b"bext", bytes(bext) + b"A=PCM,F=48000,W=24,M=stereo\r\n"))
    if ixml is not None:
        chunks.append((b"iXML", ixml.encode("utf-8")))
    chunks.append((b"data", data))
    body = b"WAVE"
    for cid, payload in chunks:
        body += cid + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def ixml(
    *,
    scene: str = "12A",
    take: str = "3",
    tape: str = "DAY01",
    rate: str = "25/1",
    flag: str = "NDF",
    tracks: tuple[str, ...] = ("Boom", "Lav"),
    family: str | None = None,
    total: int = 1,
    index: int = 1,
    note: str = "good take",
) -> str:
    track_xml = "".join(
        f"<TRACK><CHANNEL_INDEX>{i}</CHANNEL_INDEX><INTERLEAVE_INDEX>{i}</INTERLEAVE_INDEX><NAME>{t}</NAME></TRACK>"
        for i, t in enumerate(tracks, start=1)
    )
    file_set = (
        f"<FILE_SET><TOTAL_FILES>{total}</TOTAL_FILES><FAMILY_UID>{family}</FAMILY_UID>"
        f"<FILE_SET_INDEX>{index}</FILE_SET_INDEX></FILE_SET>"
        if family
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><BWFXML><IXML_VERSION>1.61</IXML_VERSION>'
        f"<PROJECT>Feature</PROJECT><SCENE>{scene}</SCENE><TAKE>{take}</TAKE><TAPE>{tape}</TAPE>"
        f"<CIRCLED>TRUE</CIRCLED><NOTE>{note}</NOTE>"
        f"<SPEED><TIMECODE_RATE>{rate}</TIMECODE_RATE><TIMECODE_FLAG>{flag}</TIMECODE_FLAG></SPEED>"
        f"<TRACK_LIST><TRACK_COUNT>{len(tracks)}</TRACK_COUNT>{track_xml}</TRACK_LIST>{file_set}</BWFXML>"
    )


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<NonRealTimeMeta><Duration value="&lol9;"/></NonRealTimeMeta>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE NonRealTimeMeta [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<NonRealTimeMeta><Title usAscii="&xxe;"/></NonRealTimeMeta>
"""


def copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def tree_digest(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every file under root with (sha256, size, mtime_ns): a card must be byte-identical after kinod."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            st = p.stat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            out[p.relative_to(root).as_posix()] = (digest, st.st_size, st.st_mtime_ns)
    return out


def c4(path: Path) -> str:
    from kinod.media.mhl import c4_of_digest

    return c4_of_digest(hashlib.sha512(path.read_bytes()).digest())


def xxh64(path: Path) -> str:
    return xxhash.xxh64(path.read_bytes()).hexdigest()


def write_ascmhl(root: Path, entries: dict[str, dict[str, str]], *, generation_name: str | None = None) -> Path:
    """An ASC MHL v2 history: one generation listing ``entries`` and the chain file with its C4."""
    folder = root / "ascmhl"
    folder.mkdir(exist_ok=True)
    name = generation_name or f"0001_{root.name}_2026-01-01_100000Z.mhl"
    hashes = []
    for rel, algos in entries.items():
        size = (root / rel).stat().st_size if (root / rel).exists() else 0
        h = "".join(f'<{a} action="original" hashdate="2026-01-01T10:00:00+00:00">{v}</{a}>' for a, v in algos.items())
        when = "2026-01-01T10:00:00+00:00"
        hashes.append(f'<hash><path size="{size}" lastmodificationdate="{when}">{rel}</path>{h}</hash>')
    gen = folder / name
    gen.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<hashlist version="2.0" xmlns="urn:ASC:MHL:v2.0">\n'
        "<creatorinfo><creationdate>2026-01-01T10:00:00+00:00</creationdate><hostname>dit</hostname>"
        '<tool version="1.2">ascmhl.py</tool></creatorinfo>'
        "<processinfo><process>in-place</process><roothash><content><xxh64>0</xxh64></content></roothash>"
        "<ignore><pattern>.DS_Store</pattern><pattern>ascmhl</pattern><pattern>ascmhl/</pattern></ignore>"
        f"</processinfo>\n<hashes>\n{''.join(hashes)}\n</hashes>\n</hashlist>\n",
        encoding="utf-8",
    )
    (folder / "ascmhl_chain.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<ascmhldirectory xmlns="urn:ASC:MHL:DIRECTORY:v2.0">\n'
        f'<hashlist sequencenr="1"><path>{name}</path><c4>{c4(gen)}</c4></hashlist>\n</ascmhldirectory>\n',
        encoding="utf-8",
    )
    return gen
