"""Reading and writing LIBS spectra: delimited text, JCAMP-DX, batch ``.npz``, a plant's labelled folder.

``read_spectrum`` picks the reader from the file extension (``.csv .txt .tsv`` text,
``.jdx .dx .jcamp`` JCAMP-DX) and otherwise from the content; ``write_spectrum``
picks the writer from ``fmt`` or the extension. Every error is a
`SpectrumFileError` (a ``ValueError``) naming the file, line and field.
"""

from __future__ import annotations

from pathlib import Path

from sorter.io.checks import SpectrumFileError
from sorter.io.jcamp import read_jcamp, write_jcamp
from sorter.io.labelled import LabelledSpectra, read_labelled_folder
from sorter.io.npz import load_batch, save_batch
from sorter.io.text import read_file_text, read_text, write_text
from sorter.spectrum import Spectrum

__all__ = ["FORMATS", "LabelledSpectra", "SpectrumFileError", "load_batch", "read_labelled_folder", "read_spectrum",
           "save_batch", "sniff_format", "write_spectrum"]

TEXT_EXTENSIONS = (".csv", ".txt", ".tsv")
JCAMP_EXTENSIONS = (".jdx", ".dx", ".jcamp")
FORMATS = ("csv", "jcamp")


def sniff_format(path: str | Path, *, name: str | None = None) -> str:
    """``"csv"`` or ``"jcamp"``: from the extension, else from the first non-blank line (``##`` = JCAMP-DX)."""
    suffix = Path(path).suffix.lower()
    if suffix in TEXT_EXTENSIONS:
        return "csv"
    if suffix in JCAMP_EXTENSIONS:
        return "jcamp"
    text = read_file_text(path, str(path) if name is None else name)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return "jcamp" if first.startswith("##") else "csv"


def read_spectrum(path: str | Path, *, name: str | None = None) -> Spectrum:
    """Read one spectrum file (text or JCAMP-DX).

    Parameters
    ----------
    path : str or Path
    name : str, optional
        How errors name the file; defaults to ``path`` as given.

    Returns
    -------
    Spectrum
        Wavelengths [nm] increasing (a decreasing file is reversed), intensities, metadata.
    """
    name = str(path) if name is None else name
    if sniff_format(path, name=name) == "jcamp":
        return read_jcamp(path, name=name)
    return read_text(path, name=name)


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
            raise ValueError(f"fmt csv: takes no options, got {', '.join(options)}")
        return write_text(path, spectrum)
    raise ValueError(f"fmt: {fmt!r} is not one of {', '.join(FORMATS)}")
