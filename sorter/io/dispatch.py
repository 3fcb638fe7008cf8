"""The one front for spectrum files: tell the format apart by content, then read or write it.

``read_spectrum`` tells the formats apart by content (a JCAMP-DX file starts with ``##``), so a
misnamed export still reads; ``read_spectra`` also reads a text export holding several spectra side
by side, and ``read_spectrum_files`` names every spectrum of a list of files (``.npz`` batches
included) the way the command line shows them. ``write_spectrum`` picks the writer from ``fmt`` or
the extension (``.jdx .dx .jcamp`` JCAMP-DX, anything else text).
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from blending.errors import InputError
from sorter.io.jcamp import parse_jcamp, write_jcamp
from sorter.io.npz import load_batch
from sorter.io.text import parse_text, parse_text_spectra, read_file_text, write_text
from sorter.spectrum import Spectrum

TEXT_EXTENSIONS = (".csv", ".txt", ".tsv")
JCAMP_EXTENSIONS = (".jdx", ".dx", ".jcamp")
SPECTRUM_EXTENSIONS = (*TEXT_EXTENSIONS, *JCAMP_EXTENSIONS, ".npz")
GLOB_CHARACTERS = "*?["
FORMATS = ("csv", "jcamp")


def _format_of(text: str, suffix: str) -> str:
    # The content decides: a JCAMP-DX file starts with "##", a text spectrum cannot. The
    # extension only breaks the tie for an empty file, so a misnamed export still reads.
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first:
        return "jcamp" if first.startswith("##") else "csv"
    return "jcamp" if suffix.lower() in JCAMP_EXTENSIONS else "csv"


def sniff_format(path: str | Path, *, name: str | None = None) -> str:
    """``"csv"`` or ``"jcamp"``: from the first non-blank line (``##`` = JCAMP-DX), else the extension."""
    return _format_of(read_file_text(path, str(path) if name is None else name), Path(path).suffix)


def read_spectrum(path: str | Path, *, name: str | None = None, wavelength_column: str | None = None,
                  intensity_column: str | None = None) -> Spectrum:
    """Read one spectrum file (text or JCAMP-DX, told apart by content; see `sniff_format`).

    Parameters
    ----------
    path : str or Path
    name : str, optional
        How errors name the file; defaults to ``path`` as given.
    wavelength_column, intensity_column : str, optional
        Header name (or 1-based number) of the text column to read; see `sorter.io.columns` for the
        default choice. JCAMP-DX files have no columns and ignore them.

    Returns
    -------
    Spectrum
        Wavelengths [nm] increasing (a decreasing file is reversed), intensities, metadata.
        A text file holding several spectra side by side is refused: read it with `read_spectra`.
    """
    name = str(path) if name is None else name
    text = read_file_text(path, name)
    if _format_of(text, Path(path).suffix) == "jcamp":
        return parse_jcamp(text, name)
    return parse_text(text, name, wavelength_column=wavelength_column, intensity_column=intensity_column)


def read_spectra(path: str | Path, *, name: str | None = None, wavelength_column: str | None = None,
                 intensity_column: str | None = None) -> list[Spectrum]:
    """Every spectrum in one file: one, or one per column of a text export with spectra side by side.

    Parameters are those of `read_spectrum`. Where a file holds several spectra (or more than two
    columns), each spectrum's ``metadata.extra`` names its columns (``wavelength_column``,
    ``intensity_column``, ``dark_column``); the intensity column's header names the spectrum.
    """
    name = str(path) if name is None else name
    text = read_file_text(path, name)
    if _format_of(text, Path(path).suffix) == "jcamp":
        return [parse_jcamp(text, name)]
    return parse_text_spectra(text, name, wavelength_column=wavelength_column, intensity_column=intensity_column)


def read_spectrum_files(paths: Sequence[str | Path], *, wavelength_column: str | None = None,
                        intensity_column: str | None = None) -> list[tuple[str, Spectrum]]:
    """``(name, Spectrum)`` for every spectrum in ``paths``, in order.

    A file with one spectrum is named as given; a ``.npz`` batch gives ``file#i`` (0-based); a text
    file with several spectra side by side gives ``file#column`` (the column's header).
    """
    out: list[tuple[str, Spectrum]] = []
    for path in paths:
        if Path(path).suffix == ".npz":
            batch = load_batch(path)
            out.extend((f"{path}#{i}", batch.spectrum(i)) for i in range(len(batch)))
            continue
        spectra = read_spectra(path, wavelength_column=wavelength_column, intensity_column=intensity_column)
        if len(spectra) == 1:
            out.append((str(path), spectra[0]))
        else:
            out.extend((f"{path}#{s.metadata.extra['intensity_column']}", s) for s in spectra)
    return out


@dataclass
class SpectrumFiles:
    """What :func:`gather_spectrum_files` read: named spectra, and one note per file left out."""

    spectra: list[tuple[str, Spectrum]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def expand_spectrum_paths(paths: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """Files to read from ``paths`` as a user types them, and a note for each that names none.

    A folder gives its files with a spectrum extension (:data:`SPECTRUM_EXTENSIONS`), sorted, not
    its sub-folders; a pattern with ``* ? [`` (quoted, so the shell did not expand it) gives the
    files it matches; a file is taken as named. Each file comes once, in the order first named.
    """
    out: list[Path] = []
    notes: list[str] = []
    for given in map(str, paths):
        if Path(given).is_dir():
            found = sorted(p for p in Path(given).iterdir()
                           if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in SPECTRUM_EXTENSIONS)
            if not found:
                notes.append(f"{given}: a folder with no spectrum files ({' '.join(SPECTRUM_EXTENSIONS)})")
        elif any(c in given for c in GLOB_CHARACTERS) and not Path(given).exists():
            found = [Path(p) for p in sorted(glob.glob(given)) if Path(p).is_file()]
            if not found:
                notes.append(f"{given}: matches no file")
        else:
            found = [Path(given)]
        out.extend(found)
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique, notes


def gather_spectrum_files(paths: Sequence[str | Path], *, wavelength_column: str | None = None,
                          intensity_column: str | None = None) -> SpectrumFiles:
    """Every spectrum that ``paths`` (files, folders, quoted patterns) hold, going past the files that hold none.

    A sorting batch survives one bad file: a file that is not a spectrum (``manifest.csv`` beside
    the spectra, a README named outright), one that fails to parse, or one with fewer than 2 points is left out
    with a one-line note naming it (the reader's error, which names the file, line and field);
    the others are read as :func:`read_spectrum_files` reads them. Whether an empty result is an
    error is the caller's to say.
    """
    files, notes = expand_spectrum_paths(paths)
    out = SpectrumFiles(skipped=notes)
    for path in files:   # a file named outright is read whatever its extension: the content decides
        try:
            named = read_spectrum_files([path], wavelength_column=wavelength_column,
                                        intensity_column=intensity_column)
        except InputError as exc:
            message = str(exc)
            out.skipped.append(message if str(path) in message else f"{path}: {message}")
            continue
        except OSError as exc:   # unreadable (permissions, a device): named, and the batch goes on
            out.skipped.append(f"{path}: {exc.strerror or exc}")
            continue
        for name, spectrum in named:
            if spectrum.n_points < 2:
                out.skipped.append(f"{name}: holds {spectrum.n_points} data point; a spectrum needs at least 2")
            else:
                out.spectra.append((name, spectrum))
    return out


def write_spectrum(path: str | Path, spectrum: Spectrum, fmt: str | None = None, **options) -> Path:
    """Write ``spectrum`` as ``fmt`` (``"csv"`` or ``"jcamp"``; default from the extension, else csv).

    ``options`` go to the JCAMP-DX writer (``compression="affn" | "difdup"``, ``uniform_rtol``).
    Returns the path written.
    """
    path = Path(path)
    if fmt is None:
        fmt = "jcamp" if path.suffix.lower() in JCAMP_EXTENSIONS else "csv"
    fmt = fmt.lower()
    if fmt == "jcamp":
        return write_jcamp(path, spectrum, **options)
    if fmt == "csv":
        if options:
            raise InputError(f"csv takes no options, got {', '.join(options)}", field="fmt")
        return write_text(path, spectrum)
    raise InputError(f"{fmt!r} is not one of {', '.join(FORMATS)}", field="fmt")
