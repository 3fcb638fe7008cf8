"""What every spectrum reader checks before it hands out a `Spectrum`.

A file written by an instrument may run from high to low wavelength; such a
strictly decreasing grid is reversed here, once, for every format. Anything
else that the `Spectrum` constructor would refuse (NaN, duplicated or
non-monotonic wavelengths, too many points) is caught first so that the
message can name the file and the line the value came from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from blending.errors import InputError, located
from sorter.spectrum import MAX_POINTS, Metadata, Spectrum, SpectrumError

# Metadata keys that have their own field in `Metadata`; an ``extra`` key may not reuse them.
RESERVED_KEYS = ("instrument", "shots", "timestamp", "piece_id")
# An ``extra`` key must survive being written as "# key: value" or "##$key=value".
EXTRA_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


class SpectrumFileError(SpectrumError):
    """Bad content in a spectrum file.

    The message reads ``"p3.csv line 12, intensity: 'abc' is not a number"``:
    file as the user gave it, line (1-based, as an editor shows it) and field.
    """

    def __init__(self, file: str, line: int | None, field: str | None, reason: str):
        super().__init__(f"{located(file, 'line', line, field)}: {reason}")
        self.file, self.line, self.field, self.reason = file, line, field, reason


def checked_spectrum(file: str, wavelength_nm: Sequence[float] | np.ndarray, intensity: Sequence[float] | np.ndarray,
                     metadata: Metadata, lines: Sequence[int] | None = None) -> Spectrum:
    """A `Spectrum` from values read out of ``file``, or an error naming file and line.

    Parameters
    ----------
    file : str
        Name of the file for messages.
    wavelength_nm, intensity : sequence of float
        Values in file order [nm] and [counts]; a strictly decreasing grid is reversed.
    metadata : Metadata
    lines : sequence of int, optional
        Line number of each point, for messages.
    """
    wl = np.asarray(wavelength_nm, dtype=np.float64)
    it = np.asarray(intensity, dtype=np.float64)

    def at(i: int) -> int | None:
        return None if lines is None else int(lines[i])

    if wl.size == 0:
        raise SpectrumFileError(file, None, None, "holds no data points")
    if wl.size > MAX_POINTS:
        raise SpectrumFileError(file, None, None, f"{wl.size} points is more than the {MAX_POINTS} allowed")
    if wl.shape != it.shape:
        raise SpectrumFileError(file, None, "intensity",
                                f"{it.size} values for {wl.size} wavelengths; lengths must match")
    for name, values in (("wavelength_nm", wl), ("intensity", it)):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise SpectrumFileError(file, at(bad[0]), name, f"{values[bad[0]]} is not a finite number")
    steps = np.diff(wl)
    descending = steps.size > 0 and steps[0] < 0  # the first step sets the direction of the file
    bad = np.flatnonzero(steps >= 0 if descending else steps <= 0)
    if bad.size:
        k = int(bad[0])
        if steps[k] == 0:
            where = "" if lines is None else f" (also on line {at(k)})"
            reason = f"{wl[k + 1]:.10g} nm is duplicated{where}"
        else:
            reason = (f"{wl[k + 1]:.10g} nm follows {wl[k]:.10g} nm; wavelengths must all increase "
                      "or all decrease")
        raise SpectrumFileError(file, at(k + 1), "wavelength_nm", reason)
    first = wl.size - 1 if descending else 0
    if descending:
        wl, it = wl[::-1], it[::-1]
    if wl[0] <= 0:
        raise SpectrumFileError(file, at(first), "wavelength_nm", f"{wl[0]:.10g} nm is not positive")
    try:
        return Spectrum(wl, it, metadata)
    except SpectrumError as exc:  # pragma: no cover - the checks above mirror the constructor's
        raise SpectrumFileError(file, None, None, str(exc)) from None


def _folded(key: str) -> str:
    return re.sub(r"[\s\-/_.]", "", key).lower()


def check_metadata_writable(file: str, metadata: Metadata, *, forbidden: str = "") -> None:
    """Refuse metadata that a one-line header cannot hold (line breaks, odd or clashing keys).

    ``forbidden`` is a character sequence the format cannot hold in a value (JCAMP-DX: ``$$``).
    """
    if metadata.shots is not None and (not isinstance(metadata.shots, int) or metadata.shots < 0):
        raise SpectrumFileError(file, None, "shots", f"{metadata.shots!r} is not a whole number >= 0")
    values = {"instrument": metadata.instrument, "piece_id": metadata.piece_id, **metadata.extra}
    seen: dict[str, str] = {}
    for key in metadata.extra:
        if not isinstance(key, str) or not EXTRA_KEY.fullmatch(key):
            raise SpectrumFileError(file, None, f"metadata key {key!r}",
                                    "must start with a letter and hold only letters, digits, '_', '.', '-'")
        folded = _folded(key)
        if folded in {_folded(k) for k in RESERVED_KEYS}:
            raise SpectrumFileError(file, None, f"metadata key {key!r}",
                                    "is a Metadata field; set it there instead of in extra")
        if folded in seen:
            raise SpectrumFileError(file, None, f"metadata key {key!r}",
                                    f"cannot be told apart from {seen[folded]!r} (case, '_', '-', '.' are ignored)")
        seen[folded] = key
    for key, value in values.items():
        if not isinstance(value, str):
            raise SpectrumFileError(file, None, key, f"{value!r} is not text")
        if value and value.splitlines() != [value]:
            raise SpectrumFileError(file, None, key, "contains a line break; metadata must fit on one line")
        if value != value.strip():
            raise SpectrumFileError(file, None, key, f"{value!r} has leading or trailing blanks")
        if forbidden and forbidden in value:
            raise SpectrumFileError(file, None, key, f"contains {forbidden!r}, which this format reads as a comment")


NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


def parse_number(text: str, file: str, line: int, field: str) -> float:
    """A decimal number written in a file, or an error naming file, line and field."""
    text = text.strip()
    if NUMBER.fullmatch(text):
        return float(text)
    if _NON_FINITE.fullmatch(text):
        raise SpectrumFileError(file, line, field, f"{text} is not a finite number")
    if not text:
        raise SpectrumFileError(file, line, field, "is empty; a number is required")
    raise SpectrumFileError(file, line, field, f"{text!r} is not a number")


def parse_count(text: str, file: str, line: int, field: str) -> int:
    text = text.strip()
    if not re.fullmatch(r"\+?\d+", text):
        raise SpectrumFileError(file, line, field, f"{text!r} is not a whole number")
    return int(text)


def float_text(value: float) -> str:
    """Shortest text that reads back as exactly ``value`` (Python's repr of a float)."""
    text = repr(float(value))
    if not math.isfinite(value):
        raise InputError(f"{text} is not finite")
    return text
