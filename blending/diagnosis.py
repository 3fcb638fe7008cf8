"""Why no recipe exists: name what binds, the cost cap, the recycled minimum, the furnace
capacity, the material on hand, or the chemistry itself.

First the constraints that are not the spec are tried: with the chemistry held (as chance
constraints) and the mass balance held, each of the cost cap, the recycled minimum, the
furnace capacity and the lots' availability is allowed to give on its own, by as little as
it must. Any one that alone makes the heat possible binds, and is named with what it would
take ("the cheapest charge that meets the spec costs 41,200 USD, 3,200 USD over the cap").
When none does alone but all together do, the least combined give (each scaled by its own
bound) names them together.

Only when no charge from the catalogue's lots meets the chemistry however those give, is the
chemistry the cause. Then every chemistry limit (as a chance constraint) and every linear row that can make the
heat impossible (mass balance, capacity, min recycled, max cost) gets a non-negative
slack; the elastic program minimises the slacks, each scaled by its limit's range
(max minus min, or the bound itself when one-sided), so a 0.01 wt% miss on a tight
limit weighs as much as a proportionally equal miss on a wide one. The non-zero
slacks name what cannot be met and by how much. A fix is then sought by offering
each catalogue material (and each inventory lot without its availability cap) in
unlimited amount and re-solving: the one that closes a limit's gap with the least
mass is named, among materials whose role makes sense: a limit exceeded is diluted by
scrap or primary metal, never by a hardener or grain refiner (recycled category
``alloying``), and a material is only offered for a limit it pulls the right way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from blending.catalogue.materials import RecycledCategory, material_catalogue
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
    detail: str = ""     # for a constraint that binds: what meeting the spec would take

    @property
    def kind(self) -> str:
        """"chemistry" for a limit of the spec, "constraint" for a cost cap, capacity and the like."""
        return "constraint" if self.name in ROW_GROUPS else "chemistry"

    @property
    def sentence(self) -> str:
        if self.detail:
            return self.detail + (f"; {self.fix}" if self.fix else "") + "."
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
        return {"binds": [s.name for s in self.shortfalls],
                "cannot_meet": [{"limit": s.name, "kind": s.kind, "amount": s.amount, "unit": s.unit, "bound": s.bound,
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


# What may give besides the chemistry: linear rows by name, and the lots' availability.
ROW_GROUPS = ("max cost", "min recycled", "furnace capacity", "availability")
_ROW_SIDE = {"max cost": +1, "min recycled": -1, "furnace capacity": +1}


def _give(model: ChargeModel, groups: tuple[str, ...]) -> dict[str, float | dict[str, float]] | None:
    """Least give of ``groups`` (chemistry and mass balance held) that admits a charge, or None.

    Returns per group what it must give: the cost cap [USD], the recycled minimum [fraction of
    the melt], the furnace capacity [kg], availability [kg per lot]. Each give is scaled by its
    own bound, so that together they are weighed fairly.
    """
    n, M = model.n, model.melt.mass_kg
    rows = [(r, row) for r, row in enumerate(model.rows) if row.name in groups and row.name in _ROW_SIDE]
    limited = [i for i in range(n) if "availability" in groups and np.isfinite(model.upper[i])]
    k = len(rows) + len(limited)
    A = np.zeros((len(model.rows) + len(limited), n + k))
    lo = np.array([r.lo for r in model.rows] + [-np.inf] * len(limited))
    hi = np.array([r.hi for r in model.rows] + [model.upper[i] for i in limited])
    for r, row in enumerate(model.rows):
        A[r, :n] = row.coeffs
    weights = np.zeros(n + k)
    for j, (r, row) in enumerate(rows):
        side = _ROW_SIDE[row.name]
        A[r, n + j] = -side
        bound = row.hi if side > 0 else row.lo
        weights[n + j] = 1 / max(abs(bound), 1e-6)
    upper = model.upper.copy()
    for j, i in enumerate(limited):
        A[len(model.rows) + j, i] = 1.0
        A[len(model.rows) + j, n + len(rows) + j] = -1.0
        upper[i] = np.inf
        weights[n + len(rows) + j] = model.kg_per_unit[i] / M
    cones = [Cone(a=np.concatenate([c.a, np.zeros(k)]), a0=c.a0, d=np.concatenate([c.d, np.zeros(k)]),
                  d0=c.d0, z=c.z) for c in model.cones]
    lp = LinearProgram(c=weights, A=A, row_lo=lo, row_hi=hi, lower=np.zeros(n + k),
                       upper=np.concatenate([upper, np.full(k, np.inf)]),
                       integrality=np.concatenate([model.integrality, np.zeros(k, dtype=int)]), cones=cones)
    result = solve_with_cuts(lp, duals=False)
    if result.status != "optimal":
        return None
    give: dict[str, float | dict[str, float]] = {}
    for j, (_, row) in enumerate(rows):
        give[row.name] = float(result.v[n + j]) * (1.0 if row.name == "min recycled" else M)
    if limited:
        give["availability"] = {model.lots[i].name: float(result.v[n + len(rows) + j] * model.kg_per_unit[i])
                                for j, i in enumerate(limited)}
    return give


def _constraint_shortfall(model: ChargeModel, name: str, amount: float | dict[str, float]) -> Shortfall | None:
    M = model.melt.mass_kg
    row = next((r for r in model.rows if r.name == name), None)
    if name == "availability":
        more = {lot: kg for lot, kg in amount.items() if kg > 1e-6}  # type: ignore[union-attr]
        if not more:
            return None
        total = sum(more.values())
        fix = "about " + ", ".join(f"{kg:,.0f} kg more of {lot}" for lot, kg in more.items()) + " would fix it"
        return Shortfall(name, total, "kg", None, fix,
                         f"availability binds: the lots on hand are {total:,.0f} kg short of a charge that meets "
                         "the spec")
    if amount <= SLACK_TOLERANCE * (1.0 if name == "min recycled" else M):  # type: ignore[operator]
        return None
    if name == "max cost":
        cap = row.hi * M
        return Shortfall(name, amount, "USD", cap, "", f"the cost cap binds: the cheapest charge that meets the spec "
                         f"costs {cap + amount:,.0f} USD, {amount:,.0f} USD over the {cap:,.0f} USD cap")
    if name == "min recycled":
        floor = row.lo
        return Shortfall(name, amount, "of the melt", floor, "",
                         f"the recycled minimum binds: the most recycled charge that meets the spec holds "
                         f"{100 * (floor - amount):.1f}% recycled metal, {100 * amount:.1f} points short of "
                         f"{100 * floor:.1f}%")
    cap = row.hi * M + model.melt.heel_kg
    return Shortfall(name, amount, "kg", cap, "", f"the furnace capacity binds: a charge that meets the spec needs "
                     f"{cap + amount:,.0f} kg in the furnace, {amount:,.0f} kg over its {cap:,.0f} kg")


def _binding_constraints(model: ChargeModel) -> list[Shortfall] | None:
    """The constraints besides the chemistry that bind, or None when the chemistry itself fails."""
    groups = tuple(g for g in ROW_GROUPS if g in {r.name for r in model.rows}
                   or g == "availability" and np.isfinite(model.upper).any())
    if not groups or _give(model, groups) is None:
        return None
    out = []
    for g in groups:  # any one that alone admits a charge binds
        alone = _give(model, (g,))
        if alone is not None and (sf := _constraint_shortfall(model, g, alone[g])) is not None:
            out.append(sf)
    if not out:       # only together: the least combined give
        together = _give(model, groups) or {}
        out = [sf for g, amount in together.items() if (sf := _constraint_shortfall(model, g, amount)) is not None]
    return out


def _shortfalls(model: ChargeModel) -> list[Shortfall]:
    result = elastic_slacks(model)
    if result is None:  # only hard rows (max fraction, units) remain
        return [Shortfall("lot limits", None, "", None, "",  # type: ignore[arg-type]
                          "the lots' max_fraction and whole-unit rows admit no charge of this mass at all")]
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
    """Name what binds (a constraint such as the cost cap, or the chemistry), by how much, and
    for a chemistry limit what material would fix it."""
    binding = _binding_constraints(model)
    if binding:
        return Diagnosis(tuple(binding))
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
    # a material is offered for a limit only if it pulls that limit the right way, and its role fits:
    # an exceeded limit is diluted by scrap or primary, never by a hardener or grain refiner
    limits = {lim.label: lim for lim in model.limits}

    def fits(cand: Lot, name: str) -> bool:
        lim = limits.get(name)
        if lim is None:
            return cand.material.recycled != RecycledCategory.ALLOYING
        pulls = lim.sense * (sum(cand.material.composition[e] for e in lim.elements) - lim.rhs_wt_pct) < 0
        return pulls and (lim.sense < 0 or cand.material.recycled != RecycledCategory.ALLOYING)

    candidates = [c for c in candidates if any(fits(c, sf.name) for sf in shortfalls)]
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
            if sf.name not in left and fits(cand, sf.name) and (sf.name not in best or used < best[sf.name][0]):
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

