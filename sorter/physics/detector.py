"""Spectrometer detector: wavelength calibration, spectral response, photon and read noise, ADC."""

from __future__ import annotations

import numpy as np

from blending.errors import InputError


def pixel_wavelengths(n_pixels: int, coefficients, *, offset_nm=0.0):
    """Wavelength of each pixel centre from a calibration polynomial.

    Parameters
    ----------
    n_pixels : int
        Number of pixels [-].
    coefficients : sequence of float
        c0, c1, c2, ... of lambda(p) = sum_k c_k p^k with p the pixel index [nm].
    offset_nm : float or array_like, shape (n,)
        Shift of the true wavelength scale against the calibration [nm]; an
        array gives one grid per spectrum.

    Returns
    -------
    wavelength_nm : ndarray, shape (n_pixels,) or (n, n_pixels)
        [nm].
    """
    if n_pixels < 2:
        raise InputError(f"n_pixels: {n_pixels} must be at least 2", field="n_pixels")
    p = np.arange(n_pixels, dtype=float)
    wl = np.polynomial.polynomial.polyval(p, np.asarray(coefficients, dtype=float))
    off = np.asarray(offset_nm, dtype=float)
    return wl + off[..., None] if off.ndim else wl + float(off)


def pixel_widths(wavelength_nm):
    """Width of each pixel from its neighbours' centres [nm] (same shape as the input)."""
    wl = np.asarray(wavelength_nm, dtype=float)
    return np.gradient(wl, axis=-1)


def expected_photoelectrons(radiance, response, pixel_width_nm, throughput):
    """Mean photoelectrons per pixel.

    Parameters
    ----------
    radiance : array_like
        Mean spectral radiance over each pixel [W m^-2 sr^-1 nm^-1].
    response : array_like
        Relative spectral response (optics, grating, quantum efficiency) [-], at most 1.
    pixel_width_nm : array_like
        [nm].
    throughput : float or array_like
        Photoelectrons per unit of radiance x nm at response 1 [e- / (W m^-2 sr^-1)],
        which folds in the collected solid angle, area, gate and photon energy.

    Returns
    -------
    electrons : ndarray
        [e-].
    """
    return np.asarray(radiance) * np.asarray(response) * np.asarray(pixel_width_nm) * np.asarray(throughput)


def _checked_electrons(electrons) -> np.ndarray:
    n = np.asarray(electrons, dtype=float)
    if np.any(n < 0) or not np.all(np.isfinite(n)):
        raise InputError("electrons: expected counts must be finite and non-negative", field="electrons")
    return n


def count_variance(electrons, *, gain=1.0, read_noise=0.0, noise_scale=1.0):
    """Variance of the counts :func:`read_out` reports for a mean photoelectron signal [counts^2].

    Parameters
    ----------
    electrons : array_like
        Mean photoelectrons per pixel [e-], non-negative.
    gain : float
        [counts / e-].
    read_noise : float
        Standard deviation of the read-out noise [counts].
    noise_scale : float
        The same multiplier as in :func:`read_out` [-].

    Notes
    -----
    Var = noise_scale^2 (gain^2 N + read_noise^2): Poisson photoelectrons (variance N) times the
    gain, plus independent read noise [1]_; the rounding to integer counts adds 1/12, left out.

    References
    ----------
    .. [1] Janesick, J. R., Photon Transfer, SPIE Press (2007), ch. 2.
    """
    n = _checked_electrons(electrons)
    return noise_scale ** 2 * (gain ** 2 * n + read_noise ** 2)


def read_out(electrons, rng: np.random.Generator, *, gain=1.0, read_noise=0.0, dark=0.0, adc_max=65535.0,
             noise_scale=1.0):
    """Counts a CCD reports for a mean photoelectron signal.

    Parameters
    ----------
    electrons : array_like
        Mean photoelectrons per pixel [e-], non-negative.
    rng : numpy.random.Generator
        Source of the shot and read noise.
    gain : float
        [counts / e-].
    read_noise : float
        Standard deviation of the read-out noise [counts].
    dark : float
        Dark offset (bias plus dark current) [counts].
    adc_max : float
        Saturation level of the analogue-to-digital converter [counts].
    noise_scale : float
        Multiplies both the shot-noise excess and the read noise; 1 is the physical
        detector, 0 returns the noiseless expectation (a test and out-of-distribution knob).

    Returns
    -------
    counts : ndarray
        Integers in [0, adc_max], stored as float.

    Notes
    -----
    counts = clip(round(gain Poisson(N) + dark + Normal(0, read_noise)), 0, adc_max);
    the variance of the photon part is gain^2 N (gain x mean counts) [1]_.

    References
    ----------
    .. [1] Janesick, J. R., Photon Transfer, SPIE Press (2007), ch. 2.
    """
    mean = _checked_electrons(electrons)
    if noise_scale < 0:
        raise InputError(f"noise_scale: {noise_scale:g} must be non-negative", field="noise_scale")
    if noise_scale == 0:
        counts = gain * mean + dark
        return np.clip(counts, 0.0, adc_max)
    shot = rng.poisson(mean).astype(float)
    if noise_scale != 1.0:
        shot = mean + noise_scale * (shot - mean)
    counts = gain * shot + dark + rng.normal(0.0, read_noise * noise_scale, size=mean.shape)
    return np.clip(np.rint(counts), 0.0, adc_max)
