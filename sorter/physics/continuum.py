"""Continuum emission of a LIBS plasma: free-free (bremsstrahlung) and free-bound (recombination)."""

from __future__ import annotations

import numpy as np

from sorter.physics.constants import HC_EV_NM, K_B_EV

KRAMERS_CONSTANT = 1.632e-43   # [W m^4 K^1/2 sr^-1], for emissivity per metre of wavelength


def kramers_continuum(wavelength_nm, T_K, n_e_per_m3, sum_z2_n_ion_per_m3, *, biberman_fb=1.5, gaunt_ff=1.0):
    """Continuum emission coefficient of a hydrogen-like plasma (Kramers-Unsoeld).

    Parameters
    ----------
    wavelength_nm : array_like
        [nm].
    T_K : float
        Electron temperature [K].
    n_e_per_m3 : float
        Electron density [m^-3].
    sum_z2_n_ion_per_m3 : float
        sum over ions of z^2 n_ion [m^-3] (z = 1 for singly ionised).
    biberman_fb : float
        Biberman factor xi of free-bound emission [-] (1 to 3 for metals).
    gaunt_ff : float
        Free-free Gaunt factor [-].

    Returns
    -------
    epsilon : ndarray
        [W m^-3 sr^-1 nm^-1].

    Notes
    -----
    epsilon_lambda = C n_e sum z^2 n_i / (lambda^2 sqrt T)
    [xi (1 - exp(-h c / lambda k T)) + G exp(-h c / lambda k T)],
    C = 1.632e-43 W m^4 K^1/2 sr^-1 with lambda in metres [1]_; smooth, stronger
    towards the blue and early in the plasma life when n_e is high.

    References
    ----------
    .. [1] Cremers, D. A. and Radziemski, L. J., Handbook of LIBS (2013), ch. 2;
       Wilson, R., J. Quant. Spectrosc. Radiat. Transfer 2 (1962) 477.
    """
    lam_nm = np.asarray(wavelength_nm, dtype=float)
    x = np.exp(-HC_EV_NM / (lam_nm * K_B_EV * T_K))
    lam = lam_nm * 1e-9
    eps_per_m = KRAMERS_CONSTANT * n_e_per_m3 * sum_z2_n_ion_per_m3 / (lam ** 2 * np.sqrt(T_K)) * (
        biberman_fb * (1.0 - x) + gaunt_ff * x)
    return eps_per_m * 1e-9
