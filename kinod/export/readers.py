"""Reading NLE marker files back: the one entry point, with one error type.

WHY: each writer's ``read`` leans on a different library (OpenTimelineIO, defusedxml,
csv, our EDL parser), and a damaged file came out as whatever that library raised:
a bare ``ValueError``, a ``UnicodeDecodeError`` or an OTIO schema error, none naming
the file. Fuzzing (tests/test_fuzz_parsers.py) found them; here they all become a
:class:`MarkerReadError` that names the file and the format.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from kinod.export.writers import get_writer
from kinod.export.writers.base import ReadMarker


class MarkerReadError(ValueError):
    """A marker file cannot be read; the message names the file and the format."""


def read_markers(fmt: str, path: Path, rate: Fraction | None = None) -> list[ReadMarker]:
    """The markers of ``path`` read as ``fmt``; raises MarkerReadError for any damaged input."""
    writer = get_writer(fmt)
    try:
        return writer.read(path, rate)
    except OSError as e:
        raise MarkerReadError(f"{path}: cannot read {fmt} file: {e.strerror or e}") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError, ArithmeticError) as e:
        raise MarkerReadError(f"{path}: not a readable {fmt} file: {type(e).__name__}: {e}") from None
    except Exception as e:  # library-specific parse errors (OpenTimelineIO's own types)
        if type(e).__module__.startswith(("opentimelineio", "defusedxml", "xml", "csv")):
            raise MarkerReadError(f"{path}: not a readable {fmt} file: {type(e).__name__}: {e}") from None
        raise
