"""Line shapes: Doppler and Stark widths, Voigt profile, instrument and pixel response."""

from __future__ import annotations

import numpy as np
from scipy.special import erf, voigt_profile

from sorter.physics.constants import AMU, K_B, C

FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
STARK_REFERENCE_PER_CM3 = 1e17


def doppler_fwhm(wavelength_nm, T_K, mass_u):
    """Doppler (thermal) FWHM of a line.

    Parameters
    ----------
    wavelength_nm : float or array_like
        Line centre [nm].
    T_K : float or array_like
        Kinetic temperature of the emitters [K].
    mass_u : float or array_like
        Atomic mass of the emitter [u].

    Returns
    -------
    fwhm_nm : float or ndarray
        [nm].

    Notes
    -----
    FWHM = lambda sqrt(8 k T ln 2 / (m c^2)); about 0.003 nm for Al at 10,000 K and 400 nm.
    """
    return np.asarray(wavelength_nm) * np.sqrt(8.0 * K_B * np.asarray(T_K) * np.log(2.0)
                                               / (np.asarray(mass_u) * AMU * C ** 2))


def stark_fwhm(w_ref_nm, n_e_per_cm3, n_ref_per_cm3=STARK_REFERENCE_PER_CM3):
    """Electron-impact Stark FWHM, linear in electron density.

    Parameters
    ----------
    w_ref_nm : float or array_like
        FWHM at the reference density (STARK-B tabulates 1e17 cm^-3 and about 10,000 K) [nm].
    n_e_per_cm3 : float or array_like
        Electron density [cm^-3].
    n_ref_per_cm3 : float
        Density at which ``w_ref_nm`` holds [cm^-3].

    Returns
    -------
    fwhm_nm : float or ndarray
        Lorentzian FWHM [nm].

    Notes
    -----
    w_S = w_ref (n_e / n_ref); the weak temperature dependence and the ion
    contribution are neglected [1]_.

    References
    ----------
    .. [1] Konjevic, N., Phys. Rep. 316 (1999) 339.
    """
    return np.asarray(w_ref_nm) * np.asarray(n_e_per_cm3) / n_ref_per_cm3


def voigt(wavelength_nm, center_nm, gauss_fwhm_nm, lorentz_fwhm_nm):
    """Area-normalised Voigt profile.

    Parameters
    ----------
    wavelength_nm : array_like
        Where to evaluate [nm].
    center_nm : float or array_like
        Line centre [nm] (broadcasts against ``wavelength_nm``).
    gauss_fwhm_nm, lorentz_fwhm_nm : float or array_like
        FWHM of the Gaussian and Lorentzian components [nm].

    Returns
    -------
    phi : ndarray
        Profile [nm^-1]; integrates to 1 over wavelength.

    Notes
    -----
    Convolution of a Gaussian (sigma = FWHM_G / (2 sqrt(2 ln 2))) and a
    Lorentzian (gamma = FWHM_L / 2), evaluated with ``scipy.special.voigt_profile``
    (Faddeeva function).
    """
    x = np.asarray(wavelength_nm) - np.asarray(center_nm)
    sigma = np.asarray(gauss_fwhm_nm) / FWHM_PER_SIGMA
    gamma = np.asarray(lorentz_fwhm_nm) / 2.0
    return voigt_profile(x, sigma, gamma)


def voigt_fwhm(gauss_fwhm_nm, lorentz_fwhm_nm):
    """FWHM of a Voigt profile (Olivero and Longbothum 1977, accurate to 0.02%) [nm]."""
    fl = np.asarray(lorentz_fwhm_nm)
    fg = np.asarray(gauss_fwhm_nm)
    return 0.5346 * fl + np.sqrt(0.2166 * fl ** 2 + fg ** 2)


def gaussian_fwhm_sum(*fwhm_nm):
    """FWHM of a convolution of Gaussians: the root sum of squares [nm]."""
    return np.sqrt(sum(np.asarray(f, dtype=float) ** 2 for f in fwhm_nm))


def pixel_gaussian_kernel(offset_nm, gauss_fwhm_nm, pixel_width_nm):
    """Instrument Gaussian convolved with a pixel's box response.

    Parameters
    ----------
    offset_nm : array_like
        Pixel centre minus source wavelength [nm].
    gauss_fwhm_nm : float or array_like
        Instrument (slit and optics) FWHM [nm].
    pixel_width_nm : float or array_like
        Width of the pixel [nm].

    Returns
    -------
    kernel : ndarray
        [nm^-1]: the mean over the pixel of the Gaussian, so that a
        monochromatic source of unit integrated radiance gives the mean
        spectral radiance the pixel sees.

    Notes
    -----
    (1 / (2 d)) [erf((x + d/2) / (sigma sqrt 2)) - erf((x - d/2) / (sigma sqrt 2))].
    """
    x = np.asarray(offset_nm, dtype=float)
    s = np.asarray(gauss_fwhm_nm, dtype=float) / FWHM_PER_SIGMA * np.sqrt(2.0)
    d = np.asarray(pixel_width_nm, dtype=float)
    return (erf((x + d / 2) / s) - erf((x - d / 2) / s)) / (2.0 * d)


def thin_window_nm(lorentz_fwhm_nm, voigt_fwhm_nm, pixel_nm: float):
    """Half-width of the window a line profile is kept in [nm]: 5 Voigt or 25 Lorentzian FWHM, 8 nm at most."""
    return np.minimum(np.maximum(np.maximum(5.0 * voigt_fwhm_nm, 25.0 * lorentz_fwhm_nm), 2.5 * pixel_nm), 8.0)


def lorentz_kept_fraction(lorentz_fwhm_nm, half_nm):
    """Share of a Lorentzian's area within +-half of its centre, (2/pi) arctan(2 half / FWHM) [-]."""
    lor = np.asarray(lorentz_fwhm_nm, dtype=float)
    return np.where(lor > 0, 2.0 / np.pi * np.arctan(2.0 * np.asarray(half_nm) / np.maximum(lor, 1e-12)), 1.0)


def fine_grid(core: float, half: float, max_step: float, growth: float = 1.2,
              fine_until: float | None = None, wing_growth: float = 1.25) -> np.ndarray:
    """Symmetric offsets [nm] in [-half, half] for sampling a line profile.

    Spacing starts at ``core`` at the centre and grows by ``growth`` per point, never above
    ``max_step`` while ``|x| <= fine_until`` (default: everywhere); beyond ``fine_until`` it keeps
    growing by ``wing_growth`` without a cap (for smooth, optically thin wings).
    """
    limit = half if fine_until is None else fine_until
    pts = [0.0]
    step = min(core, max_step)
    x = 0.0
    while x < half:
        x += step
        pts.append(min(x, half))
        step = min(step * growth, max_step) if x < limit else step * wing_growth
    pos = np.array(pts[1:])
    return np.concatenate([-pos[::-1], [0.0], pos])
