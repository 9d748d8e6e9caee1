"""Tests for kinod.media.timecode: exact rates, DF/NDF labels, start-TC choice."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinod.media.timecode import (
    STANDARD_RATES,
    StartTimecode,
    TimecodeSource,
    bwf_time_reference_to_frames,
    format_rate,
    frame_to_seconds,
    frames_per_day,
    frames_to_tc,
    is_drop_frame_label,
    is_ntsc,
    nominal_fps,
    parse_rate,
    pick_start_timecode,
    seconds_to_frame,
    snap_rate,
    supports_drop_frame,
    tc_to_frames,
)

DF_2997 = Fraction(30000, 1001)
DF_5994 = Fraction(60000, 1001)
NTSC_2398 = Fraction(24000, 1001)

#: Every (rate, drop_frame) combination kinod must support.
MODES: list[tuple[Fraction, bool]] = [(r, False) for r in STANDARD_RATES.values()] + [
    (DF_2997, True),
    (DF_5994, True),
]


def _mode_id(mode: tuple[Fraction, bool]) -> str:
    rate, df = mode
    return f"{format_rate(rate)}-{'DF' if df else 'NDF'}"


# ------------------------------------------------------------------------- rates


def test_standard_rates_are_exact() -> None:
    assert STANDARD_RATES["23.976"] == Fraction(24000, 1001)
    assert STANDARD_RATES["29.97"] == Fraction(30000, 1001)
    assert STANDARD_RATES["47.95"] == Fraction(48000, 1001)
    assert STANDARD_RATES["59.94"] == Fraction(60000, 1001)
    for name in ("24", "25", "30", "48", "50", "60"):
        assert STANDARD_RATES[name] == int(name)
    assert all(isinstance(r, Fraction) for r in STANDARD_RATES.values())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30000/1001", DF_2997),
        ("29.97", DF_2997),
        ("29.970", DF_2997),
        (" 29.97 ", DF_2997),
        (29.97, DF_2997),
        (30000 / 1001, DF_2997),
        ("23.976", NTSC_2398),
        ("23.98", NTSC_2398),
        (23.976, NTSC_2398),
        ("47.952", Fraction(48000, 1001)),
        ("59.94", DF_5994),
        (59.94, DF_5994),
        ("119.88", Fraction(120000, 1001)),
        (Decimal("29.97"), DF_2997),
        ("25", Fraction(25)),
        ("25/1", Fraction(25)),
        (25, Fraction(25)),
        (25.0, Fraction(25)),
        ("24.000", Fraction(24)),
        ("60", Fraction(60)),  # whole numbers never snap to NTSC
        ("10", Fraction(10)),  # 10 is within 0.01 of 10000/1001 but means itself
        ("48/2", Fraction(24)),
        ("12.5", Fraction(25, 2)),
        (12.5, Fraction(25, 2)),
        ("29.99", Fraction(2999, 100)),  # 0.02 from 29.97: not snapped
        (Fraction(2997, 100), Fraction(2997, 100)),  # exact inputs stay exact
        (Fraction(30000, 1001), DF_2997),
    ],
)
def test_parse_rate(value: object, expected: Fraction) -> None:
    result = parse_rate(value)  # type: ignore[arg-type]
    assert result == expected
    assert isinstance(result, Fraction)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        "29.97fps",
        "0",
        "-25",
        "0/1001",
        "30000/0",
        "nan",
        "inf",
        "1/x",
        float("nan"),
        float("inf"),
        0,
        -1,
        0.0,
        True,
        None,
        [25],
    ],
)
def test_parse_rate_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="frame rate"):
        parse_rate(value)  # type: ignore[arg-type]


def test_parse_rate_error_names_value() -> None:
    with pytest.raises(ValueError, match="'garbage'"):
        parse_rate("garbage")


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (Fraction(2997, 100), DF_2997),  # a container's rounded rational
        (Fraction(23976, 1000), NTSC_2398),
        (Fraction(5994, 100), DF_5994),
        (DF_2997, DF_2997),
        (Fraction(25), Fraction(25)),  # whole rates mean themselves
        (Fraction(30), Fraction(30)),
        (Fraction(25, 2), Fraction(25, 2)),  # not near an NTSC rate: kept
    ],
)
def test_snap_rate_is_exact(rate: Fraction, expected: Fraction) -> None:
    assert snap_rate(rate) == expected
    assert snap_rate(rate) == parse_rate(float(rate))  # what the float round trip gave, without it


def test_snap_rate_rejects_floats() -> None:
    with pytest.raises(TypeError, match="Fraction"):
        snap_rate(29.97)  # type: ignore[arg-type]


def test_float_limit_denominator() -> None:
    # Not near an NTSC rate: nearest fraction with denominator <= 1001.
    assert parse_rate(1 / 3) == Fraction(1, 3)
    assert parse_rate("0.1") == Fraction(1, 10)


@pytest.mark.parametrize("rate", [*list(STANDARD_RATES.values()), Fraction(7000, 1001), Fraction(25, 2)])
def test_format_rate_round_trips(rate: Fraction) -> None:
    text = format_rate(rate)
    assert "/" in text
    assert parse_rate(text) == rate


def test_format_rate_forms() -> None:
    assert format_rate(DF_2997) == "30000/1001"
    assert format_rate(NTSC_2398) == "24000/1001"
    assert format_rate(Fraction(25)) == "25/1"
    assert format_rate(Fraction(7000, 1001)) == "7000/1001"  # reduces to 1000/143, written NLE-style


def test_nominal_and_flags() -> None:
    expected_base = {
        "23.976": 24,
        "24": 24,
        "25": 25,
        "29.97": 30,
        "30": 30,
        "47.95": 48,
        "48": 48,
        "50": 50,
        "59.94": 60,
        "60": 60,
    }
    for name, rate in STANDARD_RATES.items():
        assert nominal_fps(rate) == expected_base[name]
        assert is_ntsc(rate) == ("." in name)
        assert supports_drop_frame(rate) == (name in ("29.97", "59.94"))
    assert is_ntsc(Fraction(7000, 1001))
    assert not is_ntsc(Fraction(25, 2))
    assert nominal_fps(Fraction(25, 2)) == 13


def test_floats_rejected_as_rates() -> None:
    with pytest.raises(TypeError, match="parse_rate"):
        frames_to_tc(0, 29.97)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        frames_to_tc(0, Fraction(0))


def test_frames_per_day() -> None:
    assert frames_per_day(DF_2997, True) == 2_589_408
    assert frames_per_day(DF_5994, True) == 5_178_816
    assert frames_per_day(DF_2997) == 30 * 86400
    assert frames_per_day(NTSC_2398) == 24 * 86400
    with pytest.raises(ValueError):
        frames_per_day(Fraction(25), True)


# ---------------------------------------------------------------- known labels


@pytest.mark.parametrize(
    ("frames", "rate", "df", "label"),
    [
        (0, DF_2997, True, "00:00:00;00"),
        (1799, DF_2997, True, "00:00:59;29"),
        (1800, DF_2997, True, "00:01:00;02"),
        (3597, DF_2997, True, "00:01:59;29"),
        (3598, DF_2997, True, "00:02:00;02"),
        (17981, DF_2997, True, "00:09:59;29"),
        (17982, DF_2997, True, "00:10:00;00"),
        (107892, DF_2997, True, "01:00:00;00"),
        (2_589_407, DF_2997, True, "23:59:59;29"),
        # Minute 0 drops nothing, so it holds 3600 frames; 3596 is the length of a
        # *dropping* minute, not the index of 00:01:00;04.
        (3599, DF_5994, True, "00:00:59;59"),
        (3600, DF_5994, True, "00:01:00;04"),
        (3600 + 3596, DF_5994, True, "00:02:00;04"),
        (3596, DF_5994, True, "00:00:59;56"),
        (35964, DF_5994, True, "00:10:00;00"),
        (215784, DF_5994, True, "01:00:00;00"),
        (5_178_815, DF_5994, True, "23:59:59;59"),
        (86400, NTSC_2398, False, "01:00:00:00"),
        (90000, Fraction(25), False, "01:00:00:00"),
        (108000, DF_2997, False, "01:00:00:00"),
        (107892, DF_2997, False, "00:59:56:12"),
        (1, Fraction(60), False, "00:00:00:01"),
        (172800, Fraction(48000, 1001), False, "01:00:00:00"),
        (100, Fraction(120), False, "00:00:00:100"),
        (5, Fraction(120), False, "00:00:00:005"),
    ],
)
def test_known_labels(frames: int, rate: Fraction, df: bool, label: str) -> None:
    assert frames_to_tc(frames, rate, df) == label
    assert tc_to_frames(label, rate, df) == frames
    assert tc_to_frames(label, rate) == frames  # DF inferred from the separator


def test_wraps_at_24_hours() -> None:
    day = frames_per_day(DF_2997, True)
    assert frames_to_tc(day, DF_2997, True) == "00:00:00;00"
    assert frames_to_tc(day + 1800, DF_2997, True) == "00:01:00;02"
    assert frames_to_tc(-1, DF_2997, True) == "23:59:59;29"
    assert frames_to_tc(-1, DF_5994, True) == "23:59:59;59"
    assert frames_to_tc(-1, Fraction(25)) == "23:59:59:24"
    assert frames_to_tc(-1, NTSC_2398) == "23:59:59:23"
    assert frames_to_tc(25 * 86400 * 3 + 1, Fraction(25)) == "00:00:00:01"


def test_drop_frame_at_unsupported_rate_raises() -> None:
    for rate in (Fraction(25), NTSC_2398, Fraction(30), Fraction(48000, 1001)):
        with pytest.raises(ValueError, match="drop-frame"):
            frames_to_tc(0, rate, drop_frame=True)
        with pytest.raises(ValueError, match="drop-frame"):
            tc_to_frames("00:00:00;00", rate, drop_frame=True)


def test_frames_must_be_int() -> None:
    with pytest.raises(TypeError):
        frames_to_tc(1.0, Fraction(25))  # type: ignore[arg-type]


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize("sep", [":", ";", ".", ","])
def test_separators(sep: str) -> None:
    df = sep in ";,"
    label = f"00:01:00{sep}02"
    expected = 1800 if df else 1802
    assert tc_to_frames(label, DF_2997) == expected
    assert is_drop_frame_label(label) == df
    assert tc_to_frames(f"01{sep}00{sep}00{sep}00", Fraction(25)) == 90000


def test_semicolon_at_non_df_rate_reads_as_ndf() -> None:
    assert tc_to_frames("01:00:00;00", Fraction(25)) == 90000
    assert tc_to_frames("00:01:00;00", NTSC_2398) == 1440


def test_explicit_drop_frame_overrides_separator() -> None:
    assert tc_to_frames("00:01:00:02", DF_2997, drop_frame=True) == 1800
    assert tc_to_frames("00:01:00;02", DF_2997, drop_frame=False) == 1802
    assert tc_to_frames("00:01:00;00", DF_2997, drop_frame=False) == 1800


@pytest.mark.parametrize(
    ("label", "rate"),
    [
        ("00:01:00;00", DF_2997),
        ("00:01:00;01", DF_2997),
        ("12:59:00,01", DF_2997),
        ("00:01:00;03", DF_5994),
        ("00:09:00;00", DF_5994),
        ("00:00:00:25", Fraction(25)),
        ("00:00:00:24", NTSC_2398),
        ("00:00:00;30", DF_2997),
        ("00:60:00:00", Fraction(25)),
        ("00:00:60:00", Fraction(25)),
        ("24:00:00:00", Fraction(25)),
        ("aa:00:00:00", Fraction(25)),
        ("00:00:00", Fraction(25)),
        ("00:00:00:00:00", Fraction(25)),
        ("-1:00:00:00", Fraction(25)),
        ("00:00:00:0", Fraction(25)),
        ("00/00/00/00", Fraction(25)),
        ("", Fraction(25)),
        ("０１:00:00:00", Fraction(25)),  # full-width digits are not timecode digits
    ],
)
def test_invalid_labels_raise_naming_string(label: str, rate: Fraction) -> None:
    with pytest.raises(ValueError, match=f"invalid timecode {label!r}"):
        tc_to_frames(label, rate)


def test_tenth_minute_labels_are_valid() -> None:
    for minute in range(0, 60, 10):
        assert tc_to_frames(f"00:{minute:02d}:00;00", DF_2997) == minute // 10 * 17982
        assert tc_to_frames(f"00:{minute:02d}:00;00", DF_5994) == minute // 10 * 35964


# ------------------------------------------------ every minute boundary, hour 1


@pytest.mark.parametrize("rate", [DF_2997, DF_5994], ids=["29.97DF", "59.94DF"])
def test_every_minute_boundary_in_first_hour(rate: Fraction) -> None:
    base = nominal_fps(rate)
    drop = base // 15
    for minute in range(1, 61):
        hh, mm = divmod(minute, 60)
        first = f"{hh:02d}:{mm:02d}:00;"
        last_before = f"{(minute - 1) // 60:02d}:{(minute - 1) % 60:02d}:59;{base - 1:02d}"
        skips = mm % 10 != 0
        first_label = first + f"{drop if skips else 0:02d}"
        before = tc_to_frames(last_before, rate)
        after = tc_to_frames(first_label, rate)
        assert after - before == 1, (last_before, first_label)
        assert frames_to_tc(before, rate, True) == last_before
        assert frames_to_tc(after, rate, True) == first_label
        for ff in range(drop):
            label = first + f"{ff:02d}"
            if skips:
                with pytest.raises(ValueError, match="skipped"):
                    tc_to_frames(label, rate)
            else:
                assert tc_to_frames(label, rate) == before + 1 + ff


def _label_counter(label: str, base: int) -> int:
    """A label's face value as a plain counter (what NDF would count), for gap checks."""
    hh, mm, rest = label.split(":")
    ss, ff = rest.split(";")
    return (int(hh) * 3600 + int(mm) * 60 + int(ss)) * base + int(ff)


