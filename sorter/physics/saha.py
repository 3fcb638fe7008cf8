"""Saha ionisation balance between successive ion stages."""

from __future__ import annotations

import numpy as np

from sorter.physics.constants import K_B_EV, SAHA_CONSTANT


def saha_ratio(T_K, n_e_per_m3, U_lower, U_upper, E_ion_eV):
    """Ratio n_{z+1} / n_z of two successive ion stages in LTE.

    Parameters
    ----------
    T_K : float or array_like
        Electron temperature [K].
    n_e_per_m3 : float or array_like
        Electron number density [m^-3].
    U_lower, U_upper : float or array_like
        Partition functions of stage z and z+1 at ``T_K`` [-].
    E_ion_eV : float or array_like
        Ionisation energy of stage z [eV].

    Returns
    -------
    ratio : float or ndarray
        n_{z+1} / n_z [-].

    Notes
    -----
    n_{z+1} n_e / n_z = 2 (U_{z+1} / U_z) (2 pi m_e k T / h^2)^{3/2} exp(-E_ion / k T),
    with (2 pi m_e k T / h^2)^{3/2} = 2.4147e21 T^{3/2} m^-3 [1]_.

    References
    ----------
    .. [1] Griem, H. R., Principles of Plasma Spectroscopy, Cambridge (1997), eq. 6.41.
    """
    T = np.asarray(T_K, dtype=float)
    n_e = np.asarray(n_e_per_m3, dtype=float)
    return (2.0 * np.asarray(U_upper) / np.asarray(U_lower) * SAHA_CONSTANT * T ** 1.5
            * np.exp(-np.asarray(E_ion_eV) / (K_B_EV * T)) / n_e)


def stage_fractions(T_K, n_e_per_m3, U, E_ion_eV):
    """Fractions of an element in each ion stage (neutral, singly, doubly ionised, ...).

    Parameters
    ----------
    T_K : float or array_like, shape (s,)
        Electron temperature [K].
    n_e_per_m3 : float or array_like, shape (s,)
        Electron density [m^-3].
    U : sequence of array_like, length z
        Partition function of each stage at ``T_K`` [-].
    E_ion_eV : sequence of float, length z - 1
        Ionisation energy of stage k to k+1 [eV].

    Returns
    -------
    fractions : ndarray, shape (z, s)
        n_k / sum_k n_k; each column sums to 1.

    Notes
    -----
    Chains :func:`saha_ratio`: n_{k+1}/n_0 = prod_j S_j, normalised.
    """
    rel = [np.ones(np.broadcast(np.asarray(T_K), np.asarray(n_e_per_m3)).shape)]
    for k, e_ion in enumerate(E_ion_eV):
        rel.append(rel[-1] * saha_ratio(T_K, n_e_per_m3, U[k], U[k + 1], e_ion))
    rel = np.array(rel, dtype=float)
    return rel / rel.sum(axis=0)
