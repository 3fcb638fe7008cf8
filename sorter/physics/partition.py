"""Internal partition functions U(T) from tabulated energy levels."""

from __future__ import annotations

import numpy as np

from blending.errors import InputError
from sorter.physics.constants import K_B_EV


def partition_function(g, energy_eV, T_K):
    """Internal partition function of one species.

    Parameters
    ----------
    g : array_like, shape (m,)
        Statistical weights 2J+1 of the levels [-].
    energy_eV : array_like, shape (m,)
        Level energies above the ground state [eV], below the ionisation limit.
    T_K : float or array_like
        Excitation temperature [K].

    Returns
    -------
    U : float or ndarray, shape of ``T_K``
        Partition function [-].

    Notes
    -----
    U(T) = sum_i g_i exp(-E_i / k T), summed over the levels below the
    (unlowered) ionisation limit; truncating there is adequate for LIBS plasmas
    where the lowering is a few tenths of an eV [1]_.

    References
    ----------
    .. [1] Cremers, D. A. and Radziemski, L. J., Handbook of Laser-Induced
       Breakdown Spectroscopy, 2nd ed., Wiley (2013), ch. 2.
    """
    g = np.asarray(g, dtype=float)
    e = np.asarray(energy_eV, dtype=float)
    T = np.asarray(T_K, dtype=float)
    if np.any(T <= 0):
        raise InputError("T_K: temperature must be positive", field="T_K")
    boltz = np.exp(-e[:, None] / (K_B_EV * np.atleast_1d(T)[None, :]))
    u = (g[:, None] * boltz).sum(axis=0)
    return u.reshape(T.shape) if T.ndim else float(u[0])
