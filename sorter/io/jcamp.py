"""Spectra in JCAMP-DX 4.24 / 5.01, the instrument-neutral spectroscopy exchange format.

Reading of the standard (McDonald & Wilks 1988; Lampen et al. 1999 for 5.01)
-----------------------------------------------------------------------------
* A file is a list of labelled data records ``##LABEL=value``; a value runs on
  until the next ``##``. Labels compare with blanks, ``-``, ``/`` and ``_``
  removed and case ignored (``##SPECTROMETER/DATA SYSTEM`` equals
  ``##SPECTROMETERDATASYSTEM``). ``$$`` starts a comment to the end of the line.
  Labels starting with ``$`` are user-defined; here ``##$SHOTS`` and
  ``##$PIECE ID`` carry `Metadata` fields and any other ``##$key`` an ``extra``.
* ``##XYDATA=(X++(Y..Y))``: equally spaced abscissae. Each line holds the
  abscissa of its *first* ordinate, in units of ``##XFACTOR``, then ordinates
  in units of ``##YFACTOR``. The grid itself is ``##FIRSTX`` to ``##LASTX`` in
  ``##NPOINTS`` equal steps (FIRSTX/LASTX are in real units, not scaled); the
  X at each line start is only a check, used here to catch lost or extra
  ordinates (more than half a step off is an error).
* Ordinates are AFFN (free-format decimals) or ASDF (Table VII of the paper),
  where the first character of a value carries its form and sign:
  SQZ ``@ A-I / a-i`` = absolute value with leading digit 0, 1..9 / -1..-9;
  DIF ``% J-R / j-r`` = difference from the previous ordinate, leading digit
  0, 1..9 / -1..-9; DUP ``S-Z, s`` = the previous value or difference occurs
  1..9 times in all (the count includes the first occurrence, so ``jX`` is six
  steps of -1). PAC: ``+`` / ``-`` act as delimiter and sign.
* Y check: when a line ends in DIF form, the next line starts with its X and
  the *last ordinate of the previous line again* (in SQZ form); that
  repetition is a check, compared and dropped. A final line holding only
  such a check is common and allowed.
* ``##XYPOINTS=(XY..XY)`` and ``##PEAK TABLE=(XY..XY)`` are AFFN pairs
  ``x, y`` separated by blanks or ``;``, for grids that are not equally spaced.
* ``##XUNITS``: NANOMETERS; MICROMETERS (times 1000); 1/CM (wavenumbers,
  converted to vacuum wavelength and then to air wavelength with the Edlén
  formula as given by Morton 2000, since LIBS line lists use air wavelengths
  above 200 nm). Any other unit is refused.
* ``##LONGDATE=YYYY/MM/DD HH:MM:SS[.ffffff] [+HHMM]`` (5.01), ISO 8601 accepted.
* Not read: ``##NTUPLES`` (multi-dimensional) and multi-block (``##BLOCKS``)
  files; both are refused with a message.

Writing
-------
``##JCAMP-DX=5.01``, ``##XUNITS=NANOMETERS``. A grid that is equally spaced to
within ``uniform_rtol`` of a step goes into ``##XYDATA=(X++(Y..Y))``, whose
grid reads back as ``linspace(FIRSTX, LASTX, NPOINTS)``; any other grid goes
into ``##XYPOINTS=(XY..XY)``, which reads back exactly. ``compression="affn"``
(default) writes ordinates as ``repr`` decimals with ``YFACTOR=1``: exact.
``compression="difdup"`` needs integers: counts that are already whole numbers
are written with ``YFACTOR=1`` (exact); anything else is scaled so that the
largest magnitude is 10**9, i.e. rounded to within 5e-10 of the largest
|intensity|.

References
----------
.. [1] R. S. McDonald and P. A. Wilks, "JCAMP-DX: A Standard Form for Exchange of
   Infrared Spectra in Computer Readable Form", Appl. Spectrosc. 42, 151-162 (1988).
.. [2] P. Lampen, J. Lambert, R. J. Lancashire et al., "An Extension to the JCAMP-DX
   Standard File Format, JCAMP-DX V.5.01", Pure Appl. Chem. 71, 1549-1556 (1999).
.. [3] D. C. Morton, "Atomic data for resonance absorption lines. II.", ApJS 130,
   403-436 (2000), eq. 8 (vacuum to air).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from blending.errors import InputError
from sorter.io.checks import (
    SpectrumFileError,
    check_metadata_writable,
    checked_spectrum,
    float_text,
    parse_count,
    parse_number,
)
from sorter.io.text import read_file_text
from sorter.spectrum import Metadata, Spectrum

MAX_LINE = 80  # the standard's line length limit

_SQZ = {"@": 0, **{c: i + 1 for i, c in enumerate("ABCDEFGHI")}, **{c: -(i + 1) for i, c in enumerate("abcdefghi")}}
_DIF = {"%": 0, **{c: i + 1 for i, c in enumerate("JKLMNOPQR")}, **{c: -(i + 1) for i, c in enumerate("jklmnopqr")}}
_DUP = {c: i + 1 for i, c in enumerate("STUVWXYZs")}
_SQZ_OUT = {v: k for k, v in _SQZ.items() if v >= 0}
_SQZ_NEG = {-v: k for k, v in _SQZ.items() if v < 0}
_DIF_OUT = {v: k for k, v in _DIF.items() if v >= 0}
_DIF_NEG = {-v: k for k, v in _DIF.items() if v < 0}
_DUP_OUT = {v: k for k, v in _DUP.items()}

# AFFN exponents need a sign ("1E+05"), which is what tells them from SQZ 'E' (=5) and 'e' (=-5).
_TOKEN = re.compile(r"""
    (?P<sep>[\s,;]+)
  | (?P<affn>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]\d+)?)
  | (?P<sqz>[@A-Ia-i]\d*\.?\d*)
  | (?P<dif>[%J-Rj-r]\d*\.?\d*)
  | (?P<dup>[S-Zs]\d*)
