"""`SpectrumBatch` files: many spectra on one grid, with labels and ground truth, as NumPy ``.npz``.

Layout (format version 1)
-------------------------
=========================  ===========  ==========================================
key                        shape        content
=========================  ===========  ==========================================
``format``                 ()           ``"aluloop.spectrum_batch"``
``format_version``         ()           1
``wavelength_nm``          (p,)         float64 grid [nm]
``intensity``              (n, p)       float64 counts
``labels``                 (n,)         unicode grade names
``elements``               (k,)         unicode element symbols
``composition_wt_pct``     (n, k)       float64 [wt%], NaN unknown; absent if None
``instrument``             ()           unicode
``meta.<key>``             (n,)         one array per ``meta`` entry (numbers or text)
=========================  ===========  ==========================================

Files are read with ``allow_pickle=False``: a batch file cannot run code.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from sorter.batch import SpectrumBatch
from sorter.io.checks import SpectrumFileError
from sorter.spectrum import SpectrumError

FORMAT = "aluloop.spectrum_batch"
FORMAT_VERSION = 1
_META = "meta."


def save_batch(path: str | Path, batch: SpectrumBatch) -> Path:
    """Write ``batch`` to ``path`` (compressed ``.npz``); returns the path written.

    NumPy appends ``.npz`` when ``path`` lacks it; the returned path is the real one.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION),
        "wavelength_nm": np.asarray(batch.wavelength_nm, dtype=np.float64),
        "intensity": np.asarray(batch.intensity, dtype=np.float64),
        "labels": np.asarray(batch.labels, dtype=str),
        "elements": np.asarray(batch.elements, dtype=str).reshape(len(batch.elements)),
        "instrument": np.array(str(batch.instrument)),
    }
    if batch.composition_wt_pct is not None:
        arrays["composition_wt_pct"] = np.asarray(batch.composition_wt_pct, dtype=np.float64)
    for key, values in batch.meta.items():
        values = np.asarray(values)
        if values.dtype == object:
            raise SpectrumError(f"meta[{key!r}]: holds Python objects; only numbers or text can be saved")
        arrays[_META + key] = values
    np.savez_compressed(path, **arrays)
    return path


def load_batch(path: str | Path) -> SpectrumBatch:
    """Read a batch written by `save_batch`; errors name the file and the key."""
    name = str(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise SpectrumFileError(name, None, None, "no such file") from None
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise SpectrumFileError(name, None, None, f"is not a NumPy .npz batch file ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise SpectrumFileError(name, None, None, "holds a single array, not a .npz batch file")
    with archive:
        def get(key: str) -> np.ndarray:
            if key not in archive.files:
                raise SpectrumFileError(name, None, key, "is missing; not a spectrum batch written by save_batch")
            try:
                return archive[key]
            except ValueError as exc:  # object arrays need pickle, which is refused
                raise SpectrumFileError(name, None, key, f"cannot be read without pickle ({exc})") from None

        fmt = get("format")
        if fmt.shape != () or str(fmt) != FORMAT:
            raise SpectrumFileError(name, None, "format", f"{fmt!s} is not {FORMAT!r}")
        version = get("format_version")
        if version.shape != () or int(version) != FORMAT_VERSION:
            raise SpectrumFileError(name, None, "format_version",
                                    f"{version!s} is not supported; this aluloop reads version {FORMAT_VERSION}")
        wl = get("wavelength_nm")
        it = get("intensity")
        labels = get("labels")
        elements = get("elements")
        _expect(name, "wavelength_nm", wl, (wl.size,))
        if it.ndim != 2 or it.shape[1] != wl.size:
            raise SpectrumFileError(name, None, "intensity",
                                    f"has shape {it.shape}; expected (n spectra, {wl.size} wavelengths)")
        n = it.shape[0]
        _expect(name, "labels", labels, (n,))
        _expect(name, "elements", elements, (elements.size,))
        comp = None
        if "composition_wt_pct" in archive.files:
            comp = get("composition_wt_pct")
            _expect(name, "composition_wt_pct", comp, (n, elements.size))
        meta = {}
        for key in archive.files:
            if key.startswith(_META):
                values = get(key)
                _expect(name, key, values, (n,))
                meta[key[len(_META):]] = values
        instrument = str(get("instrument"))
    try:
        return SpectrumBatch(wl, it, labels, tuple(str(e) for e in elements), comp, instrument, meta)
    except SpectrumError as exc:
        raise SpectrumFileError(name, None, None, str(exc)) from None


def _expect(file: str, key: str, values: np.ndarray, shape: tuple[int, ...]) -> None:
    if values.shape != shape:
        want = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise SpectrumFileError(file, None, key, f"has shape {values.shape}; expected {want}")
