"""Why no recipe exists: an elastic program names the limits that cannot be met.

Every chemistry limit (as a chance constraint) and every linear row that can make the
heat impossible (mass balance, capacity, min recycled, max cost) gets a non-negative
slack; the elastic program minimises the slacks, each scaled by its limit's range
(max minus min, or the bound itself when one-sided), so a 0.01 wt% miss on a tight
limit weighs as much as a proportionally equal miss on a wide one. The non-zero
slacks name what cannot be met and by how much. A fix is then sought by offering
each catalogue material (and each inventory lot without its availability cap) in
unlimited amount and re-solving: the one that closes a limit's gap with the least
mass is named.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from blending.catalogue.materials import material_catalogue
from blending.chance import Cone
from blending.charge_model import ChargeModel
from blending.lot import Lot
from blending.solver.cutting_planes import solve_with_cuts
from blending.solver.program import LinearProgram

# A slack smaller than this is round-off [wt% or fraction of melt mass].
SLACK_TOLERANCE = 1e-7


@dataclass(frozen=True)
class Shortfall:
    """One limit or row that cannot be met."""

    name: str            # "Fe max", "mass balance", ...
    amount: float        # by how much at best [wt% for chemistry, kg for mass, USD for cost]
    unit: str
    bound: float | None  # the bound itself, in ``unit``
    fix: str = ""        # a material that would close the gap, with its mass

    @property
    def sentence(self) -> str:
        side = "short" if self.name.endswith("min") or self.name in ("mass balance", "min recycled") else "over"
        text = f"{self.name} cannot be met: {self.amount:.3g} {self.unit} {side} in the blend that misses least"
        if self.bound is not None:
            text += f" (limit {self.bound:g} {self.unit})"
        return text + (f"; {self.fix}" if self.fix else "") + "."


@dataclass(frozen=True)
class Diagnosis:
    shortfalls: tuple[Shortfall, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.shortfalls)

    def to_json(self) -> dict:
        return {"cannot_meet": [{"limit": s.name, "amount": s.amount, "unit": s.unit, "bound": s.bound,
                                 "fix": s.fix, "sentence": s.sentence} for s in self.shortfalls]}

    def __str__(self) -> str:
        return "\n".join(s.sentence for s in self.shortfalls) or "no shortfall found"


def _limit_range(model: ChargeModel, k: int) -> float:
    lim = model.limits[k]
    spec_lim = model.spec.limits.get(lim.limit)
    if spec_lim is not None and spec_lim.min_wt_pct is not None and spec_lim.max_wt_pct is not None \
            and spec_lim.max_wt_pct > spec_lim.min_wt_pct:
        return spec_lim.max_wt_pct - spec_lim.min_wt_pct
    return max(lim.bound_wt_pct if lim.limit != "Al" else 100 - lim.bound_wt_pct, 1e-3)


# Linear rows that may be relaxed, and how: +1 their upper side, -1 their lower side.
_ELASTIC_ROWS = {"mass balance": (-1, +1), "furnace capacity": (+1,), "min recycled": (-1,), "max cost": (+1,)}


def elastic_slacks(model: ChargeModel) -> tuple[np.ndarray, dict[str, float], np.ndarray] | None:
    """Least scaled slacks: per chemistry limit [wt%], per relaxable row [row units], and
    the charged mass per lot [kg] of that least-slack blend."""
    n, K = model.n, len(model.cones)
    row_slacks = [(r, side) for r, row in enumerate(model.rows) for side in _ELASTIC_ROWS.get(row.name, ())]
    n_total = n + K + len(row_slacks)
    # first the least relaxation of mass, capacity and the recycled/cost rows with the
    # chemistry free; then, holding that, the least scaled chemistry slack
    row_weights = np.concatenate([np.zeros(n + K), np.ones(len(row_slacks))])
    weights = np.concatenate([np.zeros(n), [1 / _limit_range(model, k) for k in range(K)],
                              np.zeros(len(row_slacks))])
    cones = [Cone(a=np.concatenate([c.a, -np.eye(K)[k], np.zeros(len(row_slacks))]), a0=c.a0,
                  d=np.concatenate([c.d, np.zeros(K + len(row_slacks))]), d0=c.d0, z=c.z)
             for k, c in enumerate(model.cones)]
    A = np.zeros((len(model.rows), n_total))
    for r, row in enumerate(model.rows):
        A[r, :n] = row.coeffs
    for j, (r, side) in enumerate(row_slacks):
        A[r, n + K + j] = -side  # the slack moves the row's value against its side
    lp = LinearProgram(
        c=weights, A=A, row_lo=np.array([r.lo for r in model.rows]), row_hi=np.array([r.hi for r in model.rows]),
        lower=np.zeros(n_total), upper=np.concatenate([model.upper, np.full(K + len(row_slacks), np.inf)]),
        integrality=np.concatenate([model.integrality, np.zeros(K + len(row_slacks), dtype=int)]), cones=cones)
    if row_slacks:
        lp.c = row_weights
        first = solve_with_cuts(lp, duals=False)
        if first.status != "optimal":
            return None
        lp.upper = lp.upper.copy()
        lp.upper[n + K:] = first.v[n + K:] + 1e-9
        lp.c = weights
    result = solve_with_cuts(lp, duals=False)
    if result.status != "optimal":
        return None
    s = result.v[n:n + K]
    rows: dict[str, float] = {}
    for j, (r, _) in enumerate(row_slacks):
        rows[model.rows[r].name] = rows.get(model.rows[r].name, 0.0) + float(result.v[n + K + j])
    return s, rows, model.kg(result.v[:n])


def _shortfalls(model: ChargeModel) -> list[Shortfall]:
    result = elastic_slacks(model)
    if result is None:  # only hard rows (max fraction, units) remain: nothing to name
        return [Shortfall("lot limits", float("nan"), "", None)]
    s, rows, _ = result
    M = model.melt.mass_kg
    out = []
    for k, slack in enumerate(s):
        if slack > SLACK_TOLERANCE:
            lim = model.limits[k]
            out.append(Shortfall(lim.label, float(slack), "wt%", lim.bound_wt_pct))
    units = {"mass balance": ("kg", M), "furnace capacity": ("kg", M), "min recycled": ("of the melt", 1.0),
             "max cost": ("USD", M)}
    for name, slack in rows.items():
        if slack > SLACK_TOLERANCE:
            unit, scale = units[name]
            out.append(Shortfall(name, float(slack * scale), unit, None))
    return out


def diagnose(model: ChargeModel, *, suggest: bool = True) -> Diagnosis:
    """Name the limits no recipe can meet, by how much, and what material would fix each."""
    shortfalls = _shortfalls(model)
    if not suggest or not shortfalls:
        return Diagnosis(tuple(shortfalls))
    candidates: list[Lot] = []
    have = {lot.name.lower() for lot in model.lots}
    for lot in model.lots:
        if lot.available_kg is not None:
            candidates.append(replace(lot, available_kg=None, unit_kg=None, max_fraction=None))
    for material in material_catalogue().values():
        if material.name.lower() not in have and material.charge_ok:
            candidates.append(Lot(material))
    # only materials that pull at least one short limit the right way are worth a solve
    short = [lim for lim in model.limits if lim.label in {sf.name for sf in shortfalls}]
    if short and len(short) == len(shortfalls):
        candidates = [c for c in candidates if any(
            lim.sense * (sum(c.material.composition[e] for e in lim.elements) - lim.rhs_wt_pct) < 0
            for lim in short)]
    best: dict[str, tuple[float, str]] = {}
    for cand in candidates:
        lots = [lot for lot in model.lots if lot.name != cand.name] + [cand]
        try:
            trial = model.with_lots(lots)
        except ValueError:
            continue
        result = elastic_slacks(trial)
        if result is None:
            continue
        s, rows, x = result
        left = {trial.limits[k].label for k, v in enumerate(s) if v > SLACK_TOLERANCE}
        left |= {name for name, v in rows.items() if v > SLACK_TOLERANCE}
        # what the least-slack blend uses of the candidate: enough, not necessarily the least
        used = float(x[[lot.name for lot in trial.lots].index(cand.name)])
        for sf in shortfalls:
            if sf.name not in left and (sf.name not in best or used < best[sf.name][0]):
                best[sf.name] = (used, cand.name)
    fixed = []
    for sf in shortfalls:
        if sf.name in best:
            kg, name = best[sf.name]
            extra = "more " if name.lower() in have else ""
            sf = replace(sf, fix=f"about {kg:,.0f} kg {extra}of {name} would fix it")
        else:
            sf = replace(sf, fix="no single catalogue material fixes it")
        fixed.append(sf)
    return Diagnosis(tuple(fixed))

