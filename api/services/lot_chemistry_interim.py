"""Interim lot chemistry, with the interface of ``blending.lot_chemistry`` (written on branch wip-lots).

Only used while that module is not in the tree (see :mod:`api.services.lots`); delete this file
once it is. The mean is mass weighted; the sd of the mean adds the random per-piece error, which
averages down with the pieces' mass weights, and the shared (per-grade bias) error, which does not:

    sd_mean^2 = sum_i w_i^2 sd_i^2 + sd_shared^2,   w_i = m_i / sum_j m_j.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PieceChemistry:
    mass_kg: float
    grade: str | None
    composition_wt_pct: Mapping[str, float]
    random_sd_wt_pct: Mapping[str, float]


@dataclass(frozen=True)
class ShareBias:
    sd_wt_pct: Mapping[str, float]


@dataclass(frozen=True)
class LotChemistry:
    name: str
    mass_kg: float
    piece_count: int
    grade_mix: dict[str, float]
    unknown_fraction: float
    mean_wt_pct: dict[str, float]
    sd_of_mean_wt_pct: dict[str, float] = field(default_factory=dict)

    def inventory_row(self) -> dict[str, str]:
        row = {"material": self.name, "available_kg": f"{self.mass_kg:.6g}", "recycled": "post_consumer"}
        row.update({e: f"{v:.6g}" for e, v in self.mean_wt_pct.items()})
        row.update({f"sd_{e}": f"{v:.6g}" for e, v in self.sd_of_mean_wt_pct.items()})
        return row


def lot_chemistry(pieces: Sequence[PieceChemistry], shared: ShareBias | None, *, name: str) -> LotChemistry:
    mass = sum(p.mass_kg for p in pieces)
    mix: dict[str, float] = {}
    for p in pieces:
        key = p.grade or "unknown"
        mix[key] = mix.get(key, 0.0) + (p.mass_kg / mass if mass > 0 else 0.0)
    known = [p for p in pieces if p.composition_wt_pct and p.mass_kg > 0]
    known_kg = sum(p.mass_kg for p in known)
    mean: dict[str, float] = {}
    sd: dict[str, float] = {}
    elements = sorted({e for p in known for e in p.composition_wt_pct})
    for e in elements:
        w = [(p.mass_kg / known_kg, p) for p in known]
        mean[e] = sum(wi * p.composition_wt_pct.get(e, 0.0) for wi, p in w)
        var = sum((wi * p.random_sd_wt_pct.get(e, 0.0)) ** 2 for wi, p in w)
        if shared is not None:
            var += shared.sd_wt_pct.get(e, 0.0) ** 2
        sd[e] = math.sqrt(var)
    unknown = mix.get("unknown", 0.0)
    return LotChemistry(name=name, mass_kg=mass, piece_count=len(pieces), grade_mix=mix, unknown_fraction=unknown,
                        mean_wt_pct=mean, sd_of_mean_wt_pct=sd)
