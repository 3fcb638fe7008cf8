"""One LIBS emission spectrum: a wavelength grid, intensities and acquisition metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from blending.errors import InputError

MAX_POINTS = 100_000


class SpectrumError(InputError):
    """A spectrum that cannot be used: names the field and the reason (an InputError, so a ValueError)."""


@dataclass(frozen=True)
class Metadata:
    """How a spectrum was acquired; every field is optional."""

    instrument: str = ""
    shots: int | None = None
    timestamp: datetime | None = None
    piece_id: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Intensities on a strictly increasing wavelength grid.

    Parameters
    ----------
    wavelength_nm : array_like of float
        Air wavelength of each pixel [nm], strictly increasing.
    intensity : array_like of float
        Counts (or calibrated radiance) per pixel [arbitrary units]; same length.
    metadata : Metadata
        Instrument, number of shots, timestamp and piece id.

    Examples
    --------
    >>> s = Spectrum([390.0, 390.1, 390.2], [10.0, 250.0, 12.0])
    >>> s.n_points
    3
    """

    wavelength_nm: np.ndarray
    intensity: np.ndarray
    metadata: Metadata = field(default_factory=Metadata)

    def __post_init__(self):
        wl = _as_float_array(self.wavelength_nm, "wavelength_nm")
        it = _as_float_array(self.intensity, "intensity")
        if wl.size == 0:
            raise SpectrumError("wavelength_nm: spectrum is empty")
        if wl.size > MAX_POINTS:
            raise SpectrumError(f"wavelength_nm: {wl.size} points is more than the {MAX_POINTS} allowed")
        if wl.shape != it.shape:
            raise SpectrumError(f"intensity: {it.size} values for {wl.size} wavelengths; lengths must match")
        if not np.all(np.isfinite(wl)):
            bad = int(np.flatnonzero(~np.isfinite(wl))[0])
            raise SpectrumError(f"wavelength_nm: point {bad} is {wl[bad]}; must be finite")
        if not np.all(np.isfinite(it)):
            bad = int(np.flatnonzero(~np.isfinite(it))[0])
            raise SpectrumError(f"intensity: point {bad} (at {wl[bad]:g} nm) is {it[bad]}; must be finite")
        if wl[0] <= 0:
            raise SpectrumError(f"wavelength_nm: {wl[0]:g} nm is not positive")
        steps = np.diff(wl)
        if np.any(steps <= 0):
            bad = int(np.flatnonzero(steps <= 0)[0])
            what = "duplicated" if steps[bad] == 0 else "decreasing"
            raise SpectrumError(
                f"wavelength_nm: {what} at point {bad + 1} ({wl[bad]:g} then {wl[bad + 1]:g} nm); "
                "must be strictly increasing")
        wl.setflags(write=False)
        it.setflags(write=False)
        object.__setattr__(self, "wavelength_nm", wl)
        object.__setattr__(self, "intensity", it)

    @property
    def n_points(self) -> int:
        return int(self.wavelength_nm.size)

    @property
    def range_nm(self) -> tuple[float, float]:
        return float(self.wavelength_nm[0]), float(self.wavelength_nm[-1])


def _as_float_array(values, name: str) -> np.ndarray:
    try:
        arr = np.array(values, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise SpectrumError(f"{name}: not numeric ({exc})") from None
    if arr.ndim != 1:
        raise SpectrumError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    return arr
