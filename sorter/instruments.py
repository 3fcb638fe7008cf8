"""Spectrometer profiles: wavelength grid, resolution, response, noise and calibration error.

Profiles are data (``sorter/data/instruments.toml``); an :class:`Instrument` can also be
built in code with any range, pixel count, resolution, response and noise, for example to
test a classifier on a spectrometer it was not trained on.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources

import numpy as np

from blending.errors import InputError, NotFoundError
from sorter.physics import detector


@dataclass(frozen=True)
class Instrument:
    """One spectrometer.

    Parameters
    ----------
    name : str
    wavelength_min_nm, wavelength_max_nm : float
        Calibrated range, first and last pixel centre [nm].
    n_pixels : int
        Number of pixels [-].
    resolution_fwhm_nm : float
        Instrument (slit, optics) Gaussian FWHM [nm]; 0.02 to 0.5.
    calibration_curvature_nm : float
        Quadratic bow of the true dispersion against a straight line, at mid-range [nm].
        The reported grid is this polynomial; the pixel spacing is therefore not uniform.
    wavelength_offset_nm : float
        Systematic shift of the true wavelength scale [nm]: a line appears this much redder.
    wavelength_drift_sd_nm : float
        Standard deviation of a random shot-to-shot shift [nm].
    response_wavelength_nm, response_relative : tuple of float
        Relative spectral response knots (linear interpolation) [nm], [-].
    throughput_e_per_radiance_nm : float
        Photoelectrons per (W m^-2 sr^-1 nm^-1) x nm of pixel width at response 1.
    gain_counts_per_e : float
        [counts / e-].
    read_noise_counts, dark_counts, adc_max_counts : float
        Read noise standard deviation, dark offset and saturation level [counts].
    continuum_scale : float
        Multiplies the plasma continuum (stands in for a different gate delay) [-].
    """

    name: str
    wavelength_min_nm: float
    wavelength_max_nm: float
    n_pixels: int
    resolution_fwhm_nm: float
    calibration_curvature_nm: float = 0.0
    wavelength_offset_nm: float = 0.0
    wavelength_drift_sd_nm: float = 0.0
    response_wavelength_nm: tuple[float, ...] = (0.0, 1e4)
    response_relative: tuple[float, ...] = (1.0, 1.0)
    throughput_e_per_radiance_nm: float = 1.0
    gain_counts_per_e: float = 0.2
    read_noise_counts: float = 1.0
    dark_counts: float = 300.0
    adc_max_counts: float = 65535.0
    continuum_scale: float = 1.0
    description: str = ""
    source: str = ""
    _grid: np.ndarray = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        where = f"instrument {self.name!r}"
        if not self.wavelength_max_nm > self.wavelength_min_nm:
            raise InputError(f"{where}: empty range {self.wavelength_min_nm:g}-{self.wavelength_max_nm:g} nm; "
                             "wavelength_max_nm must exceed wavelength_min_nm")
        if self.wavelength_min_nm < 150 or self.wavelength_max_nm > 1100:
            raise InputError(f"{where}: range {self.wavelength_min_nm:g}-{self.wavelength_max_nm:g} nm lies "
                             "outside the 150-1100 nm the line list covers")
        if not 16 <= int(self.n_pixels) <= 100_000:
            raise InputError(f"{where}: n_pixels {self.n_pixels} must be between 16 and 100000")
        if not 0.005 <= self.resolution_fwhm_nm <= 2.0:
            raise InputError(f"{where}: resolution_fwhm_nm {self.resolution_fwhm_nm:g} nm must be in 0.005-2")
        if len(self.response_wavelength_nm) != len(self.response_relative) or len(self.response_relative) < 2:
            raise InputError(f"{where}: response_wavelength_nm and response_relative need equal lengths >= 2")
        if np.any(np.diff(self.response_wavelength_nm) <= 0):
            raise InputError(f"{where}: response_wavelength_nm must be strictly increasing")
        if min(self.response_relative) < 0:
            raise InputError(f"{where}: response_relative must be non-negative")
        for name in ("throughput_e_per_radiance_nm", "gain_counts_per_e", "adc_max_counts"):
            if not getattr(self, name) > 0:
                raise InputError(f"{where}: {name} must be positive")
        for name in ("read_noise_counts", "dark_counts", "wavelength_drift_sd_nm", "continuum_scale"):
            if getattr(self, name) < 0:
                raise InputError(f"{where}: {name} must be non-negative")
        step = (self.wavelength_max_nm - self.wavelength_min_nm) / (self.n_pixels - 1)
        if abs(self.calibration_curvature_nm) > 0.2 * step * self.n_pixels / 4:
            raise InputError(f"{where}: calibration_curvature_nm {self.calibration_curvature_nm:g} is too large "
                             "for a monotonic grid")
        object.__setattr__(self, "response_wavelength_nm", tuple(float(v) for v in self.response_wavelength_nm))
        object.__setattr__(self, "response_relative", tuple(float(v) for v in self.response_relative))
        object.__setattr__(self, "n_pixels", int(self.n_pixels))
        # instruments report their calibrated grid to 1e-5 nm; it keeps files short and exact
        grid = np.round(detector.pixel_wavelengths(self.n_pixels, self.calibration_coefficients()), 5)
        grid.setflags(write=False)
        object.__setattr__(self, "_grid", grid)

    def calibration_coefficients(self) -> tuple[float, float, float]:
        """c0, c1, c2 of lambda(p) = c0 + c1 p + c2 p^2 through both ends, bowed by the curvature [nm]."""
        n1 = self.n_pixels - 1
        # c2 p (p - n1) is zero at both ends and -c2 n1^2 / 4 at mid-range
        c2 = -4.0 * self.calibration_curvature_nm / n1 ** 2
        c1 = (self.wavelength_max_nm - self.wavelength_min_nm) / n1 - c2 * n1
        return (self.wavelength_min_nm, c1, c2)

    @property
    def wavelength_nm(self) -> np.ndarray:
        """Calibrated (reported) pixel centres [nm]."""
        return self._grid

    def response(self, wavelength_nm) -> np.ndarray:
        """Relative spectral response at ``wavelength_nm`` [-]."""
        return np.interp(wavelength_nm, self.response_wavelength_nm, self.response_relative)

    def with_changes(self, **changes) -> Instrument:
        """A copy with some parameters changed (validated again)."""
        changes.pop("_grid", None)
        return replace(self, **changes)


_FIELDS = {f for f in Instrument.__dataclass_fields__ if not f.startswith("_")}


@cache
def instrument_profiles() -> dict[str, Instrument]:
    """The instruments of ``sorter/data/instruments.toml`` by name."""
    text = resources.files("sorter.data").joinpath("instruments.toml").read_text()
    data = tomllib.loads(text)
    out = {}
    for name, table in data.items():
        unknown = set(table) - _FIELDS
        if unknown:
            raise InputError(f"instruments.toml [{name}]: unknown parameter {sorted(unknown)[0]!r}")
        for key in ("response_wavelength_nm", "response_relative"):
            if key in table:
                table[key] = tuple(table[key])
        out[name] = Instrument(name=name, **table)
    return out


def get_instrument(instrument: str | Instrument) -> Instrument:
    """An :class:`Instrument` passed through, or the built-in profile of that name."""
    if isinstance(instrument, Instrument):
        return instrument
    profiles = instrument_profiles()
    if instrument not in profiles:
        raise NotFoundError(f"unknown instrument {instrument!r}; known instruments: {', '.join(profiles)}")
    return profiles[instrument]


def instrument_window(instrument: str | Instrument, range_nm: tuple[float, float] | None = None,
                      n_pixels: int | None = None) -> Instrument:
    """``instrument`` cut to ``range_nm`` (LOW, HIGH) [nm] and/or resampled to ``n_pixels``.

    Without ``n_pixels`` the new range keeps the instrument's pixel pitch; the cut instrument has
    no calibration curvature (its pixels are evenly spaced) and is named after its range.
    """
    inst = get_instrument(instrument)
    if range_nm is None and n_pixels is None:
        return inst
    lo, hi = range_nm if range_nm is not None else (inst.wavelength_min_nm, inst.wavelength_max_nm)
    if not hi > lo:
        raise InputError(f"empty range {lo:g}-{hi:g} nm; give LOW HIGH with HIGH > LOW", field="range_nm")
    if n_pixels is None:
        pitch = (inst.wavelength_max_nm - inst.wavelength_min_nm) / (inst.n_pixels - 1)
        n_pixels = int(round((hi - lo) / pitch)) + 1
    if n_pixels < 16:
        raise InputError(f"{n_pixels} pixels is too few; give at least 16", field="n_pixels")
    return inst.with_changes(name=f"{inst.name}_{lo:g}-{hi:g}nm", wavelength_min_nm=lo, wavelength_max_nm=hi,
                             n_pixels=n_pixels, calibration_curvature_nm=0.0)
