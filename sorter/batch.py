"""Many spectra on one wavelength grid, with ground truth: the unit of simulated and training data."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sorter.spectrum import Metadata, Spectrum, SpectrumError


@dataclass(frozen=True, eq=False)
class SpectrumBatch:
    """``n`` spectra sampled on one shared wavelength grid.

    Attributes
    ----------
    wavelength_nm : ndarray, shape (p,)
        Shared pixel grid [nm], strictly increasing.
    intensity : ndarray, shape (n, p)
        Counts per pixel.
    labels : ndarray of str, shape (n,)
        Grade of each spectrum ("5182", "brass", ...); "" when unknown.
    elements : tuple of str, length k
        Element symbols of the composition columns.
    composition_wt_pct : ndarray, shape (n, k)
        True (simulated) or reference (lab) composition [wt%]; NaN where unknown.
    instrument : str
        Instrument profile name the spectra were taken or simulated with.
    meta : dict of str to ndarray, each shape (n,)
        Per-spectrum extras, e.g. ``seed``, ``T_e_K``, ``n_e_per_cm3``, ``piece_id``.
    """

    wavelength_nm: np.ndarray
    intensity: np.ndarray
    labels: np.ndarray
    elements: tuple[str, ...] = ()
    composition_wt_pct: np.ndarray | None = None
    instrument: str = ""
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        wl = np.asarray(self.wavelength_nm, dtype=np.float64)
        it = np.asarray(self.intensity, dtype=np.float64)
        labels = np.asarray(self.labels, dtype=str)
        if it.ndim != 2 or it.shape[1] != wl.size:
            raise SpectrumError(f"intensity: shape {it.shape} does not match {wl.size} wavelengths")
        if labels.shape != (it.shape[0],):
            raise SpectrumError(f"labels: {labels.size} labels for {it.shape[0]} spectra")
        if np.any(np.diff(wl) <= 0):
            raise SpectrumError("wavelength_nm: must be strictly increasing")
        if not np.all(np.isfinite(it)):
            raise SpectrumError("intensity: contains NaN or inf")
        comp = self.composition_wt_pct
        if comp is not None:
            comp = np.asarray(comp, dtype=np.float64)
            if comp.shape != (it.shape[0], len(self.elements)):
                raise SpectrumError(f"composition_wt_pct: shape {comp.shape}, expected "
                                    f"({it.shape[0]}, {len(self.elements)})")
        for key, values in self.meta.items():
            if len(values) != it.shape[0]:
                raise SpectrumError(f"meta[{key!r}]: {len(values)} values for {it.shape[0]} spectra")
        object.__setattr__(self, "wavelength_nm", wl)
        object.__setattr__(self, "intensity", it)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "elements", tuple(self.elements))
        object.__setattr__(self, "composition_wt_pct", comp)

    def __len__(self) -> int:
        return int(self.intensity.shape[0])

    def spectrum(self, i: int) -> Spectrum:
        piece = self.meta.get("piece_id")
        return Spectrum(self.wavelength_nm, self.intensity[i],
                        Metadata(instrument=self.instrument, piece_id=str(piece[i]) if piece is not None else ""))

    def composition(self, i: int) -> dict[str, float]:
        """True composition of spectrum ``i`` [wt%], NaN entries dropped."""
        if self.composition_wt_pct is None:
            return {}
        row = self.composition_wt_pct[i]
        return {e: float(v) for e, v in zip(self.elements, row, strict=True) if np.isfinite(v)}
