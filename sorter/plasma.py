"""A LIBS plasma in LTE: from composition and (T_e, n_e) to number densities of every ion stage.

Composition [wt%] -> atom fractions (w / M) -> Saha balance per element -> quasi-neutrality
fixes the total heavy-particle density so that the ions supply the set electron density.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np

from blending.catalogue.composition import elements
from blending.errors import InputError
from sorter.atomic_data import MAX_STAGE, energy_levels, ionisation_energies, plasma_elements, species_name
from sorter.physics.partition import partition_function
from sorter.physics.saha import stage_fractions

_T_GRID_K = np.arange(2000.0, 40001.0, 50.0)
SLAB_LENGTH_M = 0.5e-3          # plasma depth along the line of sight at ablation scale 1 [m]


@dataclass(frozen=True)
class PlasmaState:
    """Temperature, electron density and gate weight of one moment of the plasma.

    Parameters
    ----------
    T_e_K : float
        Electron (= excitation = ionisation) temperature [K].
    n_e_per_cm3 : float
        Electron density [cm^-3].
    weight : float
        Share of the detector gate this state stands for [-].
    """

    T_e_K: float
    n_e_per_cm3: float
    weight: float = 1.0

    def __post_init__(self):
        if not 1000 <= self.T_e_K <= 50000:
            raise InputError(f"T_e_K: {self.T_e_K:g} K must be between 1000 and 50000", field="T_e_K")
        if not 1e12 <= self.n_e_per_cm3 <= 1e21:
            raise InputError(f"n_e_per_cm3: {self.n_e_per_cm3:g} must be between 1e12 and 1e21", field="n_e_per_cm3")
        if self.weight < 0:
            raise InputError(f"weight: {self.weight:g} must be non-negative", field="weight")

    @property
    def n_e_per_m3(self) -> float:
        return self.n_e_per_cm3 * 1e6


def n_stages(element: str) -> int:
    """Ion stages tracked for ``element``: I to III, fewer for light atoms (H: I, II)."""
    return min(MAX_STAGE, elements()[element].atomic_number + 1)


@cache
def _partition_table(species: str) -> np.ndarray:
    levels = energy_levels()
    if species not in levels:  # a bare nucleus (H II) or a stage without tabulated levels
        return np.ones_like(_T_GRID_K)
    g, e = levels[species]
    return partition_function(g, e, _T_GRID_K)


def species_partition(species: str, T_K, *, exact: bool = False):
    """Partition function of a NIST spectrum name at ``T_K`` [-].

    With ``exact=False`` it interpolates a table precomputed every 50 K (2,000 to
    40,000 K, relative error below 1e-4); with ``exact=True`` it sums the levels.
    """
    if exact:
        levels = energy_levels()
        if species not in levels:
            return np.ones_like(np.asarray(T_K, dtype=float)) * 1.0
        g, e = levels[species]
        return partition_function(g, e, T_K)
    return np.interp(T_K, _T_GRID_K, _partition_table(species))


def atom_fractions(composition_wt_pct: Mapping[str, float], extra_atoms: Mapping[str, float] | None = None):
    """Atom (mole) fractions of the elements the plasma model holds.

    Parameters
    ----------
    composition_wt_pct : mapping
        Element to wt%; aluminium is the balance when absent.
    extra_atoms : mapping, optional
        Entrained ambient atoms per metal atom (e.g. ``{"N": 0.04, "O": 0.01}``) [-].

    Returns
    -------
    fractions : dict of str to float
        Summing to 1 over the elements present; elements without atomic data are dropped.

    Notes
    -----
    x_e = (w_e / M_e) / sum_j (w_j / M_j) (PRIMER 1.1).
    """
    table = elements()
    known = set(plasma_elements()) | {"H"}
    w = {k: float(v) for k, v in composition_wt_pct.items() if v > 0}
    if "Al" not in w:
        w["Al"] = max(0.0, 100.0 - sum(w.values()))
    moles = {e: v / table[e].atomic_mass_u for e, v in w.items() if e in known}
    total = sum(moles.values())
    if total <= 0:
        raise InputError("composition: no element with emission data", field="composition")
    x = {e: m / total for e, m in moles.items()}
    for e, v in (extra_atoms or {}).items():
        if e not in known:
            raise InputError(f"extra_atoms: no atomic data for {e!r}", field="extra_atoms")
        x[e] = x.get(e, 0.0) + v
    s = sum(x.values())
    return {e: v / s for e, v in x.items()}


@dataclass(frozen=True)
class StageDensities:
    """Number densities [m^-3] of every (element, stage), the electrons and the continuum source term."""

    density: dict[tuple[str, int], float]
    T_e_K: float
    n_e_per_m3: float
    heavy_per_m3: float
    sum_z2_n_ion_per_m3: float


def stage_densities(fractions: Mapping[str, float], state: PlasmaState, *, exact: bool = False) -> StageDensities:
    """Densities of each ion stage in LTE with quasi-neutrality.

    Parameters
    ----------
    fractions : mapping
        Atom fractions from :func:`atom_fractions` [-].
    state : PlasmaState
    exact : bool
        Sum the levels for U(T) instead of interpolating the table.

    Returns
    -------
    StageDensities

    Notes
    -----
    Saha chains give f_{e,z}(T, n_e); quasi-neutrality n_e = n_heavy sum_e x_e sum_z (z-1) f_{e,z}
    fixes n_heavy, and n_{e,z} = n_heavy x_e f_{e,z}.
    """
    T, ne = state.T_e_K, state.n_e_per_m3
    ie = ionisation_energies()
    charge_per_atom = 0.0
    fz_all = {}
    for el, x in fractions.items():
        nz = n_stages(el)
        U = [species_partition(species_name(el, z), T, exact=exact) for z in range(1, nz + 1)]
        E = [ie[species_name(el, z)] for z in range(1, nz)]
        fz = stage_fractions(T, ne, U, E)
        fz_all[el] = fz
        charge_per_atom += x * sum(z * fz[z] for z in range(nz))
    heavy = ne / max(charge_per_atom, 1e-12)
    dens = {}
    z2 = 0.0
    for el, x in fractions.items():
        fz = fz_all[el]
        for z in range(len(fz)):
            dens[(el, z + 1)] = heavy * x * float(fz[z])
            z2 += z * z * heavy * x * float(fz[z])
    return StageDensities(dens, T, ne, heavy, z2)


def gate_states(T_e_K: float, n_e_per_cm3: float, gate_spread: float) -> tuple[PlasmaState, ...]:
    """Early, middle and late plasma states whose weighted mean is the gate-averaged state.

    Notes
    -----
    Temperatures T (1 + s), T, T (1 - s) and densities n_e 1.8, n_e, n_e / 1.8 with weights
    1/4, 1/2, 1/4: a three-point sum over a cooling, recombining plasma (PRIMER 1.9).
    """
    if gate_spread == 0:
        return (PlasmaState(T_e_K, n_e_per_cm3, 1.0),)
    return (PlasmaState(T_e_K * (1 + gate_spread), n_e_per_cm3 * 1.8, 0.25),
            PlasmaState(T_e_K, n_e_per_cm3, 0.5),
            PlasmaState(T_e_K * (1 - gate_spread), n_e_per_cm3 / 1.8, 0.25))


def air_atoms(per_metal_atom: float) -> dict[str, float]:
    """Entrained air split into N, O and H (humidity) atoms [-]."""
    return {"N": 0.78 * per_metal_atom, "O": 0.21 * per_metal_atom, "H": 0.01 * per_metal_atom}