@pytest.mark.parametrize("rate", [DF_2997, DF_5994], ids=["29.97DF", "59.94DF"])
def test_df_exhaustive_first_ten_minutes_and_day_wrap(rate: Fraction) -> None:
    """Every frame of a full ten-minute cycle and of the day's last 70 s, plus the wrap.

    Each frame round-trips, and the label counter advances by exactly one except at
    the start of a non-tenth minute, where it jumps over the dropped labels.
    """
    base = nominal_fps(rate)
    drop = base // 15
    day = frames_per_day(rate, True)
    for span in (range(base * 600 + 10), range(day - base * 70, day + 5)):
        prev: int | None = None
        for frame in span:
            label = frames_to_tc(frame, rate, True)
            assert tc_to_frames(label, rate) == frame % day
            counter = _label_counter(label, base)
            if prev is not None and frame % day != 0:
                _, mm, rest = label.split(":")
                dropping_boundary = rest == f"00;{drop:02d}" and int(mm) % 10 != 0
                assert counter - prev == (1 + drop if dropping_boundary else 1), label
            prev = counter
        if span.stop > day:
            assert frames_to_tc(day, rate, True) == "00:00:00;00"


# -------------------------------------------------------------- property test


@settings(max_examples=300, deadline=None)
@given(data=st.data(), mode=st.sampled_from(MODES))
def test_round_trip_property(data: st.DataObject, mode: tuple[Fraction, bool]) -> None:
    rate, df = mode
    frame = data.draw(st.integers(min_value=0, max_value=frames_per_day(rate, df) - 1), label="frame")
    label = frames_to_tc(frame, rate, df)
    assert tc_to_frames(label, rate, df) == frame
    assert tc_to_frames(label, rate) == frame
    assert (";" in label) == df


