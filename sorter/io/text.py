"""Spectra as delimited text (CSV, semicolon- or tab-separated), as plants and spectrometer software write them.

Layout read
-----------
* ``#`` lines are comments; ``# key: value`` comments carry the metadata
  (``instrument``, ``shots``, ``timestamp`` in ISO 8601, ``piece_id``; any
  other key goes to ``Metadata.extra``).
* A vendor header block: lines above a ``>>>>>Begin ... Data<<<<<`` marker
  (Ocean Optics SpectraSuite, OceanView), or lines above the column names; its
  ``key: value`` lines go to ``Metadata.extra`` (key with blanks and brackets
  as ``_``), other lines are passed over. ``>>>>>End ... Data<<<<<`` ends the data.
* An optional header row naming the columns (the line above the first data
  line, a data line being one whose first field is a number), and under it an
  optional row of units (``[nm];[counts]``).
* Data lines of two or more columns. The delimiter is found from the first data
  line: tab, else semicolon, else comma, else blanks. With a tab, semicolon or
  blank delimiter a decimal comma is accepted (``394,401;1234,5``), as
  spreadsheet programs in most of Europe write it.
* Two columns are wavelength and intensity; of more, the columns are chosen by
  header name (`sorter.io.columns`), and several intensity columns side by side
  are read as several spectra.
* Wavelengths in nm unless a column name, the row of units or a header key says
  Angstrom or micrometres; strictly increasing or strictly decreasing (reversed).

Layout written
--------------
Metadata comments, the header ``wavelength_nm,intensity``, then one
comma-separated line per point with each number as Python's ``repr`` of the
float, which reads back bit for bit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from sorter.io.checks import (
    EXTRA_KEY,
    NUMBER,
    RESERVED_KEYS,
    SpectrumFileError,
    check_metadata_writable,
    checked_spectrum,
    float_text,
    parse_count,
    parse_number,
)
from sorter.io.columns import OPTIONS, UNITS_TO_NM, Column, choose_columns, fold, nm_per_unit, split_unit
from sorter.spectrum import Metadata, Spectrum

HEADER = ("wavelength_nm", "intensity")
_META_COMMENT = re.compile(r"#\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*:\s?(.*)")
_FIELDS = ("wavelength_nm", "intensity")


def read_text(path: str | Path, *, name: str | None = None) -> Spectrum:
    """Read a delimited-text spectrum file.

    Parameters
    ----------
    path : str or Path
    name : str, optional
        How errors name the file; defaults to ``path`` as given.
    """
    name = str(path) if name is None else name
    return parse_text(read_file_text(path, name), name)


def read_file_text(path: str | Path, name: str) -> str:
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise SpectrumFileError(name, None, None, "no such file") from None
    except IsADirectoryError:
        raise SpectrumFileError(name, None, None, "is a folder, not a spectrum file") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # "Unicode" export of Windows instrument software
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise SpectrumFileError(name, None, None, "starts like UTF-16 text but is not") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Instrument software on Windows often writes cp1252 ("µm", "°C" in comments).
        return raw.decode("latin-1")


def sniff_delimiter(line: str) -> str | None:
    """Delimiter of a data line: ``"\\t"``, ``";"``, ``","`` or ``None`` for blanks."""
    if "\t" in line:
        return "\t"
    if ";" in line:
        return ";"
    if "," in line:
        # "394,4 1234,5": blank-separated with decimal commas; "394.4, 1234.5": comma-separated.
        blank = split_fields(line, None)
        if len(blank) == 2 and all(NUMBER.fullmatch(f) for f in blank):
            return None
        return ","
    return None


def split_fields(line: str, delimiter: str | None) -> list[str]:
    fields = line.split() if delimiter is None else [f.strip() for f in line.split(delimiter)]
    while len(fields) > 2 and not fields[-1]:
        fields.pop()  # spreadsheet exports often end lines with a delimiter
    if delimiter != ",":
        fields = [f.replace(",", ".") if f.count(",") == 1 and "." not in f else f for f in fields]
    return fields


def _is_number(text: str) -> bool:
    try:
        parse_number(text, "", 0, "")
    except SpectrumFileError:
        return False
    return True


def parse_text(text: str, file: str = "<text>", *, wavelength_column: str | None = None,
               intensity_column: str | None = None) -> Spectrum:
    """Parse the content of a delimited-text spectrum file; ``file`` names it in errors.

    Refuses a file holding several spectra side by side (see `parse_text_spectra`).
    """
    spectra = parse_text_spectra(text, file, wavelength_column=wavelength_column, intensity_column=intensity_column)
    if len(spectra) > 1:
        names = ", ".join(s.metadata.extra["intensity_column"] for s in spectra)
        raise SpectrumFileError(file, None, None, f"holds {len(spectra)} spectra side by side ({names}); read them "
                                "with read_spectra, or choose one with --intensity-column (intensity_column=)")
    return spectra[0]


def parse_text_spectra(text: str, file: str = "<text>", *, wavelength_column: str | None = None,
                       intensity_column: str | None = None) -> list[Spectrum]:
    """Every spectrum in a delimited-text file: one, or one per column side by side.

    Parameters
    ----------
    text : str
        Content of the file.
    file : str
        How errors name the file.
    wavelength_column, intensity_column : str, optional
        Header name (or 1-based number) of the column to read, overriding the choice by name
        (`sorter.io.columns`).

    Returns
    -------
    list of Spectrum
        Wavelengths [nm], increasing. Where a file has more than two columns, or its wavelength
        unit is not nm, ``metadata.extra`` says which columns were read (``wavelength_column``,
        ``intensity_column`` and ``dark_column`` when a dark column was subtracted).
    """
    lines = text.splitlines()
    begin = next((i for i, line in enumerate(lines, start=1) if BEGIN_DATA.fullmatch(line.strip())), 0)
    meta: dict[str, tuple[int, str]] = {}
    units: list[tuple[int, str, str]] = []
    pending: list[tuple[int, str]] = []
    rows: list[tuple[int, list[str]]] = []
    table: _Table | None = None
    end = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            match = _META_COMMENT.fullmatch(line)
            if match:
                _add_meta(meta, match.group(1), match.group(2).strip(), number, file)
            continue
        if end:
            raise SpectrumFileError(file, number, None, f"{line[:40]!r} comes after the end-of-data marker "
                                    f"on line {end}")
        if number <= begin:
            if number < begin:
                _header_block_line(line, number, meta, units, file)
            continue
        if END_DATA.fullmatch(line):
            end = number
            continue
        if table is None:
            delimiter = sniff_delimiter(line)
            fields = split_fields(line, delimiter)
            if not _is_number(fields[0]):
                pending.append((number, line))
                continue
            table = _table_head(pending, delimiter, fields, number, meta, units, file,
                                wavelength_column is not None or intensity_column is not None)
        fields = split_fields(line, table.delimiter)
        if len(fields) != len(table.columns):
            raise _field_count_error(file, number, fields, table)
        rows.append((number, fields))
    if table is None:
        raise SpectrumFileError(file, None, None, "holds no data points")
    return _spectra(table, rows, _metadata(meta, file), units, file, wavelength_column, intensity_column)


@dataclass(frozen=True)
class _Table:
    delimiter: str | None
    columns: list[Column]
    line: int          # line of the header row, else of the first data line
    named: bool        # whether a header row named the columns


BEGIN_DATA = re.compile(r">{3,}\s*begin\b.*\bdata\s*<{3,}", re.IGNORECASE)
END_DATA = re.compile(r">{3,}\s*end\b.*\bdata\s*<{3,}", re.IGNORECASE)
_KEY_VALUE = re.compile(r"([^:]*[A-Za-z][^:]*?)\s*:\s*(.*)")
_UNITS_CELL = re.compile(r"[\[(][^\[\]()]*[\])]")
# Header-block keys (folded) that give the unit of the wavelength axis, and the one that names the axis.
_UNIT_KEYS = ("xunit", "xunits", "xaxisunit", "xaxisunits", "wavelengthunit", "wavelengthunits")
_AXIS_KEY = "xaxismode"
_AXIS_WAVELENGTH = ("wavelength", "wavelengths", "wavelength(nm)", "nm")


def _add_meta(meta: dict[str, tuple[int, str]], key: str, value: str, number: int, file: str) -> None:
    if key.lower() in RESERVED_KEYS:
        key = key.lower()
    if key in meta:
        raise SpectrumFileError(file, number, key, f"given twice (also on line {meta[key][0]})")
    meta[key] = (number, value)


def _header_block_line(line: str, number: int, meta: dict[str, tuple[int, str]], units: list[tuple[int, str, str]],
                       file: str) -> None:
    """A ``key: value`` line of a vendor header block goes to the metadata; a title line is passed over."""
    match = _KEY_VALUE.fullmatch(line)
    if not match:
        return
    written, value = match.group(1).strip(), match.group(2).strip()
    key = re.sub(r"[^A-Za-z0-9_.\-]+", "_", written).strip("_")
    if not EXTRA_KEY.fullmatch(key):
        return  # e.g. a clock time "12:03" on a line of its own
    folded = fold(key).replace("-", "")
    if folded in _UNIT_KEYS:
        units.append((number, written, value))
    elif folded == _AXIS_KEY and fold(value) not in _AXIS_WAVELENGTH:
        raise SpectrumFileError(file, number, written, f"the x axis is {value!r}; only spectra against "
                                "wavelength can be read (export with the x axis in wavelengths)")
    _add_meta(meta, key, value, number, file)


def _names(line: str, delimiter: str | None, n: int) -> list[str] | None:
    """Column names of a header row split like the data, or None when they cannot be told apart."""
    if delimiter is None:
        for pattern in (r"\t|\s{2,}", r"\s+"):
            names = [f.strip() for f in re.split(pattern, line.strip())]
            if len(names) == n:
                return names
        return None
    names = [f.strip() for f in line.split(delimiter)]
    while len(names) > n and not names[-1]:
        names.pop()
    return names if len(names) == n else None


def _table_head(pending: list[tuple[int, str]], delimiter: str | None, first: list[str], first_line: int,
                meta: dict[str, tuple[int, str]], units: list[tuple[int, str, str]], file: str,
                chosen: bool) -> _Table:
    """Columns of the table from the lines above its first data line.

    Reading up from the data: an optional row of units (``[nm];[counts]``), the header row of
    column names, then ``key: value`` lines of a vendor header block and title lines.
    """
    n = len(first)
    rest = list(pending)
    unit_row = None
    if rest and all(not c or _UNITS_CELL.fullmatch(c) for c in (_names(rest[-1][1], delimiter, n) or ["x"])):
        unit_row = rest.pop()
    header = None
    if rest and not (_KEY_VALUE.fullmatch(rest[-1][1]) and _names(rest[-1][1], delimiter, n) is None):
        header = rest.pop()
    for number, line in rest:
        _header_block_line(line, number, meta, units, file)
    names = None if header is None else _names(header[1], delimiter, n)
    if header is not None and names is None and delimiter is not None:
        written = [f.strip() for f in header[1].split(delimiter)]
        while written and not written[-1]:
            written.pop()
        if len(written) > 1:  # a delimited header row names the columns; the data line is short or long
            shown = {"\t": "tab"}.get(delimiter, repr(delimiter))
            raise SpectrumFileError(file, first_line, None, f"{n} fields split at {shown}; expected "
                                    f"{len(written)} ({', '.join(written)})")
    if header is not None and names is None and n > 2:
        raise SpectrumFileError(file, header[0], None, f"the header row does not split into the {n} columns of "
                                f"the data on line {first_line}")
    if names is None and n != 2 and not chosen:
        shown = {"\t": "tab", None: "blank"}.get(delimiter, repr(delimiter))
        hint = "; decimal commas need a ';' or tab delimiter" if delimiter == "," else ""
        raise SpectrumFileError(file, first_line, None,
                                f"{n} fields split at {shown}; expected 2 (wavelength_nm, intensity){hint}; "
                                f"a file of more columns needs a header row naming them, or {OPTIONS}")
    cell_units = [""] * n
    if unit_row is not None:
        cell_units = [c.strip("[]() ") for c in (_names(unit_row[1], delimiter, n) or cell_units)]
    columns = []
    for position in range(1, n + 1):
        name = names[position - 1] if names else ""
        unit = split_unit(name)[1] or cell_units[position - 1]
        columns.append(Column(position, name, unit))
    if header is not None and names is None:
        # Two columns under a header whose names hold blanks ("Wavelength (Å) Counts"): a length
        # unit written in it still belongs to the wavelength.
        said = [u for u in _UNITS_CELL.findall(header[1]) if u.strip("[]() ").lower() in UNITS_TO_NM]
        if said:
            columns[0] = Column(1, "", said[0].strip("[]() "))
    return _Table(delimiter, columns, header[0] if header else first_line, names is not None)


def _field_count_error(file: str, number: int, fields: list[str], table: _Table) -> SpectrumFileError:
    shown = {"\t": "tab", None: "blank"}.get(table.delimiter, repr(table.delimiter))
    if len(table.columns) == 2:
        expected = "wavelength_nm, intensity"
    else:
        expected = ", ".join(c.label for c in table.columns)
    hint = ("; decimal commas need a ';' or tab delimiter"
            if table.delimiter == "," and len(fields) > len(table.columns) else "")
    return SpectrumFileError(file, number, None, f"{len(fields)} fields split at {shown}; expected "
                             f"{len(table.columns)} ({expected}){hint}")


def _spectra(table: _Table, rows: list[tuple[int, list[str]]], metadata: Metadata, units: list[tuple[int, str, str]],
             file: str, wavelength_column: str | None, intensity_column: str | None) -> list[Spectrum]:
    wl_col, choices = choose_columns(table.columns, file, table.line, wavelength_column=wavelength_column,
                                     intensity_column=intensity_column)
    two = len(table.columns) == 2

    def field(column: Column, default: str) -> str:
        return default if two else column.label

    factor = _nm_per_unit(wl_col, units, table, file)
    lines = [number for number, _ in rows]
    wl_field = field(wl_col, _FIELDS[0])
    wavelengths = np.array([parse_number(f[wl_col.position - 1], file, n, wl_field) for n, f in rows])
    wavelengths = wavelengths / 10.0 if factor == 0.1 else wavelengths * factor
    record = not two or factor != 1.0
    out = []
    values: dict[int, np.ndarray] = {}

    def column_values(column: Column) -> np.ndarray:
        if column.position not in values:
            name = field(column, _FIELDS[1])
            values[column.position] = np.array([parse_number(f[column.position - 1], file, n, name)
                                                for n, f in rows])
        return values[column.position]

    for choice in choices:
        intensity = column_values(choice.intensity)
        extra = dict(metadata.extra)
        if choice.dark is not None:
            intensity = intensity - column_values(choice.dark)
            extra["dark_column"] = choice.dark.label
        if record or len(choices) > 1:
            extra["wavelength_column"] = wl_col.label
            extra["intensity_column"] = choice.intensity.label
        md = replace(metadata, extra=extra)
        out.append(checked_spectrum(file, wavelengths, intensity, md, lines))
    return out


def _nm_per_unit(column: Column, units: list[tuple[int, str, str]], table: _Table, file: str) -> float:
    """Wavelength unit from the column (name or units row) and the header block; they must agree."""
    factor = nm_per_unit(column.unit, file, table.line, column.label)
    for number, key, value in units:
        said = nm_per_unit(value, file, number, key)
        if column.unit and said != factor:
            raise SpectrumFileError(file, number, key, f"says {value!r} but {column.label} says {column.unit!r}")
        factor = said
    return factor


def _metadata(meta: dict[str, tuple[int, str]], file: str) -> Metadata:
    shots = timestamp = None
    if "shots" in meta:
        shots = parse_count(meta["shots"][1], file, meta["shots"][0], "shots")
    if "timestamp" in meta:
        line, value = meta["timestamp"]
        try:
            timestamp = datetime.fromisoformat(value)
        except ValueError:
            raise SpectrumFileError(file, line, "timestamp", f"{value!r} is not an ISO 8601 date-time "
                                    "(e.g. 2026-11-25T14:03:00+01:00)") from None
    extra = {k: v for k, (_, v) in meta.items() if k not in RESERVED_KEYS}
    return Metadata(instrument=meta.get("instrument", (0, ""))[1], shots=shots, timestamp=timestamp,
                    piece_id=meta.get("piece_id", (0, ""))[1], extra=extra)


def format_text(spectrum: Spectrum, file: str = "<text>") -> str:
    """The text `write_text` writes: metadata comments, header, ``repr``-exact numbers."""
    md = spectrum.metadata
    check_metadata_writable(file, md)
    out = []
    if md.instrument:
        out.append(f"# instrument: {md.instrument}")
    if md.shots is not None:
        out.append(f"# shots: {int(md.shots)}")
    if md.timestamp is not None:
        out.append(f"# timestamp: {md.timestamp.isoformat()}")
    if md.piece_id:
        out.append(f"# piece_id: {md.piece_id}")
    out.extend(f"# {key}: {value}" for key, value in md.extra.items())
    out.append(",".join(HEADER))
    out.extend(f"{float_text(w)},{float_text(i)}"
               for w, i in zip(spectrum.wavelength_nm.tolist(), spectrum.intensity.tolist(), strict=True))
    return "\n".join(out) + "\n"


def write_text(path: str | Path, spectrum: Spectrum) -> Path:
    """Write ``spectrum`` as comma-separated text; returns the path written."""
    path = Path(path)
    path.write_text(format_text(spectrum, str(path)), encoding="utf-8")
    return path
