"""Saha-Boltzmann terms of a plasma state: the non-compositional part of every line ratio.

An optically thin line of element X in ion stage z emits in proportion to

    C_X f_z(T_e, n_e) / U_z(T_e) g_k A_ki exp(-E_k / k T_e)

(Ciucci et al. 1999, Appl. Spectrosc. 53, 960: calibration-free LIBS), with f_z the Saha stage
fraction and U_z the partition function. Given the state, ln(f_z / U_z) of each element's
neutral and singly ionised stage is the part of a log line ratio that is neither composition nor
linear in the state (the Boltzmann factor is linear in 1 / T_e). :class:`SahaBoltzmannTerms`
evaluates those terms at a state (1e4 K / T_e, ln n_e [cm^-3]), so that a composition regression
given an estimate of the state need not learn the Saha balance from the training spectra
(``research/composition_accuracy.py --plasma-state`` measures what the simulator's true state gains).

ln U_z is a polynomial in 1e4 K / T_e fitted to the level sums (:func:`partition_function`) over
6,000-16,000 K, so the same arithmetic runs in the ONNX graph: powers, one product, a few
exponentials and logarithms, no sum over thousands of levels per spectrum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sorter.atomic_data import energy_levels, ionisation_energies, species_name
from sorter.physics.constants import K_B_EV, SAHA_CONSTANT
from sorter.physics.partition import partition_function
from sorter.physics.saha import stage_fractions

TERM_ELEMENTS = ("Al", "Si", "Fe", "Cu", "Mn", "Mg", "Cr", "Ni", "Zn", "Ti")
THETA_RANGE = (1e4 / 16000.0, 1e4 / 6000.0)              # 1e4 K / T_e
LN_NE_RANGE = (float(np.log(3e15)), float(np.log(3e18)))   # ln(n_e [cm^-3])
POLY_DEGREE = 8
LN_CM3_TO_M3 = float(np.log(1e6))


@dataclass(frozen=True)
class SahaBoltzmannTerms:
    """ln(f_z / U_z) of stages I and II of ``elements`` at a plasma state.

    Attributes
    ----------
    elements : tuple of str
    log_u_coef : ndarray, shape (POLY_DEGREE + 1, 3 E)
        ln U of stages I, II, III of each element (stage-major: all elements' stage I first) as a
        polynomial in x = (theta - centre) / half-width, theta = 1e4 K / T_e over ``THETA_RANGE``.
    e_ion_eV : ndarray, shape (2, E)
        Ionisation energy of stages I and II [eV].
    """

    elements: tuple[str, ...]
    log_u_coef: np.ndarray
    e_ion_eV: np.ndarray

    @classmethod
    def for_elements(cls, elements=TERM_ELEMENTS, degree: int = POLY_DEGREE) -> SahaBoltzmannTerms:
        levels, e_ion = energy_levels(), ionisation_energies()
        theta = np.linspace(*THETA_RANGE, 400)
        x = cls.scaled_theta(theta)
        V = np.vander(x, degree + 1, increasing=True)
        log_u = np.column_stack([np.log(partition_function(*levels[species_name(el, z)], 1e4 / theta))
                                 for z in (1, 2, 3) for el in elements])
        coef = np.linalg.lstsq(V, log_u, rcond=None)[0]
        ions = np.array([[e_ion[species_name(el, z)] for el in elements] for z in (1, 2)])
        return cls(tuple(elements), coef, ions)

    @staticmethod
    def scaled_theta(theta) -> np.ndarray:
        lo, hi = THETA_RANGE
        return (np.asarray(theta, dtype=np.float64) - 0.5 * (lo + hi)) / (0.5 * (hi - lo))

    @staticmethod
    def clipped(state) -> np.ndarray:
        """(n, 2) state clipped to ``THETA_RANGE`` and ``LN_NE_RANGE``: an estimate never leaves the tables."""
        state = np.asarray(state, dtype=np.float64)
        return np.column_stack([np.clip(state[:, 0], *THETA_RANGE), np.clip(state[:, 1], *LN_NE_RANGE)])

    def names(self) -> list[str]:
        return ["theta_1e4K_per_Te", "ln_ne_per_cm3"] + [f"ln_f{z}_over_U{z}_{el}" for el in self.elements
                                                         for z in ("I", "II")]

    def saha_logs(self, state) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """ln U (n, 3, E) and ln S_1, ln S_2 (n, E): ln of n_II / n_I and n_III / n_II at the clipped state."""
        s = self.clipped(state)
        theta, ln_ne_m3 = s[:, :1], s[:, 1:] + LN_CM3_TO_M3
        E = len(self.elements)
        V = np.vander(self.scaled_theta(theta[:, 0]), self.log_u_coef.shape[0], increasing=True)
        log_u = (V @ self.log_u_coef).reshape(-1, 3, E)
        base = np.log(2.0 * SAHA_CONSTANT) + 1.5 * (np.log(1e4) - np.log(theta)) - ln_ne_m3
        per_ev = theta / (K_B_EV * 1e4)                                       # 1 / (k T_e) [1/eV]
        ln_s1 = base + log_u[:, 1] - log_u[:, 0] - per_ev * self.e_ion_eV[0]
        ln_s2 = base + log_u[:, 2] - log_u[:, 1] - per_ev * self.e_ion_eV[1]
        return log_u, ln_s1, ln_s2

    def __call__(self, state) -> np.ndarray:
        """(n, 2 + 2 E): clipped (theta, ln n_e), then ln(f_I / U_I), ln(f_II / U_II) per element."""
        s = self.clipped(state)
        log_u, ln_s1, ln_s2 = self.saha_logs(s)
        ln_f0 = -np.log1p(np.exp(ln_s1) + np.exp(ln_s1 + ln_s2))
        terms = np.stack([ln_f0 - log_u[:, 0], ln_s1 + ln_f0 - log_u[:, 1]], axis=2)   # (n, E, 2)
        return np.concatenate([s, terms.reshape(len(s), -1)], axis=1)

    def exact(self, state) -> np.ndarray:
        """The same terms from the level sums and :func:`stage_fractions` directly (the reference)."""
        s = self.clipped(state)
        T_K, ne_m3 = 1e4 / s[:, 0], np.exp(s[:, 1] + LN_CM3_TO_M3)
        levels = energy_levels()
        cols = [s[:, 0], s[:, 1]]
        for j, el in enumerate(self.elements):
            U = [partition_function(*levels[species_name(el, z)], T_K) for z in (1, 2, 3)]
            f = stage_fractions(T_K, ne_m3, U, list(self.e_ion_eV[:, j]))
            cols += [np.log(f[0] / U[0]), np.log(f[1] / U[1])]
        return np.column_stack(cols)
