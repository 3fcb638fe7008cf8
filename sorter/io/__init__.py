"""Reading and writing LIBS spectra: delimited text, JCAMP-DX, batch ``.npz``, a plant's labelled folder.

``read_spectrum`` tells the formats apart by content (a JCAMP-DX file starts with
``##``), so a misnamed export still reads; ``read_spectra`` also reads a text export holding
several spectra side by side, and ``read_spectrum_files`` names every spectrum of a list of files
(``.npz`` batches included) the way the command line shows them. ``write_spectrum`` picks the writer from
``fmt`` or the extension (``.jdx .dx .jcamp`` JCAMP-DX, anything else text). Every error is a
`SpectrumFileError` (an ``InputError``) naming the file, line and field. The format dispatch lives
in ``dispatch``, so the readers (``labelled`` reads any format) import it without a cycle.
"""

from __future__ import annotations

from sorter.io.checks import SpectrumFileError
from sorter.io.dispatch import (
    FORMATS,
    SpectrumFiles,
    expand_spectrum_paths,
    gather_spectrum_files,
    read_spectra,
    read_spectrum,
    read_spectrum_files,
    sniff_format,
    write_spectrum,
)
from sorter.io.jcamp import parse_jcamp, read_jcamp, write_jcamp
from sorter.io.labelled import LabelledSpectra, read_labelled_folder
from sorter.io.npz import load_batch, save_batch
from sorter.io.text import parse_text, parse_text_spectra, read_text, write_text

__all__ = ["FORMATS", "LabelledSpectra", "SpectrumFileError", "SpectrumFiles", "expand_spectrum_paths",
           "gather_spectrum_files", "load_batch", "parse_jcamp", "parse_text",
           "parse_text_spectra", "read_jcamp", "read_labelled_folder", "read_spectra", "read_spectrum",
           "read_spectrum_files", "read_text", "save_batch", "sniff_format", "write_jcamp", "write_spectrum",
           "write_text"]
