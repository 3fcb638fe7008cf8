"""A plant's own training data: a folder of spectrum files and a ``labels.csv`` naming their grade.

``labels.csv`` (comma-separated, header required, ``#`` comments allowed)::

    file,grade,Mg,Si,Cu
    spectra/p01.csv,5182,4.4,0.12,
    spectra/p02.jdx,6063,0.5,0.45,0.01

``file`` is relative to the folder; ``grade`` may be blank (unknown); any
further column named by an element symbol is a reference analysis [wt%]
(blank = not analysed). ``source``, ``note`` and ``comment`` columns are
allowed and ignored.

A text file may hold several spectra side by side (one column per shot or per
piece). A row naming such a file labels every spectrum in it (the shots of one
piece), unless an optional ``spectrum`` column names one of them by its header::

    file,spectrum,grade,Mg
    spectra/shots_p03.csv,,5182,4.4
    spectra/pieces.csv,P-11,6063,0.5
    spectra/pieces.csv,P-12,3105,0.4
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blending.catalogue.composition import elements as periodic_table
from blending.catalogue.tables import DataFileError, read_csv_file
from blending.errors import InputError
from sorter.batch import SpectrumBatch
from sorter.io.dispatch import read_spectra
from sorter.spectrum import Spectrum

LABELS_FILE = "labels.csv"
_IGNORED_COLUMNS = ("source", "note", "comment")
_SPECTRUM = "spectrum"


@dataclass(frozen=True, eq=False)
class LabelledSpectra:
    """Spectra with their grade and reference composition, in ``labels.csv`` order.

    Attributes
    ----------
    spectra : list of Spectrum
        One per labelled file; grids may differ between files.
    files : list of str
        The ``file`` entries as written in labels.csv; ``file#column`` for a spectrum of a file
        holding several side by side.
    labels : ndarray of str, shape (n,)
        Grade of each spectrum; "" when blank.
    elements : tuple of str, length k
        Element columns of labels.csv, in column order.
    composition_wt_pct : ndarray, shape (n, k)
        Reference analysis [wt%]; NaN where blank.
    """

    spectra: list[Spectrum]
    files: list[str]
    labels: np.ndarray
    elements: tuple[str, ...]
    composition_wt_pct: np.ndarray

    def __len__(self) -> int:
        return len(self.spectra)

    def to_batch(self, instrument: str = "") -> SpectrumBatch:
        """One `SpectrumBatch` when all spectra share one grid; otherwise a ValueError saying which differs."""
        if not self.spectra:
            raise InputError("no spectra to put in a batch")
        grid = self.spectra[0].wavelength_nm
        for file, s in zip(self.files, self.spectra, strict=True):
            if s.wavelength_nm.shape != grid.shape or not np.array_equal(s.wavelength_nm, grid):
                raise InputError(f"{file}: wavelength grid differs from {self.files[0]}'s; "
                                 "resample onto one grid before batching")
        instrument = instrument or self.spectra[0].metadata.instrument
        return SpectrumBatch(grid, np.stack([s.intensity for s in self.spectra]), self.labels, self.elements,
                             self.composition_wt_pct.copy(), instrument,
                             {"piece_id": np.array([s.metadata.piece_id for s in self.spectra], dtype=str),
                              "file": np.array(self.files, dtype=str)})


def read_labelled_folder(folder: str | Path, *, wavelength_column: str | None = None,
                         intensity_column: str | None = None) -> LabelledSpectra:
    """Read ``folder/labels.csv`` and every spectrum file it lists.

    ``wavelength_column``, ``intensity_column``: see `sorter.io.read_spectra`; they apply to every
    text file listed.

    Errors name labels.csv's row and field ("labels.csv row 4, file: spectra/p17.csv does not exist")
    or the spectrum file's line and field ("spectra/p3.csv line 12, intensity: 'abc' is not a number").
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataFileError(str(folder), None, None, "is not a folder")
    labels_path = folder / LABELS_FILE
    if not labels_path.is_file():
        raise DataFileError(str(folder), None, None, f"has no {LABELS_FILE} (columns file,grade[,element wt%...])")
    rows = read_csv_file(labels_path, required_columns=("file", "grade"))
    header = list(rows[0].values) if rows else []
    known = periodic_table()
    element_columns = []
    for column in header:
        if column in ("file", "grade", _SPECTRUM) or column.lower() in _IGNORED_COLUMNS or not column:
            continue
        if column not in known:
            raise DataFileError(LABELS_FILE, 1, column,
                                "is not an element symbol (element columns hold wt%; "
                                f"other allowed columns: file, grade, {_SPECTRUM}, {', '.join(_IGNORED_COLUMNS)})")
        element_columns.append(column)
    spectra, files, labels, composition = [], [], [], []
    seen: dict[tuple[str, str], int] = {}
    read: dict[str, list[Spectrum]] = {}
    for row in rows:
        file = row.text("file")
        wanted = row.text(_SPECTRUM, required=False) if _SPECTRUM in header else ""
        if (file, wanted) in seen:
            raise row.error("file", f"{file} is listed twice (also row {seen[(file, wanted)]})")
        other = next((r for (f, w), r in seen.items() if f == file and not (w and wanted)), None)
        if other is not None:
            raise row.error(_SPECTRUM, f"row {other} labels {file} too; a file is listed once for all its "
                            "spectra, or once per spectrum named in the spectrum column")
        seen[(file, wanted)] = row.line
        path = folder / file
        if not path.is_file():
            raise row.error("file", f"{file} does not exist")
        if file not in read:
            read[file] = read_spectra(path, name=file, wavelength_column=wavelength_column,
                                      intensity_column=intensity_column)
        in_file = read[file]
        if wanted:
            named = [s for s in in_file if s.metadata.extra.get("intensity_column") == wanted]
            if not named or len(in_file) == 1:
                found = ", ".join(s.metadata.extra.get("intensity_column", "") for s in in_file)
                raise row.error(_SPECTRUM, f"{file} holds no spectrum named {wanted!r}"
                                + (f" (it holds {found})" if len(in_file) > 1 else " (it holds one spectrum)"))
            in_file = named
        grade = row.text("grade", required=False)
        analysis = [np.nan if (v := row.number_or_none(e, lo=0, hi=100, unit="wt%")) is None else v
                    for e in element_columns]
        for s in in_file:
            spectra.append(s)
            several = len(read[file]) > 1
            files.append(f"{file}#{s.metadata.extra['intensity_column']}" if several else file)
            labels.append(grade)
            composition.append(analysis)
    if not spectra:
        raise DataFileError(LABELS_FILE, None, None, "lists no spectrum files")
    return LabelledSpectra(spectra, files, np.array(labels, dtype=str), tuple(element_columns),
                           np.array(composition, dtype=np.float64).reshape(len(spectra), len(element_columns)))
