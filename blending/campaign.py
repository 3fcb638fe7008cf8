"""Campaign plan: the heats of a schedule charged together from one shared inventory.

Each heat h is its own charge model (:mod:`blending.charge_model`: mass balance,
chance-constrained limits of its alloy, lot caps); the campaign stacks them
block-diagonally and adds one shared availability row per limited lot i:

    sum_h x_hi <= available_i                                              [kg]

The objective is the core's, summed over heats and solved lexicographically
(:mod:`blending.optimise`): first the most recycled metal over the campaign, then
the cheapest charge that keeps it. Planned together, scarce clean scrap goes to
the heat whose alloy can least do without it, instead of to whichever heat comes
first (:func:`greedy_campaign`, the sequential plan it is compared with).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from blending.catalogue.spec import Spec, UnknownAlloyError, get_alloy
from blending.catalogue.tables import DataFileError, read_csv_file
from blending.chance import Cone
from blending.charge_model import ChargeModel, build_charge_model
from blending.errors import InputError, SolverError
from blending.lot import Lot
from blending.melt import Melt
from blending.optimise import LEXICOGRAPHIC_TOLERANCE, Objective, Solution, solve
from blending.recipe import DEFAULT_DRAWS, Recipe, recipe_from_solution
from blending.solver.cutting_planes import solve_stages
from blending.solver.program import LinearProgram

SCHEDULE_COLUMNS = ("heat", "alloy", "mass_kg")
# Below this a lot's use is round-off [kg].
TRACE_KG = 1e-6


@dataclass(frozen=True)
class Heat:
    """One heat of the schedule: its name, target alloy, liquid mass [kg] and the
    probability [-] each limit must hold with."""

    name: str
    spec: Spec
    mass_kg: float
    confidence: float = 0.95


def load_schedule(path: str | Path, *, confidence: float = 0.95) -> list[Heat]:
    """Heats from a CSV with columns ``heat, alloy, mass_kg`` [kg] and optional
    ``confidence`` [-] (blank: ``confidence``), in the order they are melted."""
    rows = read_csv_file(path, required_columns=SCHEDULE_COLUMNS)
    if not rows:
        raise DataFileError(Path(path).name, None, None, "lists no heats")
    heats: list[Heat] = []
    seen: dict[str, int] = {}
    for row in rows:
        name = row.text("heat")
        if name in seen:
            raise row.error("heat", f"{name!r} is already listed in row {seen[name]}; give each heat its own name")
        seen[name] = row.line
        try:
            spec = get_alloy(row.text("alloy"))
        except UnknownAlloyError as exc:
            raise row.error("alloy", str(exc)) from None
        mass = row.number("mass_kg", lo=0, unit="kg")
        if mass == 0:
            raise row.error("mass_kg", "0 kg; a heat must make some metal")
        conf = row.number_or_none("confidence", lo=0.5, hi=1)
        if conf is not None and conf >= 1:
            raise row.error("confidence", f"{conf:g} must be below 1 (certainty needs infinite margins)")
        heats.append(Heat(name, spec, mass, confidence if conf is None else conf))
    return heats


@dataclass(frozen=True)
class HeatPlan:
    """What one heat of a plan charges: ``x_kg`` per inventory lot, its recipe (with
    Monte Carlo compliance), or ``recipe`` None when the heat has no feasible charge."""

    heat: Heat
    x_kg: np.ndarray | None
    recipe: Recipe | None

    @property
    def feasible(self) -> bool:
        return self.x_kg is not None


@dataclass(frozen=True)
class CampaignPlan:
    """A plan for the whole schedule and its totals.

    ``recycled_kg`` counts pre- plus post-consumer metal [kg] (ISO 14021), ``cost``
    [USD] and ``co2e_kg`` [kg] the charged materials, over the heats that have a charge.
    """

    method: str            # "joint" or "greedy"
    status: str            # "optimal", "infeasible" or "failed" (numerical trouble; see message)
    lots: tuple[Lot, ...]
    heats: tuple[HeatPlan, ...]
    recycled_kg: float
    cost: float
    co2e_kg: float
    message: str = ""

    @property
    def mass_kg(self) -> float:
        return sum(hp.heat.mass_kg for hp in self.heats if hp.feasible)

    @property
    def recycled_fraction(self) -> float:
        return self.recycled_kg / self.mass_kg if self.mass_kg else 0.0

    def use_kg(self) -> np.ndarray:
        """Total drawn from each lot over the campaign [kg]."""
        return sum((hp.x_kg for hp in self.heats if hp.feasible), np.zeros(len(self.lots)))

    def left_kg(self) -> np.ndarray:
        """Stock left in each lot after the campaign [kg]; NaN for material bought to order."""
        have = np.array([np.nan if lot.available_kg is None else lot.available_kg for lot in self.lots])
        return np.maximum(have - self.use_kg(), 0.0)

    def to_json(self) -> dict:
        use, left = self.use_kg(), self.left_kg()
        return {
            "method": self.method, "status": self.status, "message": self.message,
            "recycled_kg": self.recycled_kg, "recycled_fraction": self.recycled_fraction,
            "cost": self.cost, "co2e_kg": self.co2e_kg, "mass_kg": self.mass_kg,
            "heats": [{"heat": hp.heat.name, "alloy": hp.heat.spec.name, "mass_kg": hp.heat.mass_kg,
                       "confidence": hp.heat.confidence, "feasible": hp.feasible,
                       "p_joint": None if hp.recipe is None else hp.recipe.p_joint,
                       "recipe": None if hp.recipe is None else hp.recipe.to_json()} for hp in self.heats],
            "inventory_use": [{"material": lot.name, "used_kg": float(u), "available_kg": lot.available_kg,
                               "left_kg": None if lot.available_kg is None else float(r)}
                              for lot, u, r in zip(self.lots, use, left, strict=True)],
        }


def heat_model(heat: Heat, lots: Sequence[Lot]) -> ChargeModel:
    """The charge model of one heat of the schedule (no heel, default recoveries)."""
    return build_charge_model(lots, Melt(mass_kg=heat.mass_kg), heat.spec, confidence=heat.confidence)


def _totals(lots: Sequence[Lot], xs: Sequence[np.ndarray | None]) -> tuple[float, float, float]:
    counts = np.array([lot.material.recycled.counts_as_recycled for lot in lots], dtype=float)
    y = np.array([lot.material.metal_yield for lot in lots])
    cost = np.array([lot.material.cost_per_kg for lot in lots])
    co2 = np.array([lot.material.co2e_kg_per_kg for lot in lots])
    xs = [x for x in xs if x is not None]
    return (float(sum(counts * y @ x for x in xs)), float(sum(cost @ x for x in xs)),
            float(sum(co2 @ x for x in xs)))


def _heat_plan(model: ChargeModel, heat: Heat, v: np.ndarray | None, draws: int, seed: int) -> HeatPlan:
    if v is None:
        return HeatPlan(heat, None, None)
    x = model.kg(v)
    x = np.where(x < TRACE_KG, 0.0, x)
    sol = Solution(model, "optimal", v, objective=Objective.named("recycled"))
    return HeatPlan(heat, x, recipe_from_solution(sol, draws=draws, seed=seed) if draws else None)


def joint_program(models: Sequence[ChargeModel]) -> tuple[LinearProgram, np.ndarray, np.ndarray]:
    """The campaign's cone program over variables (heat, lot), heat-major, with a zero
    objective; also the recycled [kg/kg of campaign] and cost [USD/kg of campaign] vectors.

    Rows and cones of each heat are padded with zeros for the other heats' variables;
    one shared row per lot with finite availability caps its total use [kg].
    """
    H, n = len(models), models[0].n
    N = H * n
    total = sum(m.melt.mass_kg for m in models)
    rows, lo, hi, cones = [], [], [], []
    for h, m in enumerate(models):
        block = slice(h * n, (h + 1) * n)
        for r in m.rows:
            coeffs = np.zeros(N)
            coeffs[block] = r.coeffs
            rows.append(coeffs)
            lo.append(r.lo)
            hi.append(r.hi)
        for c in m.cones:
            a, d = np.zeros(N), np.zeros(N)
            a[block], d[block] = c.a, c.d
            cones.append(Cone(a=a, a0=c.a0, d=d, d0=c.d0, z=c.z))
    # in tonnes per tonne of the mean heat, like the heats' own rows (kg rows with
    # coefficients of 2e4 next to wt% rows of order 1 broke HiGHS at 25 heats)
    unit = total / H
    for i, lot in enumerate(models[0].lots):
        if lot.available_kg is None:
            continue
        coeffs = np.zeros(N)
        for h, m in enumerate(models):
            coeffs[h * n + i] = m.kg_per_unit[i] / unit
        rows.append(coeffs)
        lo.append(-math.inf)
        hi.append(lot.available_kg / unit)
    recycled = np.concatenate([m.terms["recycled"] * m.melt.mass_kg for m in models]) / total
    cost = np.concatenate([m.terms["cost"] * m.melt.mass_kg for m in models]) / total
    lp = LinearProgram(
        c=np.zeros(N), A=np.array(rows).reshape(len(rows), N), row_lo=np.array(lo), row_hi=np.array(hi),
        lower=np.concatenate([m.lower for m in models]), upper=np.concatenate([m.upper for m in models]),
        integrality=np.concatenate([m.integrality for m in models]), cones=cones)
    return lp, recycled, cost


STAGES = ("most recycled metal", "least cost at that recycled metal")
# Weight of the cost in the warm first pass (solve_stages): small, so the first pass lands on
# the vertex the lexicographic stages end on; with the default 1e-3 the two stage switches of a
# 10-heat plant campaign took 9,000 simplex pivots, with 1e-6 about 6,000 (19 s -> 12 s).
WARM_WEIGHT = 1e-6


def joint_campaign(heats: Sequence[Heat], lots: Sequence[Lot], *, draws: int = DEFAULT_DRAWS,
                  seed: int = 0, on_stage: Callable[[str], None] | None = None) -> CampaignPlan:
    """All heats charged together from ``lots``: most recycled metal, then least cost.

    Parameters
    ----------
    heats : sequence of Heat
        The schedule.
    lots : sequence of Lot
        The shared inventory; ``available_kg`` caps the campaign's total use of each lot.
    draws : int
        Monte Carlo draws of each heat's compliance check (0 skips the recipes).
    on_stage : callable, optional
        Called with the name of each step as it starts, for a progress display.

    Returns
    -------
    CampaignPlan
        Status ``"optimal"``; ``"infeasible"`` (no plan exists); or ``"failed"`` when the
        solver ran into numerical trouble it could not get round: ``message`` names the
        stage and the heats that fail alone as well (or says that each heat solves alone), and the
        plan holds the best feasible plan found before (the most recycled plan when only
        the cost stage failed), or no heats at all.
    """
    if not heats:
        raise InputError("the schedule lists no heats")
    step = on_stage or (lambda name: None)
    lots = tuple(lots)
    models = [heat_model(h, lots) for h in heats]
    lp, recycled, cost = joint_program(models)
    stages = solve_stages(lp, [-recycled, cost], hold=LEXICOGRAPHIC_TOLERANCE, keep_going=True,
                          warm_weight=WARM_WEIGHT,
                          on_stage=lambda s: s != 0 and step(f"joint plan: {STAGES[max(s, 0)]}"))
    n = len(lots)
    if stages[0].status == "infeasible":
        return CampaignPlan("joint", "infeasible", lots, tuple(HeatPlan(h, None, None) for h in heats), 0.0, 0.0,
                            0.0, _why_infeasible(heats, models))
    solved = [st for st in stages if st.status == "optimal"]
    status, message = "optimal", ""
    if stages[-1].status == "failed":
        failed = stages[-1]
        stage = STAGES[failed.stage or 0]
        status = "failed"
        message = f"the joint plan failed at the stage '{stage}' ({failed.message}); {_who_failed(heats, models)}"
        if solved:
            message += "; the plan shown is the one of the stage before, with the most recycled metal"
        else:
            message += "; no joint plan was found"
    plans = tuple(HeatPlan(h, None, None) for h in heats)
    if solved:
        v = solved[-1].v
        plans = []
        for k, (m, h) in enumerate(zip(models, heats, strict=True)):
            step(f"recipes: heat {k + 1} of {len(heats)}")
            plans.append(_heat_plan(m, h, v[k * n:(k + 1) * n], draws, seed))
        plans = tuple(plans)
    return CampaignPlan("joint", status, lots, plans, *_totals(lots, [p.x_kg for p in plans]), message)


def _who_failed(heats: Sequence[Heat], models: Sequence[ChargeModel]) -> str:
    """Which heats the solver also fails on alone, in words."""
    alone = []
    for h, m in zip(heats, models, strict=True):
        try:
            solve(m, "recycled")
        except SolverError as exc:
            alone.append(f"{h.name} ({h.spec.name}: {exc})")
    if alone:
        return f"it fails on heat{'s' if len(alone) > 1 else ''} {', '.join(alone)} alone as well"
    return "each heat solves alone, so the trouble is in the joint program of all heats"


def _why_infeasible(heats: Sequence[Heat], models: Sequence[ChargeModel]) -> str:
    alone = [h.name for h, m in zip(heats, models, strict=True) if solve(m, "recycled").status != "optimal"]
    if alone:
        return (f"heat{'s' if len(alone) > 1 else ''} {', '.join(alone)} cannot be made from this inventory even "
                "alone; run `aluloop blend` on it for a diagnosis")
    return "each heat can be made alone, but the inventory cannot cover the whole schedule together"


def greedy_campaign(heats: Sequence[Heat], lots: Sequence[Lot], *, draws: int = DEFAULT_DRAWS,
                seed: int = 0, on_stage: Callable[[str], None] | None = None) -> CampaignPlan:
    """Heats charged one after another in schedule order, each taking its own optimum
    (most recycled, then cheapest) from what the earlier heats left."""
    lots = tuple(lots)
    left = [lot.available_kg for lot in lots]
    plans: list[HeatPlan] = []
    failures: list[str] = []
    for heat in heats:
        here = [replace(lot, available_kg=None if a is None else max(0.0, a))
                for lot, a in zip(lots, left, strict=True)]
        model = heat_model(heat, here)
        if on_stage:
            on_stage(f"greedy plan: heat {len(plans) + 1} of {len(heats)}")
        try:
            sol = solve(model, "recycled")
        except SolverError as exc:
            failures.append(f"{heat.name} ({exc})")
            sol = None
        plan = _heat_plan(model, heat, sol.v if sol is not None and sol.status == "optimal" else None, draws, seed)
        if plan.feasible:
            left = [None if a is None else a - x for a, x in zip(left, plan.x_kg, strict=True)]
        plans.append(plan)
    missing = [p.heat.name for p in plans if not p.feasible]
    message = "" if not missing else (f"heat{'s' if len(missing) > 1 else ''} {', '.join(missing)} found "
                                      "no charge in what the earlier heats left")
    if failures:
        message += f" (the solver failed on {', '.join(failures)})"
    return CampaignPlan("greedy", "infeasible" if missing else "optimal", lots, tuple(plans),
                        *_totals(lots, [p.x_kg for p in plans]), message)
