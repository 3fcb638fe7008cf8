"""Atomic data for the LIBS simulator: line list, energy levels and ionisation energies (NIST ASD).

The data live in ``sorter/data/libs_lines.csv``, ``libs_levels.csv`` and
``ionisation_energies.csv``, each row with its source; ``scripts/make_libs_data.py``
documents how they were derived from the curated reference and which rows were fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from blending.catalogue.composition import elements
from blending.catalogue.tables import read_package_csv

ROMAN = {1: "I", 2: "II", 3: "III"}
MAX_STAGE = 3


def species_name(element: str, stage: int) -> str:
    """``("Al", 2)`` to ``"Al II"``, the NIST spectrum name."""
    return f"{element} {ROMAN[stage]}"


@dataclass(frozen=True, eq=False)
class LineList:
    """Emission lines as parallel arrays, one entry per line.

    Attributes
    ----------
    element : ndarray of str
    ion_stage : ndarray of int
        1 for neutral (I), 2 for singly ionised (II).
    wavelength_nm : ndarray
        Air wavelength [nm].
    A_ki_per_s : ndarray
        Transition probability [s^-1].
    E_k_eV, E_i_eV : ndarray
        Upper and lower level energies [eV].
    g_k, g_i : ndarray
        Statistical weights [-].
    stark_fwhm_nm : ndarray
        Stark FWHM at 1e17 cm^-3 and about 10,000 K [nm].
    mass_u : ndarray
        Atomic mass of the emitter [u].
    """

    element: np.ndarray
    ion_stage: np.ndarray
    wavelength_nm: np.ndarray
    A_ki_per_s: np.ndarray
    E_k_eV: np.ndarray
    g_k: np.ndarray
    E_i_eV: np.ndarray
    g_i: np.ndarray
    stark_fwhm_nm: np.ndarray
    mass_u: np.ndarray

    def __len__(self) -> int:
        return int(self.wavelength_nm.size)

    def subset(self, mask) -> LineList:
        return LineList(**{f: getattr(self, f)[mask] for f in self.__dataclass_fields__})

    def in_range(self, lo_nm: float, hi_nm: float) -> LineList:
        return self.subset((self.wavelength_nm >= lo_nm) & (self.wavelength_nm <= hi_nm))

    def label(self, i: int) -> str:
        return f"{species_name(str(self.element[i]), int(self.ion_stage[i]))} {self.wavelength_nm[i]:.2f}"


@cache
def line_list() -> LineList:
    """All lines of ``sorter/data/libs_lines.csv``, sorted by wavelength."""
    rows = read_package_csv("sorter.data", "libs_lines.csv", required_columns=(
        "element", "ion_stage", "wavelength_nm", "A_ki_per_s", "E_k_eV", "g_k", "E_i_eV", "g_i",
        "stark_fwhm_nm", "source"))
    table = elements()
    cols: dict[str, list] = {f: [] for f in LineList.__dataclass_fields__}
    for row in rows:
        el = row.text("element")
        if el not in table:
            raise row.error("element", f"{el!r} is not an element symbol")
        stage = int(row.number("ion_stage", lo=1, hi=MAX_STAGE - 1))
        e_k = row.number("E_k_eV", lo=0, unit="eV")
        e_i = row.number("E_i_eV", lo=0, unit="eV")
        if e_i >= e_k:
            raise row.error("E_i_eV", f"lower level {e_i:g} eV is not below the upper level {e_k:g} eV")
        cols["element"].append(el)
        cols["ion_stage"].append(stage)
        cols["wavelength_nm"].append(row.number("wavelength_nm", lo=100, hi=2000, unit="nm"))
        cols["A_ki_per_s"].append(row.number("A_ki_per_s", lo=0, unit="s^-1"))
        cols["E_k_eV"].append(e_k)
        cols["g_k"].append(row.number("g_k", lo=1))
        cols["E_i_eV"].append(e_i)
        cols["g_i"].append(row.number("g_i", lo=1))
        cols["stark_fwhm_nm"].append(row.number("stark_fwhm_nm", lo=0, hi=20, unit="nm"))
        cols["mass_u"].append(table[el].atomic_mass_u)
    arrays = {k: np.array(v) for k, v in cols.items()}
    order = np.argsort(arrays["wavelength_nm"], kind="stable")
    return LineList(**{k: v[order] for k, v in arrays.items()})


@cache
def ionisation_energies() -> dict[str, float]:
    """NIST spectrum name (``"Al I"``) to the energy that ionises it [eV]."""
    rows = read_package_csv("sorter.data", "ionisation_energies.csv",
                            required_columns=("species", "E_ion_eV", "source"))
    return {row.text("species"): row.number("E_ion_eV", lo=0, unit="eV") for row in rows}


@cache
def energy_levels() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """NIST spectrum name to ``(g, E_eV)`` arrays of its levels below the ionisation limit."""
    rows = read_package_csv("sorter.data", "libs_levels.csv", required_columns=("species", "g", "E_eV"))
    out: dict[str, tuple[list, list]] = {}
    for row in rows:
        g, e = out.setdefault(row.text("species"), ([], []))
        g.append(row.number("g", lo=1))
        e.append(row.number("E_eV", lo=0, unit="eV"))
    return {k: (np.array(g), np.array(e)) for k, (g, e) in out.items()}


@cache
def plasma_elements() -> tuple[str, ...]:
    """Elements with levels and ionisation energies for stages I to III: those the plasma model can hold."""
    lv, ie = energy_levels(), ionisation_energies()
    found = []
    for el in elements():
        if all(species_name(el, z) in lv for z in range(1, MAX_STAGE + 1)) and all(
                species_name(el, z) in ie for z in range(1, MAX_STAGE)):
            found.append(el)
    return tuple(found)
