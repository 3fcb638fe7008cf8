"""Trimming a melt: the cheapest additions that bring a measured melt inside its aim limits.

The melt already in the furnace is a heel of known mass H and measured chemistry h_j
(spark OES), with the OES repeatability as its standard deviation. Additions (hardeners
to raise an element, primary metal or clean scrap to dilute) are charged on top, so
the final liquid mass L is free between H and what the furnace holds:

    H <= L(x) = H + sum_i y_i x_i,        H + sum_i x_i <= capacity

and each aim limit must hold with the stated probability as a chance constraint
(:mod:`blending.chance`). This is the charge model of :mod:`blending.charge_model`
with the melt as its heel and a mass tolerance spanning [H, capacity], solved for the
least cost (:func:`blending.optimise.solve`).

When no addition within capacity brings the melt inside, an elastic program with the
capacity held hard names the limits that stay violated and by how much at best, and
the catalogue alloys whose limits the melt already meets are offered as a re-grade.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from scipy.stats import norm

from blending.catalogue.composition import Composition, elements
from blending.catalogue.spec import Spec, alloy_catalogue, within_limit
from blending.catalogue.tables import DataFileError, read_csv_file, read_package_csv
from blending.chance import Cone
from blending.charge_model import ChargeModel, build_charge_model, chemistry_limits
from blending.diagnosis import SLACK_TOLERANCE, Shortfall, _limit_range
from blending.errors import InputError, SolverError
from blending.lot import Lot
from blending.melt import Melt, default_recoveries
from blending.optimise import Objective, solve
from blending.recipe import DEFAULT_DRAWS, Recipe, melt_chemistry, recipe_from_solution
from blending.solver.cutting_planes import solve_with_cuts
from blending.solver.program import LinearProgram


@cache
def _oes_table() -> dict[str, tuple[float, float]]:
    rows = read_package_csv("blending.data", "oes_repeatability.csv",
                            required_columns=("element", "relative_sd", "min_sd_wt_pct", "source"))
    return {r.text("element"): (r.number("relative_sd", lo=0, hi=1), r.number("min_sd_wt_pct", lo=0))
            for r in rows}


def oes_repeatability(composition: Mapping[str, float]) -> dict[str, float]:
    """Standard deviation of a spark-OES reading of each element [wt%].

    ``max(min_sd, relative_sd * reading)`` from ``blending/data/oes_repeatability.csv``
    for every element of the table (an element read as 0 keeps the floor, since the
    instrument reads it too); elements the table lacks get 2 % of the reading.
    """
    table = _oes_table()
    out = {}
    for symbol in set(table) | {e for e in composition if e != "Al"}:
        reading = float(composition.get(symbol, 0.0))
        rel, floor = table.get(symbol, (0.02, 0.0))
        sd = max(floor, rel * reading)
        if sd > 0:
            out[symbol] = sd
    return out


@dataclass(frozen=True)
class Analysis:
    """A measured melt analysis: mean chemistry and the sd of each reading [wt%]."""

    composition: Composition
    sd_wt_pct: Mapping[str, float]
    source: str = ""


def analysis_from_mapping(wt_pct: Mapping[str, float], *, sd_wt_pct: Mapping[str, float] | None = None,
                          where: str = "analysis") -> Analysis:
    """An analysis from element readings [wt%]; missing sds come from :func:`oes_repeatability`."""
    comp = Composition(wt_pct, where=where)
    sd = oes_repeatability(comp)
    sd.update(sd_wt_pct or {})
    return Analysis(comp, sd, where)


def load_analysis(path: str | Path) -> Analysis:
    """A melt analysis from a CSV with columns ``element, wt_pct`` [wt%] and optional
    ``sd_wt_pct`` [wt%] (blank: the typical OES repeatability). An ``Al`` row is
    accepted when it agrees with the balance."""
    rows = read_csv_file(path, required_columns=("element", "wt_pct"))
    name = Path(path).name
    if not rows:
        raise DataFileError(name, None, None, "lists no elements")
    known = elements()
    wt: dict[str, float] = {}
    sd: dict[str, float] = {}
    seen: dict[str, int] = {}
    for row in rows:
        symbol = row.text("element")
        if symbol not in known:
            raise row.error("element", f"{symbol!r} is not an element symbol")
        if symbol in seen:
            raise row.error("element", f"{symbol} is already given in row {seen[symbol]}")
        seen[symbol] = row.line
        wt[symbol] = row.number("wt_pct", lo=0, hi=100, unit="wt%")
        s = row.number_or_none("sd_wt_pct", lo=0, hi=100, unit="wt%")
        if s is not None and symbol != "Al":
            sd[symbol] = s
    return analysis_from_mapping(wt, sd_wt_pct=sd, where=name)


@dataclass(frozen=True)
class Regrade:
    """A catalogue alloy whose limits the melt already meets on its mean analysis."""

    alloy: str
    p_weakest: float   # probability [-] of the weakest limit, from the OES repeatability
    weakest: str       # its label

    @property
    def sentence(self) -> str:
        return f"{self.alloy} (weakest limit {self.weakest}, P = {self.p_weakest:.3f})"


@dataclass(frozen=True)
class Trim:
    """What to add to a melt, or why nothing can save it.

    ``status`` is "in spec" (nothing to add), "trimmed" (additions found) or
    "cannot be saved". ``recipe`` holds the additions, predicted chemistry, Monte
    Carlo compliance and cost when saved; ``shortfalls``, ``best_wt_pct`` (the
    least-violating melt at full use of the capacity) and ``regrade`` when not.
    """

    status: str
    melt_kg: float
    capacity_kg: float
    spec: Spec
    analysis: Analysis
    confidence: float
    recipe: Recipe | None = None
    shortfalls: tuple[Shortfall, ...] = ()
    best_liquid_kg: float | None = None
    best_wt_pct: dict[str, float] = field(default_factory=dict)
    best_additions_kg: dict[str, float] = field(default_factory=dict)
    regrade: tuple[Regrade, ...] = ()

    @property
    def saved(self) -> bool:
        return self.status != "cannot be saved"

    def statement(self) -> str:
        """One paragraph a furnace operator reads."""
        if self.status == "in spec":
            return (f"The {self.melt_kg:,.0f} kg melt already meets the {self.spec.name} aim limits "
                    f"at {self.confidence:g} confidence: add nothing.")
        if self.status == "trimmed":
            adds = ", ".join(f"{ln.mass_kg:,.1f} kg {ln.material}" for ln in self.recipe.lines)
            return (f"Add {adds} to the {self.melt_kg:,.0f} kg melt for {self.recipe.cost:,.0f} USD; "
                    f"{self.recipe.liquid_kg:,.0f} kg liquid, joint P(in {self.spec.name} spec) = "
                    f"{self.recipe.p_joint:.3f}.")
        text = (f"The {self.melt_kg:,.0f} kg melt cannot be brought inside the {self.spec.name} aim limits at "
                f"{self.confidence:g} confidence with these additions within the {self.capacity_kg:,.0f} kg "
                f"furnace capacity. At best ({self.best_liquid_kg:,.0f} kg liquid): ")
        text += "; ".join(f"{s.name} {s.amount:.3g} wt% {'short' if s.name.endswith('min') else 'over'} "
                          f"(limit {s.bound:g} wt%)" for s in self.shortfalls) + "."
        if self.regrade:
            text += " The melt already meets " + ", ".join(r.sentence for r in self.regrade) + ": re-grade it."
        else:
            text += " It meets no catalogue alloy as it stands."
        return text

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "spec": self.spec.name,
            "melt_kg": self.melt_kg,
            "capacity_kg": self.capacity_kg,
            "confidence": self.confidence,
            "analysis_wt_pct": self.analysis.composition.as_dict(),
            "analysis_sd_wt_pct": dict(self.analysis.sd_wt_pct),
            "statement": self.statement(),
            "additions": None if self.recipe is None else self.recipe.to_json(),
            "cannot_meet": [{"limit": s.name, "amount_wt_pct": s.amount, "bound_wt_pct": s.bound}
                            for s in self.shortfalls],
            "best_achievable": None if self.saved else {
                "liquid_kg": self.best_liquid_kg, "composition_wt_pct": self.best_wt_pct,
                "additions_kg": self.best_additions_kg},
            "regrade": [{"alloy": r.alloy, "p_weakest": r.p_weakest, "weakest": r.weakest} for r in self.regrade],
        }


def trim_model(melt_kg: float, analysis: Analysis, spec: Spec, additions: Sequence[Lot], capacity_kg: float, *,
               confidence: float = 0.95, recoveries: Mapping[str, float] | None = None,
               aim: bool = True) -> ChargeModel:
    """The charge model of a trim: the melt as heel, final liquid mass free in [melt, capacity].

    Parameters
    ----------
    melt_kg : float [kg]
        Liquid metal in the furnace now.
    analysis : Analysis
        Its measured chemistry and the sd of each reading [wt%].
    spec : Spec
        Target; its aim limits (when set and ``aim``) are what the trim must reach.
    additions : sequence of Lot
        What may be added (hardeners, primary, scrap), with availability.
    capacity_kg : float [kg]
        Most the furnace holds: melt plus the solid mass added.
    confidence : float [-]
        Probability each limit must hold with on its own.
    """
    if not (melt_kg > 0 and math.isfinite(melt_kg)):
        raise InputError(f"melt mass {melt_kg:g} kg must be positive")
    if not capacity_kg > melt_kg:
        raise InputError(f"furnace capacity {capacity_kg:g} kg must be above the melt mass {melt_kg:g} kg "
                         "to leave room for additions")
    # Melt(mass M, tolerance t) asks M - t <= L <= M + t: centre the range [melt, capacity].
    melt = Melt(mass_kg=(melt_kg + capacity_kg) / 2, heel_kg=melt_kg, heel_composition=analysis.composition,
                heel_sd_wt_pct=dict(analysis.sd_wt_pct), capacity_kg=capacity_kg,
                recoveries=default_recoveries() if recoveries is None else recoveries,
                mass_tolerance_kg=(capacity_kg - melt_kg) / 2)
    return build_charge_model(additions, melt, spec, confidence=confidence, aim=aim)


def trim(melt_kg: float, analysis: Analysis, spec: Spec, additions: Sequence[Lot], capacity_kg: float, *,
         confidence: float = 0.95, recoveries: Mapping[str, float] | None = None,
         draws: int = DEFAULT_DRAWS, seed: int = 0) -> Trim:
    """The cheapest additions that bring the melt inside the aim limits, or why none can.

    See :func:`trim_model` for the parameters. The recipe's compliance is a seeded Monte
    Carlo estimate against the specification itself (not the aim limits), with the OES
    repeatability and each lot's spread as independent normal errors.
    """
    model = trim_model(melt_kg, analysis, spec, additions, capacity_kg, confidence=confidence,
                       recoveries=recoveries)
    # cost alone: a recycled tie-break would let trace scrap in within the tolerance on cost
    solution = solve(model, Objective(({"cost": 1.0},), "cost"))
    common = dict(melt_kg=melt_kg, capacity_kg=capacity_kg, spec=spec, analysis=analysis, confidence=confidence)
    if solution.status == "optimal":
        recipe = recipe_from_solution(solution, draws=draws, seed=seed)
        return Trim("trimmed" if recipe.lines else "in spec", recipe=recipe, **common)
    slacks, x = least_violation(model)
    L, mean, _ = melt_chemistry(model, x)
    # cone rows are in kg x wt% per kg of the model's nominal mass; the liquid is L
    to_wt_pct = model.melt.mass_kg / L
    shortfalls = tuple(Shortfall(model.limits[k].label, float(s * to_wt_pct), "wt%", model.limits[k].bound_wt_pct)
                       for k, s in enumerate(slacks) if s > SLACK_TOLERANCE)
    best = {e: float(w) for e, w in zip(model.elements, mean, strict=True)}
    used = {lot.name: float(kg) for lot, kg in zip(model.lots, x, strict=True) if kg > 1e-6}
    return Trim("cannot be saved", shortfalls=shortfalls, best_liquid_kg=L, best_wt_pct=best,
                best_additions_kg=used, regrade=tuple(regrade_options(analysis)), **common)


def least_violation(model: ChargeModel) -> tuple[np.ndarray, np.ndarray]:
    """Elastic program with every row (capacity, availability) held hard: the least
    scaled violation of each chemistry limit [kg x wt% per kg of ``model.melt.mass_kg``;
    times mass_kg / liquid mass for wt% of the melt] and the additions that reach it [kg].

    Unlike :func:`blending.diagnosis.elastic_slacks`, which may relax the furnace
    capacity, a trim cannot overfill the furnace, so only the limits get slacks. Each
    slack is weighted by 1 / the limit's range, as there.
    """
    n, K = model.n, len(model.cones)
    cones = [Cone(a=np.concatenate([c.a, -np.eye(K)[k]]), a0=c.a0, d=np.concatenate([c.d, np.zeros(K)]),
                  d0=c.d0, z=c.z) for k, c in enumerate(model.cones)]
    A = np.array([np.concatenate([r.coeffs, np.zeros(K)]) for r in model.rows]).reshape(len(model.rows), n + K)
    lp = LinearProgram(
        c=np.concatenate([np.zeros(n), [1 / _limit_range(model, k) for k in range(K)]]), A=A,
        row_lo=np.array([r.lo for r in model.rows]), row_hi=np.array([r.hi for r in model.rows]),
        lower=np.zeros(n + K), upper=np.concatenate([model.upper, np.full(K, np.inf)]),
        integrality=np.concatenate([model.integrality, np.zeros(K, dtype=int)]), cones=cones)
    result = solve_with_cuts(lp, duals=False)
    if result.status != "optimal":  # x = 0 with large slacks is always feasible
        raise SolverError("the elastic trim program has no solution")
    return result.v[n:], model.kg(result.v[:n])


def regrade_options(analysis: Analysis, catalogue: Mapping[str, Spec] | None = None) -> list[Regrade]:
    """Catalogue alloys whose limits (not aim limits) the analysis meets on its mean,
    most certain first; the certainty is the normal probability [-] of the weakest
    limit given the OES repeatability."""
    catalogue = alloy_catalogue() if catalogue is None else catalogue
    comp = analysis.composition
    out = []
    for name, spec in catalogue.items():
        present = tuple(dict.fromkeys([*comp, *spec.named_elements()]))
        worst, label = 1.0, ""
        for lim in chemistry_limits(spec, present, aim=False):
            total = sum(comp[e] for e in lim.elements)
            sd = math.sqrt(sum(float(analysis.sd_wt_pct.get(e, 0.0)) ** 2 for e in lim.elements))
            margin = lim.sense * (lim.rhs_wt_pct - total)
            if not within_limit(margin):
                worst = -1.0
                break
            p = float(norm.cdf(margin / sd)) if sd > 0 else 1.0
            if p < worst:
                worst, label = p, lim.label
        if worst >= 0:
            out.append(Regrade(name, worst, label or "none"))
    return sorted(out, key=lambda r: -r.p_weakest)
