"""Spectra as two-column delimited text (CSV, semicolon- or tab-separated).

Layout read
-----------
* ``#`` lines are comments; ``# key: value`` comments carry the metadata
  (``instrument``, ``shots``, ``timestamp`` in ISO 8601, ``piece_id``; any
  other key goes to ``Metadata.extra``).
* An optional header line (the first non-comment line when none of its
  fields is a number).
* Data lines ``wavelength_nm<delimiter>intensity``. The delimiter is found
  from the first data line: tab, else semicolon, else comma, else blanks.
  With a tab, semicolon or blank delimiter a decimal comma is accepted
  (``394,401;1234,5``), as spreadsheet programs in most of Europe write it.
* Wavelengths in nm, strictly increasing or strictly decreasing (reversed).

Layout written
--------------
Metadata comments, the header ``wavelength_nm,intensity``, then one
comma-separated line per point with each number as Python's ``repr`` of the
float, which reads back bit for bit.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from sorter.io.checks import (
    NUMBER,
    RESERVED_KEYS,
    SpectrumFileError,
    check_metadata_writable,
    checked_spectrum,
    float_text,
    parse_count,
    parse_number,
)
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


def _looks_like_header(fields: list[str]) -> bool:
    def is_number(text: str) -> bool:
        try:
            parse_number(text, "", 0, "")
        except SpectrumFileError:
            return False
        return True

    return not any(is_number(f) for f in fields) and any(c.isalpha() for f in fields for c in f)


def parse_text(text: str, file: str = "<text>") -> Spectrum:
    """Parse the content of a delimited-text spectrum file; ``file`` names it in errors."""
    meta: dict[str, tuple[int, str]] = {}
    wavelengths: list[float] = []
    intensities: list[float] = []
    lines: list[int] = []
    delimiter: str | None = ""
    header_allowed = True
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            match = _META_COMMENT.fullmatch(line)
            if match:
                key, value = match.group(1), match.group(2).strip()
                if key.lower() in RESERVED_KEYS:
                    key = key.lower()
                if key in meta:
                    raise SpectrumFileError(file, number, key, f"given twice (also on line {meta[key][0]})")
                meta[key] = (number, value)
            continue
        if delimiter == "":
            probe = split_fields(line, sniff_delimiter(line))
            if header_allowed and _looks_like_header(probe):
                header_allowed = False
                continue
            delimiter = sniff_delimiter(line)
        header_allowed = False
        fields = split_fields(line, delimiter)
        if len(fields) != 2:
            shown = {"\t": "tab", None: "blank"}.get(delimiter, repr(delimiter))
            hint = ("; decimal commas need a ';' or tab delimiter" if delimiter == "," and len(fields) > 2 else "")
            raise SpectrumFileError(file, number, None,
                                    f"{len(fields)} fields split at {shown}; expected 2 (wavelength_nm, intensity)"
                                    + hint)
        wavelengths.append(parse_number(fields[0], file, number, _FIELDS[0]))
        intensities.append(parse_number(fields[1], file, number, _FIELDS[1]))
        lines.append(number)
    return checked_spectrum(file, wavelengths, intensities, _metadata(meta, file), lines)


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
