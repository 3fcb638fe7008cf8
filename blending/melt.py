"""The melt: how much liquid metal a heat must give, from what heel, in what furnace.

Mass balance (liquid metal) and element balance, with H the heel [kg], h_j its
composition [wt%], x_i the charged mass of material i [kg], y_i its metal yield
[kg/kg], c_ij its composition [wt%] and r_j the recovery of element j [kg/kg]:

    L(x) = H + sum_i y_i x_i
    m_j(x) = H h_j / 100 + sum_i y_i x_i r_j c_ij / 100

The metal yield y_i already counts every loss of material i (dross, coating, moisture
and burn-off together), so the liquid mass is L whatever the recoveries; an element
that burns off (r_j < 1) leaves a smaller share of that element and its place in the
liquid is taken by aluminium, which is how a plant's measured yield and measured
element recovery combine. Recoveries apply to charged materials, not to the heel,
which is already liquid metal of measured composition.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from blending.catalogue.composition import Composition, elements
from blending.catalogue.tables import read_csv_file, read_package_csv
from blending.errors import InputError


@cache
def default_recoveries() -> dict[str, float]:
    """Element recoveries [kg/kg] shipped in ``blending/data/recoveries.csv``; others are 1."""
    return _recoveries_from_rows(read_package_csv("blending.data", "recoveries.csv",
                                                  required_columns=("element", "recovery", "source")))


def load_recoveries(path: str | Path) -> dict[str, float]:
    """Element recoveries from a CSV with columns ``element, recovery`` [kg/kg]."""
    return _recoveries_from_rows(read_csv_file(path, required_columns=("element", "recovery")))


def _recoveries_from_rows(rows) -> dict[str, float]:
    out = {}
    for row in rows:
        symbol = row.text("element")
        if symbol not in elements() or symbol == "Al":
            raise row.error("element", f"{symbol!r} is not an alloying element symbol")
        recovery = row.number("recovery", lo=0, hi=1, unit="kg/kg")
        if recovery == 0:
            raise row.error("recovery", "0 kg/kg would remove the element entirely; give the real figure")
        out[symbol] = recovery
    return out


MAX_FURNACE_ENV = "ALULOOP_MAX_FURNACE_KG"


@cache
def _shipped_max_furnace_kg() -> float:
    rows = read_package_csv("blending.data", "furnace.csv", required_columns=("quantity", "value", "unit", "source"))
    row = next(r for r in rows if r.text("quantity") == "max_furnace_kg")
    return row.number("value", lo=0, unit="kg")


def max_furnace_kg() -> float:
    """Largest furnace aluloop accepts [kg]: ``ALULOOP_MAX_FURNACE_KG`` when set, else
    ``blending/data/furnace.csv`` (200,000 kg)."""
    raw = os.environ.get(MAX_FURNACE_ENV, "").strip()
    if not raw:
        return _shipped_max_furnace_kg()
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{raw!r} is not a number of kg", field=MAX_FURNACE_ENV) from None
    if not (value > 0 and math.isfinite(value)):
        raise InputError(f"{raw} kg must be a positive number", field=MAX_FURNACE_ENV)
    return value


def check_furnace_mass(mass_kg: float | None, field: str) -> None:
    """Refuse a mass [kg] above :func:`max_furnace_kg`, naming the limit and where it is set."""
    if mass_kg is None or not math.isfinite(mass_kg):
        return
    limit = max_furnace_kg()
    if mass_kg > limit:
        where = MAX_FURNACE_ENV if os.environ.get(MAX_FURNACE_ENV, "").strip() else \
            f"blending/data/furnace.csv; set {MAX_FURNACE_ENV} for a larger furnace"
        raise InputError(f"{mass_kg:,.0f} kg is above the largest furnace aluloop accepts, {limit:,.0f} kg "
                         f"({where})", field=field)


@dataclass(frozen=True)
class Melt:
    """What one heat must produce.

    Attributes
    ----------
    mass_kg : float
        Liquid metal to produce, heel included [kg].
    heel_kg : float
        Liquid metal left in the furnace from the last heat [kg].
    heel_composition : Composition
        Its chemistry [wt%].
    heel_sd_wt_pct : mapping of str to float
        Uncertainty of the heel analysis (OES repeatability) [wt%]; zero if not given.
    capacity_kg : float or None
        Most the furnace holds, heel plus charged (solid) mass [kg].
    recoveries : mapping of str to float
        Element recovery r_j [kg/kg]; elements not named recover fully.
    mass_tolerance_kg : float
        Allowed deviation of the liquid mass from ``mass_kg`` [kg]; whole bales and sows
        may need a little room. Zero asks for the exact mass.
    """

    mass_kg: float
    heel_kg: float = 0.0
    heel_composition: Composition = field(default_factory=lambda: Composition({}))
    heel_sd_wt_pct: Mapping[str, float] = field(default_factory=dict)
    capacity_kg: float | None = None
    recoveries: Mapping[str, float] = field(default_factory=default_recoveries)
    mass_tolerance_kg: float = 0.0

    def __post_init__(self):
        if not (self.mass_kg > 0 and math.isfinite(self.mass_kg)):
            raise InputError(f"melt mass {self.mass_kg:g} kg must be positive")
        check_furnace_mass(self.mass_kg, "mass_kg")
        check_furnace_mass(self.capacity_kg, "capacity_kg")
        if not 0 <= self.heel_kg < self.mass_kg:
            raise InputError(f"heel {self.heel_kg:g} kg must be at least 0 and below the melt mass "
                             f"{self.mass_kg:g} kg")
        if self.capacity_kg is not None and self.capacity_kg < self.mass_kg:
            raise InputError(f"furnace capacity {self.capacity_kg:g} kg is below the melt mass {self.mass_kg:g} kg")
        if not 0 <= self.mass_tolerance_kg < self.mass_kg:
            raise InputError(f"mass tolerance {self.mass_tolerance_kg:g} kg must be at least 0 and below the melt mass")
        for symbol, r in self.recoveries.items():
            if not 0 < r <= 1:
                raise InputError(f"recovery of {symbol} {r:g} must be in (0, 1]")
        for symbol, s in self.heel_sd_wt_pct.items():
            if not s >= 0:
                raise InputError(f"heel sd of {symbol} {s:g} wt% must be non-negative")

    def recovery(self, symbol: str) -> float:
        return float(self.recoveries.get(symbol, 1.0))