""", re.VERBOSE)


@dataclass(frozen=True)
class _Record:
    label: str  # as written, without "##"
    key: str  # normalised for comparison
    value: str  # first line's value
    data: list[tuple[int, str]]  # (line number, text) of the following lines
    line: int


def _normalise(label: str) -> str:
    return re.sub(r"[\s\-/_]", "", label).upper()


def read_jcamp(path: str | Path, *, name: str | None = None) -> Spectrum:
    """Read a JCAMP-DX spectrum file (wavelength axis).

    Parameters
    ----------
    path : str or Path
    name : str, optional
        How errors name the file; defaults to ``path`` as given.
    """
    name = str(path) if name is None else name
    return parse_jcamp(read_file_text(path, name), name)


def _records(text: str, file: str) -> list[_Record]:
    records: list[_Record] = []
    current: _Record | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("$$", 1)[0].rstrip()
        if raw.lstrip().startswith("##"):
            head = raw.lstrip()[2:]
            if "=" not in head:
                raise SpectrumFileError(file, number, None, f"label {raw.strip()!r} has no '='")
            label, value = head.split("=", 1)
            value = value.split("$$", 1)[0].strip()
            current = _Record(label.strip(), _normalise(label), value, [], number)
            records.append(current)
            if current.key == "END":
                break
        elif line.strip():
            if current is None:
                raise SpectrumFileError(file, number, None, "text before the first ##LABEL=; not a JCAMP-DX file")
            current.data.append((number, line))
    if not records:
        raise SpectrumFileError(file, None, None, "has no ##LABEL= records; not a JCAMP-DX file")
    return records


def parse_jcamp(text: str, file: str = "<jcamp>") -> Spectrum:
    """Parse the content of a JCAMP-DX file; ``file`` names it in errors."""
    records = _records(text, file)
    by_key: dict[str, _Record] = {}
    for rec in records:
        if rec.key in ("BLOCKS", "NTUPLES"):
            raise SpectrumFileError(file, rec.line, f"##{rec.label}",
                                    "multi-block and NTUPLES files are not supported; export one spectrum per file")
        if rec.key in by_key and rec.key in ("XYDATA", "XYPOINTS", "PEAKTABLE", "TITLE"):
            raise SpectrumFileError(file, rec.line, f"##{rec.label}",
                                    f"appears twice (also line {by_key[rec.key].line}); one spectrum per file")
        by_key.setdefault(rec.key, rec)

    def number(key: str, default: float | None = None) -> float | None:
        rec = by_key.get(key)
        if rec is None or not rec.value:
            return default
        return parse_number(rec.value, file, rec.line, f"##{rec.label}")

    xfactor = number("XFACTOR", 1.0)
    yfactor = number("YFACTOR", 1.0)
    for key, factor in (("XFACTOR", xfactor), ("YFACTOR", yfactor)):
        if factor == 0:
            raise SpectrumFileError(file, by_key[key].line, f"##{key}", "is 0; must be non-zero")

    if "XYDATA" in by_key:
        rec = by_key["XYDATA"]
        if _normalise(rec.value) != "(X++(Y..Y))":
            raise SpectrumFileError(file, rec.line, "##XYDATA",
                                    f"{rec.value!r} is not supported; expected (X++(Y..Y))")
        x, y, lines = _xydata(rec, file, xfactor, yfactor, number)
    else:
        rec = by_key.get("XYPOINTS") or by_key.get("PEAKTABLE")
        if rec is None:
            raise SpectrumFileError(file, None, None, "has no ##XYDATA, ##XYPOINTS or ##PEAK TABLE record")
        if _normalise(rec.value) not in ("(XY..XY)", "(XY...XY)"):
            raise SpectrumFileError(file, rec.line, f"##{rec.label}",
                                    f"{rec.value!r} is not supported; expected (XY..XY)")
        x, y, lines = _xypairs(rec, file, xfactor, yfactor)
        expected = number("NPOINTS")
        if expected is not None and int(expected) != len(x):
            raise SpectrumFileError(file, by_key["NPOINTS"].line, "##NPOINTS",
                                    f"says {int(expected)} but ##{rec.label} holds {len(x)} points")
    x_nm = _to_nanometres(np.asarray(x, dtype=np.float64), by_key.get("XUNITS"), file)
    return checked_spectrum(file, x_nm, y, _metadata(by_key, file), lines)


def _to_nanometres(x: np.ndarray, rec: _Record | None, file: str) -> np.ndarray:
    if rec is None:
        raise SpectrumFileError(file, None, "##XUNITS", "is missing; the wavelength unit must be stated")
    unit = _normalise(rec.value)
    if unit in ("NANOMETERS", "NANOMETRES", "NM"):
        return x
    if unit in ("MICROMETERS", "MICROMETRES", "MICRONS", "UM", "ΜM"):
        return x * 1000.0
    if unit in ("1/CM", "CM1", "CM^1", "1CM"):
        if np.any(x <= 0):
            raise SpectrumFileError(file, rec.line, "##XUNITS", "1/CM data holds a wavenumber <= 0")
        return vacuum_to_air_nm(1e7 / x)
    raise SpectrumFileError(file, rec.line, "##XUNITS",
                            f"{rec.value!r} is not a wavelength unit; expected NANOMETERS, MICROMETERS or 1/CM")


def vacuum_to_air_nm(wavelength_vacuum_nm: np.ndarray) -> np.ndarray:
    """Air wavelength [nm] from vacuum wavelength [nm] (Morton 2000, eq. 8; Edlén 1966).

    ``n - 1 = 8.34254e-5 + 2.406147e-2 / (130 - s^2) + 1.5998e-4 / (38.9 - s^2)``
    with ``s = 1e4 / lambda_vac[Angstrom]``; valid above 200 nm, below which the
    wavelength is returned unchanged (vacuum-UV lines are tabulated in vacuum).
    """
    lam = np.asarray(wavelength_vacuum_nm, dtype=np.float64)
    s2 = (1e4 / (lam * 10.0)) ** 2
    n = 1.0 + 8.34254e-5 + 2.406147e-2 / (130.0 - s2) + 1.5998e-4 / (38.9 - s2)
    return np.where(lam > 200.0, lam / n, lam)


def _tokens(text: str, file: str, line: int) -> list[tuple[str, float]]:
    """(form, value) for each ASDF/AFFN item of one data line; DUP value = count."""
    out: list[tuple[str, float]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise SpectrumFileError(file, line, "XYDATA",
                                    f"unexpected character {text[pos]!r} at column {pos + 1}")
        pos = m.end()
        kind = m.lastgroup
        tok = m.group()
        if kind == "sep":
            continue
        if kind == "affn":
            out.append(("abs", float(tok)))
        elif kind == "dup":
            out.append(("dup", int(str(_DUP[tok[0]]) + tok[1:])))
        else:
            table = _SQZ if kind == "sqz" else _DIF
            lead = table[tok[0]]
            magnitude = float(str(abs(lead)) + tok[1:])
            out.append(("abs" if kind == "sqz" else "dif", -magnitude if lead < 0 else magnitude))
    return out


def decode_asdf_line(text: str, file: str = "<jcamp>", line: int = 0) -> tuple[float, list[float], bool]:
    """Decode one ``(X++(Y..Y))`` line.

    Returns
    -------
    x : float
        Abscissa of the line's first ordinate (in XFACTOR units).
    y : list of float
        Ordinates (in YFACTOR units), DIF and DUP expanded; the Y check is *not* removed.
    ends_in_dif : bool
        Whether the last ordinate was written as a difference, so that the next
        line repeats it as a check.
    """
    tokens = _tokens(text, file, line)
    if not tokens or tokens[0][0] != "abs":
        raise SpectrumFileError(file, line, "XYDATA", "a data line must start with its X value")
    x = tokens[0][1]
    ys: list[float] = []
    last: tuple[str, float] | None = None
    for kind, value in tokens[1:]:
        if kind == "abs":
            ys.append(value)
            last = (kind, value)
        elif kind == "dif":
            if not ys:
                raise SpectrumFileError(file, line, "XYDATA",
                                        "the first Y value of a line is a difference (DIF); it must be absolute")
            ys.append(ys[-1] + value)
            last = (kind, value)
        else:
            if last is None:
                raise SpectrumFileError(file, line, "XYDATA", "a DUP count has no value before it to repeat")
            if value < 1:
                raise SpectrumFileError(file, line, "XYDATA", f"DUP count {int(value)} must be at least 1")
            for _ in range(int(value) - 1):
                ys.append(last[1] if last[0] == "abs" else ys[-1] + last[1])
    return x, ys, last is not None and last[0] == "dif"


def _xydata(rec: _Record, file: str, xfactor: float, yfactor: float,
            number) -> tuple[np.ndarray, list[float], list[int]]:
    ys: list[float] = []
    lines: list[int] = []
    line_x: list[tuple[int, float, int]] = []  # (line, x, index of the line's first new ordinate)
    check_pending = False
    for line, text in rec.data:
        x, values, ends_in_dif = decode_asdf_line(text, file, line)
        if check_pending:
            if not values:
                raise SpectrumFileError(file, line, "XYDATA", "the Y check value is missing after a DIF line")
            check, values = values[0], values[1:]
            if not math.isclose(check, ys[-1], rel_tol=1e-9, abs_tol=1e-9):
                raise SpectrumFileError(file, line, "XYDATA",
                                        f"Y check value {check:g} differs from the previous line's last value "
                                        f"{ys[-1]:g}; the DIF data is corrupt")
            line_x.append((line, x, len(ys) - 1))
        else:
            line_x.append((line, x, len(ys)))
        ys.extend(values)
        lines.extend([line] * len(values))
        check_pending = ends_in_dif
    n = len(ys)
    npoints = number("NPOINTS")
    if npoints is not None and int(npoints) != n:
        raise SpectrumFileError(file, rec.line, "##XYDATA",
                                f"holds {n} values but ##NPOINTS says {int(npoints)}")
    if n == 0:
        raise SpectrumFileError(file, rec.line, "##XYDATA", "holds no values")
    first = number("FIRSTX")
    if first is None:
        first = line_x[0][1] * xfactor
    last = number("LASTX")
    if last is None:
        delta = number("DELTAX")
        if delta is None:
            raise SpectrumFileError(file, rec.line, "##XYDATA", "needs ##LASTX or ##DELTAX to place the abscissae")
        last = first + delta * (n - 1)
    grid = np.linspace(first, last, n) if n > 1 else np.array([first])
    step = abs(last - first) / (n - 1) if n > 1 else 0.0
    for line, x, index in line_x:
        if index < n and abs(x * xfactor - grid[index]) > 0.5 * step + 1e-9 * max(abs(first), abs(last)):
            raise SpectrumFileError(file, line, "XYDATA",
                                    f"line starts at X = {x * xfactor:g} but point {index + 1} lies at "
                                    f"{grid[index]:g}; values are missing or extra")
    return grid, [v * yfactor for v in ys], lines


def _xypairs(rec: _Record, file: str, xfactor: float, yfactor: float) -> tuple[list[float], list[float], list[int]]:
    values: list[tuple[int, float]] = []
    for line, text in rec.data:
        for item in re.split(r"[\s,;]+", text.strip()):
            if item:
                values.append((line, parse_number(item, file, line, f"##{rec.label}")))
    if len(values) % 2:
        raise SpectrumFileError(file, values[-1][0] if values else rec.line, f"##{rec.label}",
                                f"{len(values)} numbers do not make (x, y) pairs")
    x = [v * xfactor for _, v in values[0::2]]
    y = [v * yfactor for _, v in values[1::2]]
    return x, y, [line for line, _ in values[0::2]]


_LONGDATE = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
                       r"\s*(?:(?:UTC|GMT)?\s*([+-])(\d{2}):?(\d{2}))?")


def parse_longdate(value: str) -> datetime | None:
    """``YYYY/MM/DD [HH:MM[:SS[.f]]] [+HHMM]`` (JCAMP-DX 5.01) or ISO 8601; None if neither."""
    m = _LONGDATE.fullmatch(value.strip())
    if m is None:
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    year, month, day, hour, minute, second, frac, sign, tzh, tzm = m.groups()
    tz = None
    if sign:
        offset = timedelta(hours=int(tzh), minutes=int(tzm))
        tz = timezone(-offset if sign == "-" else offset)
    try:
        return datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                        int((frac or "0")[:6].ljust(6, "0")), tzinfo=tz)
    except ValueError:
        return None


def format_longdate(ts: datetime) -> str:
    text = ts.strftime("%Y/%m/%d %H:%M:%S")
    if ts.microsecond:
        text += f".{ts.microsecond:06d}"
    offset = ts.utcoffset()
    if offset is not None:
        if offset.seconds % 60 or offset.microseconds:
            return ts.isoformat()  # the 5.01 form has no seconds in the offset
        minutes = int(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        text += f" {sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return text


def _metadata(by_key: dict[str, _Record], file: str) -> Metadata:
    shots = timestamp = None
    if "$SHOTS" in by_key and by_key["$SHOTS"].value:
        rec = by_key["$SHOTS"]
        shots = parse_count(rec.value, file, rec.line, f"##{rec.label}")
    if "LONGDATE" in by_key and by_key["LONGDATE"].value:
        rec = by_key["LONGDATE"]
        timestamp = parse_longdate(rec.value)
        if timestamp is None:
            raise SpectrumFileError(file, rec.line, "##LONGDATE",
                                    f"{rec.value!r} is not a date; expected YYYY/MM/DD HH:MM:SS")
    extra = {}
    if "TITLE" in by_key:
        extra["title"] = by_key["TITLE"].value
    for key, rec in by_key.items():
        if key.startswith("$") and key not in ("$SHOTS", "$PIECEID"):
            extra[rec.label[1:].strip()] = rec.value
    return Metadata(instrument=by_key["SPECTROMETERDATASYSTEM"].value if "SPECTROMETERDATASYSTEM" in by_key else "",
                    shots=shots, timestamp=timestamp,
                    piece_id=by_key["$PIECEID"].value if "$PIECEID" in by_key else "", extra=extra)


def is_uniform(wavelength_nm: np.ndarray, rtol: float) -> bool:
    """Whether the grid equals ``linspace(first, last, n)`` to within ``rtol`` of a step."""
    wl = np.asarray(wavelength_nm, dtype=np.float64)
    if wl.size < 2:
        return True
    grid = np.linspace(wl[0], wl[-1], wl.size)
    step = (wl[-1] - wl[0]) / (wl.size - 1)
    return bool(np.max(np.abs(wl - grid)) <= rtol * step)


def format_jcamp(spectrum: Spectrum, *, compression: str = "affn", uniform_rtol: float = 1e-6,
                 file: str = "<jcamp>") -> str:
    """The text `write_jcamp` writes; see the module docstring for the choices made."""
    if compression not in ("affn", "difdup"):
        raise InputError(f"compression: {compression!r} is not 'affn' or 'difdup'", field="compression")
    md = spectrum.metadata
    check_metadata_writable(file, md, forbidden="$$")
    wl, it = spectrum.wavelength_nm, spectrum.intensity
    title = md.extra.get("title") or md.piece_id or "LIBS spectrum"
    out = [f"##TITLE={title}", "##JCAMP-DX=5.01", "##DATA TYPE=EMISSION SPECTRUM", "##ORIGIN=aluloop",
           "##OWNER=not stated"]
    if md.timestamp is not None:
        out.append(f"##LONGDATE={format_longdate(md.timestamp)}")
    if md.instrument:
        out.append(f"##SPECTROMETER/DATA SYSTEM={md.instrument}")
    if md.shots is not None:
        out.append(f"##$SHOTS={int(md.shots)}")
    if md.piece_id:
        out.append(f"##$PIECE ID={md.piece_id}")
    out.extend(f"##${key}={value}" for key, value in md.extra.items() if key != "title")
    out += ["##XUNITS=NANOMETERS", "##YUNITS=ARBITRARY UNITS"]
    uniform = is_uniform(wl, uniform_rtol)
    if compression == "difdup":
        yint, yfactor = _integer_ordinates(it)
    else:
        yint, yfactor = None, 1.0
    out += ["##XFACTOR=1", f"##YFACTOR={float_text(yfactor)}", f"##FIRSTX={float_text(wl[0])}",
            f"##LASTX={float_text(wl[-1])}"]
    if uniform and wl.size > 1:
        out.append(f"##DELTAX={float_text((wl[-1] - wl[0]) / (wl.size - 1))}")
    out += [f"##MINY={float_text(it.min())}", f"##MAXY={float_text(it.max())}", f"##NPOINTS={wl.size}",
            f"##FIRSTY={float_text(it[0])}"]
    xs = [float_text(v) for v in wl.tolist()]
    if not uniform:
        out.append("##XYPOINTS=(XY..XY)")
        ys = [float_text(v) for v in it.tolist()] if yint is None else [str(v) for v in yint]
        out.extend(f"{x}, {y}" for x, y in zip(xs, ys, strict=True))
    elif yint is None:
        out.append("##XYDATA=(X++(Y..Y))")
        out.extend(_affn_lines(xs, [float_text(v) for v in it.tolist()]))
    else:
        out.append("##XYDATA=(X++(Y..Y))")
        out.extend(_difdup_lines(xs, yint))
    out.append("##END=")
    return "\n".join(out) + "\n"


def _integer_ordinates(intensity: np.ndarray) -> tuple[list[int], float]:
    """Integers and YFACTOR such that ``y ~= integer * YFACTOR`` (exact for whole counts)."""
    peak = float(np.max(np.abs(intensity)))
    if np.all(intensity == np.round(intensity)) and peak < 2.0 ** 53:
        return [int(v) for v in intensity.tolist()], 1.0
    yfactor = peak / 1e9
    return [int(v) for v in np.round(intensity / yfactor).tolist()], yfactor


def _affn_lines(xs: list[str], ys: list[str]) -> list[str]:
    lines, i = [], 0
    while i < len(ys):
        parts, length = [xs[i]], len(xs[i])
        j = i
        while j < len(ys) and (j == i or length + 1 + len(ys[j]) <= MAX_LINE):
            parts.append(ys[j])
            length += 1 + len(ys[j])
            j += 1
        lines.append(" ".join(parts))
        i = j
    return lines


def _asdf(value: int, positive: dict[int, str], negative: dict[int, str]) -> str:
    digits = str(abs(value))
    lead = int(digits[0])
    return (negative[lead] if value < 0 else positive[lead]) + digits[1:]


def sqz(value: int) -> str:
    """SQZ form of an integer: ``sqz(-123) == 'a23'``."""
    return _asdf(value, _SQZ_OUT, _SQZ_NEG)


def dif(value: int) -> str:
    """DIF form of an integer difference: ``dif(-1) == 'j'``."""
    return _asdf(value, _DIF_OUT, _DIF_NEG)


def dup(count: int) -> str:
    """DUP form of a repeat count (>= 2): ``dup(6) == 'X'``."""
    digits = str(count)
    return _DUP_OUT[int(digits[0])] + digits[1:]


def _difdup_lines(xs: list[str], ys: list[int]) -> list[str]:
    """DIFDUP lines, each ending in DIF form, each after the first starting with the Y check."""
    n = len(ys)
    lines: list[str] = []
    i = 0
    while True:
        parts = [xs[i], sqz(ys[i])]
        length = len(parts[0]) + len(parts[1])
        run_d: int | None = None
        run_n = 0
        j = i
        while j + 1 < n:
            d = ys[j + 1] - ys[j]
            if d == run_d:
                if length + len(dif(d) + dup(run_n + 1)) > MAX_LINE:
                    break
                run_n += 1
            else:
                current = "" if run_d is None else dif(run_d) + (dup(run_n) if run_n > 1 else "")
                if j > i and length + len(current) + len(dif(d)) > MAX_LINE:
                    break
                parts.append(current)
                length += len(current)
                run_d, run_n = d, 1
            j += 1
        if run_d is not None:
            parts.append(dif(run_d) + (dup(run_n) if run_n > 1 else ""))
        lines.append("".join(parts))
        if j == n - 1:
            if j > i:
                lines.append(xs[j] + sqz(ys[j]))  # final Y check, so the last line can be verified too
            return lines
        i = j


def write_jcamp(path: str | Path, spectrum: Spectrum, *, compression: str = "affn",
                uniform_rtol: float = 1e-6) -> Path:
    """Write ``spectrum`` as a JCAMP-DX 5.01 file; returns the path written."""
    path = Path(path)
    text = format_jcamp(spectrum, compression=compression, uniform_rtol=uniform_rtol, file=str(path))
    path.write_text(text, encoding="utf-8")  # plain ASCII unless the metadata is not
    return path
