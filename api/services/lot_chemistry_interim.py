"""Interim lot chemistry with the interface of ``blending.lot_chemistry`` (branch wip-lots).

Only imported while that module is not in the tree (see :mod:`api.services.lots`); delete this
file once it is merged. The mean is mass weighted, each piece's estimate corrected by its grade's
bias; the sd of the mean adds the random per-piece error, which averages down with the mass
weights, and the shared error of each grade, which does not (it adds linearly over the grade
shares, a safe bound for errors correlated within a grade):

    sd_mean^2 = sum_i (w_i sd_i)^2 + (sum_g s_g sd_g)^2,   w_i = m_i / M,  s_g = M_g / M.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from blending.errors import InputError


@dataclass(frozen=True)
class PieceChemistry:
    mass_kg: float
    grade: str | None
    composition_wt_pct: Mapping[str, float]
    random_sd_wt_pct: Mapping[str, float]


@dataclass(frozen=True)
class ShareBias:
    sd_wt_pct: Mapping[str, Mapping[str, float]]
    bias_wt_pct: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    unknown_sd_wt_pct: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LotChemistry:
    name: str
    mass_kg: float
    piece_count: int
    grade_mix: dict[str, float]
    unknown_rate: float
    mean_wt_pct: dict[str, float]
    sd_of_mean_wt_pct: dict[str, float]
    recycled: str = "post_consumer"
    metal_yield: float | None = None
    cost_per_kg: float | None = None
    co2e_kg_per_kg: float | None = None

    def inventory_row(self) -> dict[str, str]:
        def cell(value: float | None) -> str:
            return "" if value is None else format(value, ".6g")

        row = {"material": self.name, "available_kg": format(self.mass_kg, ".3f"), "recycled": self.recycled,
               "yield": cell(self.metal_yield), "cost_per_kg": cell(self.cost_per_kg),
               "co2e_kg_per_kg": cell(self.co2e_kg_per_kg)}
        row.update({e: format(v, ".6g") for e, v in self.mean_wt_pct.items() if e != "Al"})
        row.update({f"sd_{e}": format(v, ".6g") for e, v in self.sd_of_mean_wt_pct.items() if e != "Al"})
        return row


def lot_chemistry(pieces: Sequence[PieceChemistry], shared: ShareBias | None = None, *, name: str,
                  unknown_wt_pct: Mapping[str, float] | None = None, recycled: str = "post_consumer",
                  metal_yield: float | None = None, cost_per_kg: float | None = None,
                  co2e_kg_per_kg: float | None = None) -> LotChemistry:
    if not pieces:
        raise InputError(f"lot {name}: no pieces; a lot needs at least one", field="pieces")
    total = math.fsum(p.mass_kg for p in pieces)
    if not total > 0:
        raise InputError(f"lot {name}: its pieces weigh nothing", field="pieces")
    elements = list(dict.fromkeys([*(e for p in pieces for e in p.composition_wt_pct), *(unknown_wt_pct or {})]))
    sd_table = {} if shared is None else shared.sd_wt_pct
    bias_table = {} if shared is None else shared.bias_wt_pct
    unknown_sd = {} if shared is None else shared.unknown_sd_wt_pct
    grade_mass: dict[str, float] = {}
    mean = dict.fromkeys(elements, 0.0)
    random_var = dict.fromkeys(elements, 0.0)
    for i, p in enumerate(pieces):
        w = p.mass_kg / total
        key = p.grade or "unknown"
        grade_mass[key] = grade_mass.get(key, 0.0) + p.mass_kg
        bias = bias_table.get(p.grade, {}) if p.grade else {}
        for e in elements:
            value = p.composition_wt_pct.get(e)
            if value is None:
                if not unknown_wt_pct or e not in unknown_wt_pct:
                    raise InputError(f"lot {name}: piece {i + 1} has no {e} estimate and no prior was given",
                                     field=f"pieces[{i}].composition_wt_pct.{e}")
                value = unknown_wt_pct[e]
            mean[e] += w * (value - bias.get(e, 0.0))
            random_var[e] += (w * p.random_sd_wt_pct.get(e, 0.0)) ** 2
    shared_sd = {e: math.fsum(m / total * (sd_table[g].get(e, 0.0) if g in sd_table else unknown_sd.get(e, 0.0))
                              for g, m in grade_mass.items()) for e in elements}
    unknown = sum(1 for p in pieces if not p.grade)
    return LotChemistry(name=name, mass_kg=total, piece_count=len(pieces),
                        grade_mix={g: m / total for g, m in grade_mass.items()}, unknown_rate=unknown / len(pieces),
                        mean_wt_pct={e: max(0.0, v) for e, v in mean.items()},
                        sd_of_mean_wt_pct={e: math.hypot(math.sqrt(random_var[e]), shared_sd[e]) for e in elements},
                        recycled=recycled, metal_yield=metal_yield, cost_per_kg=cost_per_kg,
                        co2e_kg_per_kg=co2e_kg_per_kg)
