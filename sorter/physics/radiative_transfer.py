"""Emission and absorption of a line, and the uniform slab that turns them into radiance."""

from __future__ import annotations

from functools import cache

import numpy as np

from sorter.physics.constants import HC_EV_NM, K_B, K_B_EV, C, H
from sorter.physics.line_profiles import voigt


def planck_radiance(wavelength_nm, T_K):
    """Black-body spectral radiance B_lambda(T).

    Parameters
    ----------
    wavelength_nm : float or array_like
        [nm].
    T_K : float or array_like
        [K].

    Returns
    -------
    B : ndarray
        [W m^-2 sr^-1 nm^-1].

    Notes
    -----
    B_lambda = 2 h c^2 / lambda^5 / (exp(h c / lambda k T) - 1), per metre of
    wavelength, times 1e-9 for per nm.
    """
    lam = np.asarray(wavelength_nm, dtype=float) * 1e-9
    x = H * C / (lam * K_B * np.asarray(T_K, dtype=float))
    return 2.0 * H * C ** 2 / lam ** 5 / np.expm1(x) * 1e-9


def line_emissivity(wavelength_nm, A_ki_per_s, n_upper_per_m3):
    """Optically thin, frequency-integrated emission coefficient of a line.

    Parameters
    ----------
    wavelength_nm : float or array_like
        Line centre [nm].
    A_ki_per_s : float or array_like
        Transition probability [s^-1].
    n_upper_per_m3 : float or array_like
        Upper-level population [m^-3].

    Returns
    -------
    epsilon : ndarray
        [W m^-3 sr^-1].

    Notes
    -----
    epsilon = (h c / (4 pi lambda)) A_ki n_k [1]_.

    References
    ----------
    .. [1] Ciucci, A. et al., Appl. Spectrosc. 53 (1999) 960.
    """
    lam = np.asarray(wavelength_nm, dtype=float) * 1e-9
    return H * C / (4.0 * np.pi * lam) * np.asarray(A_ki_per_s) * np.asarray(n_upper_per_m3)


def line_absorption_area(wavelength_nm, A_ki_per_s, g_k, g_i, n_lower_per_m3, T_K):
    """Wavelength-integrated absorption coefficient of a line, corrected for stimulated emission.

    Parameters
    ----------
    wavelength_nm : float or array_like
        Line centre [nm].
    A_ki_per_s : float or array_like
        Transition probability [s^-1].
    g_k, g_i : float or array_like
        Statistical weights of the upper and lower level [-].
    n_lower_per_m3 : float or array_like
        Lower-level population [m^-3].
    T_K : float or array_like
        Excitation temperature [K].

    Returns
    -------
    k_area : ndarray
        Integral of kappa over wavelength [m^-1 nm]: multiply by a line profile
        in nm^-1 for kappa(lambda) in m^-1.

    Notes
    -----
    kappa(lambda) = (lambda0^4 / (8 pi c)) (g_k / g_i) A_ki n_i (1 - exp(-h c / lambda k T)) phi(lambda) [1]_.
    With phi per metre this is in m^-1; the factor 1e9 converts phi from nm^-1 to m^-1.

    References
    ----------
    .. [1] Aragon, C. and Aguilera, J. A., Spectrochim. Acta B 63 (2008) 893.
    """
    lam_nm = np.asarray(wavelength_nm, dtype=float)
    lam = lam_nm * 1e-9
    stim = -np.expm1(-HC_EV_NM / (lam_nm * K_B_EV * np.asarray(T_K, dtype=float)))
    return (lam ** 4 / (8.0 * np.pi * C) * np.asarray(g_k) / np.asarray(g_i) * np.asarray(A_ki_per_s)
            * np.asarray(n_lower_per_m3) * stim * 1e9)


def slab_radiance(source_function, optical_depth):
    """Radiance emerging from a uniform slab.

    Parameters
    ----------
    source_function : float or array_like
        In LTE the Planck function B_lambda(T) [W m^-2 sr^-1 nm^-1].
    optical_depth : float or array_like
        tau(lambda) = kappa(lambda) L [-].

    Returns
    -------
    I : ndarray
        [W m^-2 sr^-1 nm^-1].

    Notes
    -----
    I = B (1 - exp(-tau)); for tau << 1 it reduces to B tau, the thin emissivity
    times the slab length [1]_.

    References
    ----------
    .. [1] Aragon, C. and Aguilera, J. A., Spectrochim. Acta B 63 (2008) 893.
    """
    return np.asarray(source_function) * -np.expm1(-np.asarray(optical_depth))


@cache
def _curve_of_growth_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    taus = np.linspace(0.0, 1.2, 61)
    shares = np.linspace(0.0, 1.0, 21)
    x = np.linspace(-60.0, 60.0, 24001)
    table = np.empty((taus.size, shares.size))
    for j, share in enumerate(shares):
        shape = voigt(x, 0.0, max(1.0 - share, 1e-6), share)
        shape = shape / shape.max()
        area = np.trapezoid(shape, x)
        for i, t in enumerate(taus):
            table[i, j] = 1.0 if t == 0 else np.trapezoid(-np.expm1(-t * shape), x) / (t * area)
    return taus, shares, table


def curve_of_growth(peak_optical_depth, lorentz_share):
    """Slab-to-thin ratio of the wavelength-integrated radiance of a Voigt line.

    Parameters
    ----------
    peak_optical_depth : array_like
        tau0 at the line centre [-], 0 to 1.2 (clipped above).
    lorentz_share : array_like
        FWHM_L / (FWHM_L + FWHM_G) of the intrinsic profile [-], 0 (Gaussian) to 1 (Lorentzian).

    Returns
    -------
    f : ndarray
        integral of (1 - exp(-tau0 phi/phi0)) over integral of tau0 phi/phi0 [-], 1 in the thin limit.

    Notes
    -----
    Bilinear interpolation in a table computed once by quadrature. For a Gaussian line
    f = sum_n (-tau0)^(n-1) / (n! sqrt n) (Ladenburg and Reiche 1913); a test checks this.
    """
    taus, shares, table = _curve_of_growth_table()
    ti = np.clip(np.asarray(peak_optical_depth) * (1.0 / taus[1]), 0, taus.size - 1 - 1e-9)
    ri = np.clip(np.asarray(lorentz_share) * (1.0 / shares[1]), 0, shares.size - 1 - 1e-9)
    i0 = ti.astype(np.intp)
    j0 = ri.astype(np.intp)
    a = ti - i0
    b = ri - j0
    flat = table.ravel()
    k = i0 * shares.size + j0
    lo = flat[k] + b * (flat[k + 1] - flat[k])
    hi = flat[k + shares.size] + b * (flat[k + shares.size + 1] - flat[k + shares.size])
    return lo + a * (hi - lo)
