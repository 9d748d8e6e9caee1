"""The ``[export]`` config section: marker colours, which categories, per-format choices.

A strict pydantic model like every other section, so a typo in a colour or a
category stops the daemon at start instead of producing files with the wrong colours.
"""

from __future__ import annotations

import re
from typing import Literal

import opentimelineio as otio
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kinod.contracts import catalog
from kinod.export.timeline import resolve_colors

#: ``resolve_record_start`` as a timecode (``01:00:00:00``; ``;`` before the frames for DF).
_TC_RE = re.compile(r"^\d{2}:\d{2}:\d{2}[:;]\d{2}$")


def otio_releases() -> tuple[str, ...]:
    """OTIO releases this OTIO can downgrade to (``versioning.full_map``'s ``OTIO_CORE`` keys)."""
    full = otio.versioning.full_map()  # held: its nested maps die with it
    return tuple(sorted(str(k) for k in full["OTIO_CORE"]))


#: Formats written per card by default (subtitles are per clip only).
DEFAULT_CARD_FORMATS: tuple[str, ...] = ("otio", "resolve-edl", "fcp7", "fcpxml", "avid", "csv")


class ExportOptions(BaseModel):
    """Everything a writer may be told. Defaults suit Resolve, Premiere and Avid as shipped."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Marker colour per category, OTIO colour names (PINK RED ORANGE YELLOW GREEN CYAN BLUE
    #: PURPLE MAGENTA BLACK WHITE); unlisted categories keep their default.
    colors: dict[str, str] = Field(default_factory=dict)
    #: Only these marker categories are exported; empty means all.
    categories: tuple[str, ...] = ()
    #: Formats written for each card after its last clip (``write_card_formats``).
    card_formats: tuple[str, ...] = DEFAULT_CARD_FORMATS
    #: Longest gap put between two clips of a card where the time of day jumps.
    card_max_gap_seconds: float = Field(10.0, ge=0)
    #: FCPXML version: 1.10 (Final Cut Pro 10.6+, Resolve 18+) or 1.9 for older hosts.
    fcpxml_version: Literal["1.10", "1.9"] = "1.10"
    #: Categories written as FCPXML chapter markers instead of standard markers.
    fcpxml_chapter_categories: tuple[str, ...] = ()
    #: xmeml version of the FCP7 XML: 4 is what Premiere Pro writes, 5 what FCP 7 wrote last.
    fcp7_version: Literal[4, 5] = 4
    #: The "user" column of Avid locator files.
    avid_user: str = Field("kinod", min_length=1, max_length=64)
    #: Track the Avid locators sit on (V1 for picture; audio-only clips always use A1).
    avid_track: str = Field("V1", pattern=r"^(V|A)[0-9]{1,2}$")
    #: Subtitle limits (what subtitle editors and broadcasters expect).
    subtitle_max_line_chars: int = Field(42, ge=10, le=120)
    subtitle_max_lines: int = Field(2, ge=1, le=4)
    subtitle_max_duration_s: float = Field(7.0, gt=0.5)
    subtitle_min_duration_s: float = Field(0.833, ge=0)
    subtitle_min_gap_s: float = Field(0.083, ge=0)
    #: Prefix the speaker name to every cue (VTT uses a voice span instead); none when a segment has no speaker.
    subtitle_speakers: bool = True
    #: Write a UTF-8 byte order mark so Excel opens the CSV as UTF-8.
    csv_bom: bool = True
    #: Prefix ``'`` to cells starting with = + - @ so spreadsheets never run them as formulas.
    csv_formula_guard: bool = True
    # --- record start of Resolve marker EDLs, OTIO target version
    #: Record timecode of the Resolve marker EDL's first frame: ``"source"`` (the clip's or
    #: card's own start TC) or a timecode such as ``"01:00:00:00"`` (Resolve's default timeline start).
    resolve_record_start: str = "source"
    #: OTIO release whose schema versions the ``.otio`` files are written in ("" = this
    #: OTIO's own, e.g. ``"0.14.0"`` for hosts that bundle an older OTIO).
    otio_target_version: str = ""

    @field_validator("colors")
    @classmethod
    def _colors(cls, v: dict[str, str]) -> dict[str, str]:
        full = resolve_colors(v)
        return {k: full[k] for k in v}

    @field_validator("categories", "fcpxml_chapter_categories")
    @classmethod
    def _categories(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        known = catalog.category_names()  # kinod's own and those the installed analyzers declare
        unknown = [c for c in v if c not in known]
        if unknown:
            raise ValueError(f"unknown marker categories {unknown} (known: {', '.join(known)})")
        return v

    @field_validator("resolve_record_start")
    @classmethod
    def _record_start(cls, v: str) -> str:
        v = v.strip()
        if v != "source" and not _TC_RE.match(v):
            raise ValueError(f"resolve_record_start must be 'source' or a timecode HH:MM:SS:FF, not {v!r}")
        return v

    @field_validator("otio_target_version")
    @classmethod
    def _otio_version(cls, v: str) -> str:
        v = v.strip()
        known = otio_releases()
        if v and v not in known:
            raise ValueError(
                f"otio_target_version {v!r} is not an OTIO release this OTIO can write (known: {', '.join(known)})"
            )
        return v

    @model_validator(mode="after")
    def _min_below_max(self) -> ExportOptions:
        if self.subtitle_min_duration_s >= self.subtitle_max_duration_s:
            raise ValueError("subtitle_min_duration_s must be below subtitle_max_duration_s")
        return self
