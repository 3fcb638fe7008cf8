"""Boltzmann populations of excited levels."""

from __future__ import annotations

import numpy as np

from sorter.physics.constants import K_B_EV


def level_population(n_stage, g, energy_eV, U, T_K):
    """Number density of an excited level in LTE.

    Parameters
    ----------
    n_stage : float or array_like
        Number density of the ion stage [m^-3].
    g : float or array_like
        Statistical weight of the level [-].
    energy_eV : float or array_like
        Level energy above the stage's ground state [eV].
    U : float or array_like
        Partition function of the stage at ``T_K`` [-].
    T_K : float or array_like
        Excitation temperature [K].

    Returns
    -------
    n_level : float or ndarray
        [m^-3], broadcast over the inputs.

    Notes
    -----
    n_k = n_stage g_k exp(-E_k / k T) / U(T) [1]_.

    References
    ----------
    .. [1] Ciucci, A. et al., Appl. Spectrosc. 53 (1999) 960.
    """
    return (np.asarray(n_stage) * np.asarray(g) * np.exp(-np.asarray(energy_eV) / (K_B_EV * np.asarray(T_K)))
            / np.asarray(U))
