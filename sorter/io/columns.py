"""Which columns of a multi-column spectrum export hold the wavelength and the intensities.

Spectrometer software writes more than two columns: ``Lambda  Spectrum  Dark  SpecMinusDark``
(raw, dark and dark-subtracted counts), ``Wave;Sample;Dark;Reference`` (AvaSoft), or one
column per shot or per piece beside one wavelength column. The choice here is by header
name and strict: a file whose columns cannot be told apart is refused with the columns
listed and the option that chooses them.

Defaults
--------
* wavelength: ``wavelength``, ``wavelength_nm``, ``lambda``, ``nm`` (also ``wave``, ``wl``, ``λ``).
* intensity: a dark-subtracted column (``SpecMinusDark``, ``Sample - Dark``, ``Scope Corrected
  for Dark``, ``dark subtracted``...) when there is one; else ``intensity``, ``counts``,
  ``spectrum``, ``sample`` (also ``spec``, ``signal``, ``scope``), minus the ``dark`` column
  when the file has one.
* otherwise, every column beside the wavelength is a spectrum of its own, named by its header
  (one column per shot or per piece).

A unit written with a column name (``Wavelength (Å)``, ``Wavelength [um]``, ``wavelength_A``),
in a row of units under the names (``[nm];[counts]``) or in a header-block key (``x units:
Angstrom``) converts the wavelengths to nm; a unit that is not nm, Å or µm is refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sorter.io.checks import SpectrumFileError

WAVELENGTH_NAMES = ("wavelength", "wavelengthnm", "wavelengths", "lambda", "nm", "wave", "wl", "λ")
INTENSITY_NAMES = ("intensity", "counts", "spectrum", "sample", "spec", "signal", "scope")
DARK_NAMES = ("dark", "darkspectrum", "darkcounts", "darkspec")
_DARK_SUBTRACTED = re.compile(r"(spec|spectrum|sample|signal|intensity|counts|scope)(minus|-)dark"
                              r"|dark(subtracted|corrected)|correctedfordark")

# Unit spellings -> factor to nm. Keys are lower case; "a" is Angstrom as in "wavelength_A".
UNITS_TO_NM = {
    **dict.fromkeys(("nm", "nanometer", "nanometers", "nanometre", "nanometres"), 1.0),
    **dict.fromkeys(("å", "a", "aa", "angstrom", "angstroms", "ångström", "ångströms", "angstroem"), 0.1),
    **dict.fromkeys(("um", "µm", "μm", "micrometer", "micrometers", "micrometre", "micrometres", "micron",
                     "microns"), 1000.0),
}
_BRACKETED = re.compile(r"^(.*?)\s*[(\[]\s*([^()\[\]]*?)\s*[)\]]\s*$")
_SUFFIXED = re.compile(r"^(.*?)[_ ]([A-Za-zµμÅ]+)$")
OPTIONS = "--wavelength-column / --intensity-column (wavelength_column= / intensity_column=)"


@dataclass(frozen=True)
class Column:
    """One column of the file: its header name ("" without a header), 1-based position and unit."""

    position: int
    name: str = ""
    unit: str = ""

    @property
    def label(self) -> str:
        """How messages and metadata name the column: its header, else ``column N``."""
        return self.name or f"column {self.position}"


@dataclass(frozen=True)
class Choice:
    """The columns one spectrum is read from: intensity, minus dark when ``dark`` is set."""

    intensity: Column
    dark: Column | None = None


def fold(name: str) -> str:
    """Lower case without blanks, ``_`` and ``.``: how names are compared."""
    return re.sub(r"[\s_.]", "", name).lower()


def split_unit(name: str) -> tuple[str, str]:
    """``("Wavelength", "Å")`` from ``"Wavelength (Å)"``, ``"Wavelength [Å]"`` or ``"Wavelength_A"``.

    A trailing ``_word`` counts as a unit only when it is a known wavelength unit, so ``Sample_B``
    keeps its name.
    """
    name = name.strip()
    match = _BRACKETED.match(name)
    if match and match.group(1):
        return match.group(1), match.group(2)
    match = _SUFFIXED.match(name)
    if match and match.group(1) and match.group(2).lower() in UNITS_TO_NM:
        return match.group(1), match.group(2)
    return name, ""


def nm_per_unit(unit: str, file: str, line: int | None, field: str) -> float:
    """Factor from ``unit`` to nm; "" (not said) is nm. Refuses a unit that is not a length we know."""
    if not unit:
        return 1.0
    factor = UNITS_TO_NM.get(unit.strip().lower())
    if factor is None:
        raise SpectrumFileError(file, line, field, f"unit {unit!r} is not nm, Å (Angstrom) or µm (micrometre)")
    return factor


def _listing(columns: Sequence[Column]) -> str:
    return ", ".join(c.label if c.name else f"{c.position}" for c in columns)


def _found(columns: Sequence[Column]) -> str:
    if any(c.name for c in columns):
        return f"columns found: {_listing(columns)}"
    return f"{len(columns)} unnamed columns (no header row); give 1-based column numbers"


def _pick(columns: Sequence[Column], wanted: str, option: str, file: str, line: int | None) -> Column:
    """The column named ``wanted`` (exact, else case- and blank-insensitive), or numbered ``wanted``."""
    exact = [c for c in columns if c.name == wanted.strip()]
    if len(exact) == 1:
        return exact[0]
    loose = [c for c in columns if c.name and fold(c.name) == fold(wanted)]
    if len(loose) == 1 and not exact:
        return loose[0]
    if len(exact) > 1 or len(loose) > 1:
        same = ", ".join(str(c.position) for c in exact or loose)
        raise SpectrumFileError(file, line, option, f"{wanted!r} names columns {same}; rename one in the file "
                                "or give its 1-based column number")
    if re.fullmatch(r"\d+", wanted.strip()):
        position = int(wanted)
        if 1 <= position <= len(columns):
            return columns[position - 1]
        raise SpectrumFileError(file, line, option, f"column {position} does not exist; the file has "
                                f"{len(columns)} columns")
    raise SpectrumFileError(file, line, option, f"no column named {wanted!r}; {_found(columns)}")


def _kind(column: Column) -> str:
    base = fold(split_unit(column.name)[0]) if column.name else ""
    if base in WAVELENGTH_NAMES:
        return "wavelength"
    if _DARK_SUBTRACTED.search(base):
        return "dark-subtracted"
    if base in DARK_NAMES:
        return "dark"
    if base in INTENSITY_NAMES:
        return "intensity"
    return ""


def _ambiguous(file: str, line: int | None, what: str, candidates: Sequence[Column], columns: Sequence[Column],
               option: str) -> SpectrumFileError:
    return SpectrumFileError(file, line, None,
                             f"{len(candidates)} columns could be the {what} ({_listing(candidates)}); "
                             f"{_found(columns)}; choose one with {option}")


def choose_columns(columns: Sequence[Column], file: str, line: int | None, *, wavelength_column: str | None = None,
                   intensity_column: str | None = None) -> tuple[Column, list[Choice]]:
    """The wavelength column and the spectra (one, or one per column side by side) to read.

    Parameters
    ----------
    columns : sequence of Column
        Every column of the file, in order (names "" when the file has no header row).
    file : str
        Name of the file for messages.
    line : int or None
        Line of the header row (or the first data line), for messages.
    wavelength_column, intensity_column : str, optional
        Header name (or 1-based number) that overrides the default choice.
    """
    if wavelength_column is not None:
        wavelength = _pick(columns, wavelength_column, "--wavelength-column", file, line)
    else:
        named = [c for c in columns if _kind(c) == "wavelength"]
        if len(named) > 1:
            raise _ambiguous(file, line, "wavelength", named, columns, "--wavelength-column")
        if named:
            wavelength = named[0]
        elif len(columns) == 2 or not any(c.name for c in columns):
            wavelength = columns[0]  # two columns, or no names: wavelength first, as files write it
        else:
            raise SpectrumFileError(file, line, None, f"cannot tell which column is the wavelength; "
                                    f"{_found(columns)}; choose it with --wavelength-column")
    rest = [c for c in columns if c is not wavelength]
    if intensity_column is not None:
        chosen = _pick(columns, intensity_column, "--intensity-column", file, line)
        if chosen is wavelength:
            raise SpectrumFileError(file, line, "--intensity-column",
                                    f"{chosen.label} is the wavelength column; choose another")
        return wavelength, [Choice(chosen)]
    if len(rest) == 1:
        return wavelength, [Choice(rest[0])]
    if not any(c.name for c in columns):
        raise SpectrumFileError(file, line, None, f"cannot tell which column is the intensity; {_found(columns)}; "
                                f"choose one with {OPTIONS}")
    by_kind: dict[str, list[Column]] = {}
    for c in rest:
        by_kind.setdefault(_kind(c), []).append(c)
    darks = by_kind.get("dark", [])
    if len(darks) > 1:
        raise _ambiguous(file, line, "dark", darks, columns, "--intensity-column")
    dark = darks[0] if darks else None
    for kind, subtract in (("dark-subtracted", False), ("intensity", True)):
        found = by_kind.get(kind, [])
        if len(found) > 1:
            raise _ambiguous(file, line, "intensity", found, columns, "--intensity-column")
        if found:
            return wavelength, [Choice(found[0], dark if subtract else None)]
    # No name says "intensity": one spectrum per remaining column, named by its header.
    side = by_kind.get("", [])
    unnamed = [c for c in side if not c.name]
    if unnamed:
        raise SpectrumFileError(file, line, None, f"{unnamed[0].label} has no name; every spectrum side by side "
                                f"needs one; {_found(columns)}; or choose one with --intensity-column")
    seen: dict[str, Column] = {}
    for c in side:
        if c.name in seen:
            raise SpectrumFileError(file, line, c.name, f"columns {seen[c.name].position} and {c.position} have "
                                    "the same name; spectra side by side must be named apart")
        seen[c.name] = c
    return wavelength, [Choice(c, dark) for c in side]