@settings(max_examples=100, deadline=None)
@given(mode=st.sampled_from(MODES), frame=st.integers(min_value=-(10**9), max_value=10**9))
def test_wrap_property(mode: tuple[Fraction, bool], frame: int) -> None:
    rate, df = mode
    day = frames_per_day(rate, df)
    assert frames_to_tc(frame, rate, df) == frames_to_tc(frame % day, rate, df)
    assert tc_to_frames(frames_to_tc(frame, rate, df), rate, df) == frame % day


@pytest.mark.parametrize("mode", MODES, ids=[_mode_id(m) for m in MODES])
def test_round_trip_day_edges(mode: tuple[Fraction, bool]) -> None:
    rate, df = mode
    day = frames_per_day(rate, df)
    for frame in (0, 1, day - 1, day // 2):
        assert tc_to_frames(frames_to_tc(frame, rate, df), rate, df) == frame


# ------------------------------------------------------------------- seconds


def test_frame_seconds_exact() -> None:
    assert frame_to_seconds(30, DF_2997) == Fraction(1001, 1000)
    assert frame_to_seconds(0, DF_2997) == 0
    assert frame_to_seconds(25, Fraction(25)) == 1
    assert isinstance(frame_to_seconds(1, NTSC_2398), Fraction)


def test_seconds_to_frame() -> None:
    assert seconds_to_frame(Fraction(1001, 1000), DF_2997) == 30
    assert seconds_to_frame(1.001, DF_2997) == 30
    assert seconds_to_frame(1.0010009999, DF_2997) == 30
    assert seconds_to_frame(1.0009995, DF_2997) == 30  # within 1 us below the boundary
    assert seconds_to_frame(1.000998, DF_2997) == 29  # 2 us below: still frame 29
    assert seconds_to_frame(0.0399999, Fraction(25)) == 1
    assert seconds_to_frame(0.039, Fraction(25)) == 0
    assert seconds_to_frame(0, Fraction(25)) == 0
    assert seconds_to_frame(3600, DF_2997) == 107892
    assert seconds_to_frame(-0.01, Fraction(25)) == -1
    with pytest.raises(ValueError, match="time"):
        seconds_to_frame(float("nan"), Fraction(25))


@settings(max_examples=200, deadline=None)
@given(mode=st.sampled_from(MODES), frame=st.integers(min_value=0, max_value=10**8))
def test_seconds_round_trip_property(mode: tuple[Fraction, bool], frame: int) -> None:
    rate, _ = mode
    exact = frame_to_seconds(frame, rate)
    assert seconds_to_frame(exact, rate) == frame
    assert seconds_to_frame(float(exact), rate) == frame
    # The middle of the frame belongs to it as well.
    assert seconds_to_frame(exact + 1 / (2 * rate), rate) == frame


# ----------------------------------------------------------------------- BWF


@pytest.mark.parametrize(
    ("rate", "df", "frames", "label"),
    [
        (Fraction(25), False, 90000, "01:00:00:00"),
        (Fraction(24), False, 86400, "01:00:00:00"),
        (Fraction(50), False, 180000, "01:00:00:00"),
        # NTSC: 3600 s of real time is 107892.1 frames, floored. That is exactly
        # 01:00:00;00 in drop frame, but the NDF label runs 0.1 % slow of the clock.
        (DF_2997, True, 107892, "01:00:00;00"),
        (DF_2997, False, 107892, "00:59:56:12"),
        (NTSC_2398, False, 86313, "00:59:56:09"),
    ],
)
def test_bwf_one_hour(rate: Fraction, df: bool, frames: int, label: str) -> None:
    got = bwf_time_reference_to_frames(172_800_000, 48_000, rate)
    assert got == frames
    assert frames_to_tc(got, rate, df) == label


def test_bwf_floors_and_validates() -> None:
    # One sample short of frame 1 at 25 fps (1920 samples per frame at 48 kHz).
    assert bwf_time_reference_to_frames(1919, 48_000, Fraction(25)) == 0
    assert bwf_time_reference_to_frames(1920, 48_000, Fraction(25)) == 1
    # 23.976 frame 1 starts at exactly 2002 samples at 48 kHz.
    assert bwf_time_reference_to_frames(2001, 48_000, NTSC_2398) == 0
    assert bwf_time_reference_to_frames(2002, 48_000, NTSC_2398) == 1
    assert bwf_time_reference_to_frames(96_000 * 3600, 96_000, Fraction(25)) == 90000
    with pytest.raises(ValueError):
        bwf_time_reference_to_frames(-1, 48_000, Fraction(25))
    with pytest.raises(ValueError):
        bwf_time_reference_to_frames(0, 0, Fraction(25))


# ------------------------------------------------------------- start timecode


def test_source_priority_order() -> None:
    assert [s.value for s in TimecodeSource] == [
        "camera-xml", "container", "dpx-header", "exr-header", "file-tags", "frame-number", "default",
    ]  # fmt: skip
    assert TimecodeSource.CAMERA_XML.priority < TimecodeSource.CONTAINER.priority
    assert TimecodeSource.CONTAINER.priority < TimecodeSource.FILE_TAGS.priority
    assert TimecodeSource.FILE_TAGS.priority < TimecodeSource.DEFAULT.priority
    assert TimecodeSource.CONTAINER == "container"


def test_pick_highest_priority_regardless_of_order() -> None:
    start = pick_start_timecode(
        [
            (TimecodeSource.FILE_TAGS, "02:00:00:00"),
            (TimecodeSource.CAMERA_XML, "01:00:00:00"),
            (TimecodeSource.CONTAINER, "03:00:00:00"),
        ],
        Fraction(25),
    )
    assert start == StartTimecode(90000, Fraction(25), False, TimecodeSource.CAMERA_XML)
    assert start.text == "01:00:00:00"
    assert start.seconds == 3600


def test_pick_skips_unparsable() -> None:
    start = pick_start_timecode(
        [
            (TimecodeSource.CAMERA_XML, "garbage"),
            (TimecodeSource.CONTAINER, "00:01:00;00"),  # dropped label at 29.97 DF
            (TimecodeSource.FILE_TAGS, "01:00:00;00"),
        ],
        DF_2997,
    )
    assert start.source is TimecodeSource.FILE_TAGS
    assert start.drop_frame
    assert start.frames == 107892
    assert start.text == "01:00:00;00"


def test_pick_first_of_same_source_wins() -> None:
    start = pick_start_timecode(
        [(TimecodeSource.CONTAINER, "00:00:10:00"), (TimecodeSource.CONTAINER, "00:00:20:00")], Fraction(24)
    )
    assert start.frames == 240


def test_pick_drop_frame_inference() -> None:
    ndf = pick_start_timecode([(TimecodeSource.CONTAINER, "01:00:00:00")], DF_2997)
    assert not ndf.drop_frame and ndf.frames == 108000 and ndf.text == "01:00:00:00"
    df = pick_start_timecode([(TimecodeSource.CONTAINER, "01:00:00,00")], DF_5994)
    assert df.drop_frame and df.frames == 215784 and df.text == "01:00:00;00"
    # ";" at a rate without DF: read as NDF, labelled NDF.
    other = pick_start_timecode([(TimecodeSource.CONTAINER, "01:00:00;00")], NTSC_2398)
    assert not other.drop_frame and other.frames == 86400 and other.text == "01:00:00:00"


def test_pick_fallback_default() -> None:
    for candidates in ([], [(TimecodeSource.CAMERA_XML, "nope"), (TimecodeSource.CONTAINER, "99:99:99:99")]):
        start = pick_start_timecode(candidates, DF_2997)
        assert start.source is TimecodeSource.DEFAULT
        assert start.frames == 0
        assert not start.drop_frame
        assert start.text == "00:00:00:00"
    explicit = pick_start_timecode([(TimecodeSource.DEFAULT, "10:00:00:00")], Fraction(25))
    assert explicit.source is TimecodeSource.DEFAULT and explicit.frames == 900000


def test_pick_accepts_source_strings_and_generators() -> None:
    start = pick_start_timecode(((s, t) for s, t in [("container", "00:00:01:00")]), Fraction(50))  # type: ignore[misc]
    assert start.source is TimecodeSource.CONTAINER
    assert start.frames == 50


def test_start_timecode_is_frozen() -> None:
    start = pick_start_timecode([], Fraction(25))
    with pytest.raises(AttributeError):
        start.frames = 5  # type: ignore[misc]
