"""The ``[cards]`` config section: what kinod does with a card before analysing its clips."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator


class CardsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Verify ASC MHL and legacy .mhl manifests first; a card that fails is not analysed.
    verify_mhl: bool = True
    #: Hashes of every card file recorded in the card report (always computed during
    #: verification; without an MHL they are what a later copy can be checked against).
    #: Empty: hash nothing when the card has no MHL (faster on huge cards, no record).
    record_hashes: tuple[Literal["xxh64", "xxh128", "xxh3", "md5", "sha1"], ...] = ("xxh64",)
    #: Integrity checks (missing moov, MediaInfo IsTruncated, decode of head and tail)
    #: before analysis; failing files are listed and skipped by analyzers.
    integrity_check: bool = True
    #: Write card.kino.json and card.html for each card.
    report: bool = True
    #: Frame rate that labels a Broadcast WAV's bext start when its iXML names none and
    #: its card holds no video clip to take the rate from ("25", "24000/1001", "29.97").
    audio_tc_rate: str = "25"
    #: Frame rate of an image sequence whose frames' headers name none (TIFF, PNG, JPEG,
    #: DPX/EXR without it); its first frame number is then its start, counted at this rate.
    sequence_rate: str = "24"

    @field_validator("audio_tc_rate", "sequence_rate")
    @classmethod
    def _a_rate(cls, v: str) -> str:
        from kinod.media.timecode import parse_rate

        try:
            parse_rate(v)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{v!r} is not a frame rate (e.g. \"25\", \"24000/1001\")") from None
        return v
