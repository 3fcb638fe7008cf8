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
from blending.joint import limit_risks
from blending.lot import Lot
from blending.melt import Melt
from blending.optimise import LEXICOGRAPHIC_TOLERANCE, Objective, Solution, fit_risk_shape, solve
from blending.recipe import DEFAULT_DRAWS, Recipe, recipe_from_solution
from blending.request import DEFAULT_JOINT_CONFIDENCE, confidence_text, joint_or_per_limit
from blending.solver.cutting_planes import solve_stages
from blending.solver.outer_approximation import CutPool
from blending.solver.program import LinearProgram

SCHEDULE_COLUMNS = ("heat", "alloy", "mass_kg")
# Below this a lot's use is round-off [kg].
TRACE_KG = 1e-6


@dataclass(frozen=True)
class Heat:
    """One heat of the schedule: its name, target alloy and liquid mass [kg].

    ``joint_confidence`` [-] is the probability that the whole heat is in spec, every limit
    together (default 0.95, as ``aluloop blend``); ``confidence`` [-] is the expert option
    instead of it: the probability each limit holds with on its own. Give at most one.
    """

    name: str
    spec: Spec
    mass_kg: float
    confidence: float | None = None
    joint_confidence: float | None = None

    @property
    def joint_target(self) -> float | None:
        """The joint probability [-] the heat is planned for; None when it is planned per limit."""
        if self.joint_confidence is not None:
            return self.joint_confidence
        return DEFAULT_JOINT_CONFIDENCE if self.confidence is None else None

    @property
    def confidence_text(self) -> str:
        """How the heat's target reads: "joint 0.95" or "0.99 per limit"."""
        return confidence_text(self.joint_target, self.confidence)


def load_schedule(path: str | Path, *, joint_confidence: float | None = None,
                  confidence: float | None = None) -> list[Heat]:
    """Heats from a CSV with columns ``heat, alloy, mass_kg`` [kg], in the order they are melted.

    Optional columns: ``confidence`` [-], the probability that the whole heat is in spec (as
    ``aluloop blend --confidence``), and ``per_limit_confidence`` [-], the expert option of each
    limit on its own; a heat gives at most one. A heat with neither takes ``joint_confidence``,
    or ``confidence`` per limit when only that is given, or joint 0.95.
    """
    default_joint = joint_or_per_limit(joint_confidence, confidence)
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
        joint = _probability(row, "confidence")
        per_limit = _probability(row, "per_limit_confidence")
        if joint is not None and per_limit is not None:
            raise row.error("per_limit_confidence", "give either confidence (the whole heat) or "
                            "per_limit_confidence (each limit on its own), not both")
        if joint is None and per_limit is None:
            joint, per_limit = default_joint, (confidence if default_joint is None else None)
        heats.append(Heat(name, spec, mass, confidence=per_limit, joint_confidence=joint))
    return heats


def _probability(row, column: str) -> float | None:
    value = row.number_or_none(column, lo=0.5, hi=1)
    if value is not None and value >= 1:
        raise row.error(column, f"{value:g} must be below 1 (certainty needs infinite margins)")
    return value


@dataclass(frozen=True)
class OptimalityGap:
    """How far a bale plan's recycled metal can be from the best bale plan.

    ``bound_kg`` [kg] is a proven upper bound on the recycled metal of any bale plan that holds
    the same per-limit split of each heat's risk; ``source`` says which bound it is ("MILP dual
    bound" over valid outer-approximation cuts, or "loose plan", the plan with every lot loose).
    ``gap`` [-] is (bound - plan) / bound; ``loose_kg`` [kg] the loose plan's recycled metal;
    ``found`` how the plan's bale counts were found; ``seconds`` [s] the wall time of the search.
    """

    plan_kg: float
    bound_kg: float
    source: str
    loose_kg: float
    found: str
    milp_rounds: int
    seconds: float

    @property
    def gap(self) -> float:
        return (self.bound_kg - self.plan_kg) / abs(self.bound_kg) if self.bound_kg else 0.0

    @property
    def loss_vs_loose(self) -> float:
        """Recycled metal given up against the loose plan, as a share of it [-]."""
        return (self.loose_kg - self.plan_kg) / self.loose_kg if self.loose_kg else 0.0

    def to_json(self) -> dict:
        return {"plan_recycled_kg": self.plan_kg, "bound_recycled_kg": self.bound_kg, "bound": self.source,
                "gap": self.gap, "loose_recycled_kg": self.loose_kg, "loss_vs_loose": self.loss_vs_loose,
                "bale_counts_from": self.found, "milp_rounds": self.milp_rounds, "seconds": self.seconds}


@dataclass(frozen=True)
class HeatPlan:
    """What one heat of a plan charges: ``x_kg`` per inventory lot, its recipe (with
    Monte Carlo compliance), or ``recipe`` None when the heat has no feasible charge."""

    heat: Heat
    x_kg: np.ndarray | None
    recipe: Recipe | None
    limit_confidence: tuple[float, ...] | None = None   # per limit, as planned [-]

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
    gap: OptimalityGap | None = None     # bale plans found by search (blending.campaign_bales)

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
            "gap": None if self.gap is None else self.gap.to_json(),
            "heats": [{"heat": hp.heat.name, "alloy": hp.heat.spec.name, "mass_kg": hp.heat.mass_kg,
                       "joint_confidence": hp.heat.joint_target, "confidence": hp.heat.confidence,
                       "confidence_text": hp.heat.confidence_text, "feasible": hp.feasible,
                       "limit_confidence": None if hp.limit_confidence is None else list(hp.limit_confidence),
                       "p_joint": None if hp.recipe is None else hp.recipe.p_joint,
                       "recipe": None if hp.recipe is None else hp.recipe.to_json()} for hp in self.heats],
            "inventory_use": [{"material": lot.name, "used_kg": float(u), "available_kg": lot.available_kg,
                               "left_kg": None if lot.available_kg is None else float(r)}
                              for lot, u, r in zip(self.lots, use, left, strict=True)],
        }


def heat_model(heat: Heat, lots: Sequence[Lot], mass_kg: float | None = None) -> ChargeModel:
    """The charge model of one heat of the schedule (no heel, default recoveries), at its own
    mass or at ``mass_kg`` [kg]; a joint target starts from Bonferroni's equal split of its risk."""
    return build_charge_model(lots, Melt(mass_kg=heat.mass_kg if mass_kg is None else mass_kg), heat.spec,
                              confidence=0.5 if heat.confidence is None else heat.confidence,
                              joint_confidence=heat.joint_target)


@dataclass(frozen=True)
class HeatClass:
    """Heats that share one charge model up to their mass: the same alloy and confidence, no
    heel, no lot in whole units. Their charges, as fractions of each heat's mass, form one
    convex set V; any charges v_h in V with masses M_h sum to M v with v = sum_h M_h v_h / M
    in V too (M = sum_h M_h), so the class is planned as one heat of mass M and each heat gets
    the class's recipe scaled to its mass: an exact reduction of the joint model, not a heuristic."""

    heats: tuple[int, ...]       # positions in the schedule
    mass_kg: float               # the class's total liquid metal [kg]


def heat_classes(heats: Sequence[Heat], lots: Sequence[Lot], *, merge: bool = True) -> list[HeatClass]:
    """The schedule's heats grouped into classes (each heat its own when ``merge`` is False or
    when a lot comes in whole units: a split of whole bales between heats is no longer free)."""
    if not merge or any(lot.unit_kg is not None for lot in lots):
        return [HeatClass((k,), h.mass_kg) for k, h in enumerate(heats)]
    groups: list[list[int]] = []
    for k, h in enumerate(heats):
        for g in groups:
            first = heats[g[0]]
            if (first.spec == h.spec and first.confidence == h.confidence
                    and first.joint_target == h.joint_target):
                g.append(k)
                break
        else:
            groups.append([k])
    return [HeatClass(tuple(g), float(sum(heats[k].mass_kg for k in g))) for g in groups]


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
    return HeatPlan(heat, x, recipe_from_solution(sol, draws=draws, seed=seed) if draws else None,
                    tuple(model.confidence))


def joint_program(models: Sequence[ChargeModel],
                  masses_kg: Sequence[float] | None = None) -> tuple[LinearProgram, np.ndarray, np.ndarray]:
    """The campaign's cone program over variables (heat, lot), heat-major, with a zero
    objective; also the recycled [kg/kg of campaign] and cost [USD/kg of campaign] vectors.

    Rows and cones of each heat are padded with zeros for the other heats' variables;
    one shared row per lot with finite availability caps its total use [kg]. A model may
    stand for a class of heats (:class:`HeatClass`): its variables, fractions of one heat's
    mass, then stand for the class's total mass ``masses_kg[h]`` [kg] (default: the model's).
    """
    H, n = len(models), models[0].n
    N = H * n
    masses = [m.melt.mass_kg for m in models] if masses_kg is None else list(masses_kg)
    total = sum(masses)
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
            coeffs[h * n + i] = m.kg_per_unit[i] * masses[h] / m.melt.mass_kg / unit
        rows.append(coeffs)
        lo.append(-math.inf)
        hi.append(lot.available_kg / unit)
    recycled = np.concatenate([m.terms["recycled"] * M for m, M in zip(models, masses, strict=True)]) / total
    cost = np.concatenate([m.terms["cost"] * M for m, M in zip(models, masses, strict=True)]) / total
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
# Rounds that respread each joint target's risk over its limits (see _respread): on issue 31's
# 50-heat case the first gained 2.7 t of recycled metal and 4,000 USD, the second 14 kg.
RISK_ROUNDS = 1
# Least risk a limit keeps in a respread split, as a fraction of the heat's risk budget [-].
RISK_FLOOR = 1e-6


def _solve_joint(models: Sequence[ChargeModel], masses_kg: Sequence[float]):
    lp, recycled, cost = joint_program(models, masses_kg)
    return solve_stages(lp, [-recycled, cost], hold=LEXICOGRAPHIC_TOLERANCE, keep_going=True,
                        warm_weight=WARM_WEIGHT)


def _respread(model: ChargeModel, v: np.ndarray, target: float | None) -> ChargeModel | None:
    """The heat's risk budget 1 - ``target`` spread over its limits in proportion to the risk
    each runs at ``v``, scaled up until the joint bound (:func:`blending.chance.joint_lower_bound`)
    just meets ``target``; None for a per-limit heat or when nothing changes.

    Every limit's risk at ``v`` is at most its share now (its cone holds), so ``v`` stays
    feasible: the next joint plan is never worse (``blending.optimise.optimise`` takes the
    same step for one heat).
    """
    if target is None:
        return None
    stochastic = model.stochastic()
    if not stochastic.any():
        return None
    budget = 1 - target
    shape = np.where(stochastic, np.maximum(limit_risks(model, v), RISK_FLOOR * budget), 0.0)
    eps = fit_risk_shape(model, shape, target)
    if eps is None:
        return None
    conf = [min(1 - e, 1 - 1e-15) if st else 0.5 for e, st in zip(eps, stochastic, strict=True)]
    if np.allclose(conf, model.confidence, rtol=0, atol=1e-12):
        return None
    return model.with_confidence(conf)


def _better(new, old) -> bool:
    """Lexicographically better: more recycled metal, or as much and cheaper."""
    return _better_values([new[0].objective, new[-1].objective], [old[0].objective, old[-1].objective])


def joint_campaign(heats: Sequence[Heat], lots: Sequence[Lot], *, draws: int = DEFAULT_DRAWS,
                   seed: int = 0, on_stage: Callable[[str], None] | None = None, merge: bool = True,
                   risk_rounds: int = RISK_ROUNDS) -> CampaignPlan:
    """All heats charged together from ``lots``: most recycled metal, then least cost.

    Heats of one alloy and confidence are planned as one class (:class:`HeatClass`, exact), so
    the program grows with the number of distinct heats, not with the schedule's length. Each
    heat with a joint target holds it through a per-limit split of its risk: Bonferroni's
    equal split first, then ``risk_rounds`` respreads (:func:`_respread`) while the plan improves.

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
    merge : bool
        Plan heats of one class as one (False: every heat its own block, the monolithic model).
    risk_rounds : int
        Most respreads of the joint targets' risk.

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
    classes = heat_classes(heats, lots, merge=merge)
    models = [heat_model(heats[c.heats[0]], lots) for c in classes]
    masses = [c.mass_kg for c in classes]
    step(f"joint plan: {len(heats)} heats in {len(classes)} classes")
    stages = _solve_joint(models, masses)
    n = len(lots)
    if stages[0].status == "infeasible":
        return CampaignPlan("joint", "infeasible", lots, tuple(HeatPlan(h, None, None) for h in heats), 0.0, 0.0,
                            0.0, _why_infeasible(heats, classes, models))
    for round_ in range(risk_rounds):
        if stages[-1].status != "optimal":
            break
        v = stages[-1].v
        spread = [_respread(m, v[k * n:(k + 1) * n], heats[c.heats[0]].joint_target)
                  for k, (m, c) in enumerate(zip(models, classes, strict=True))]
        if all(m is None for m in spread):
            break
        step(f"joint plan: risk split, round {round_ + 1}")
        trial_models = [m if new is None else new for m, new in zip(models, spread, strict=True)]
        trial = _solve_joint(trial_models, masses)
        if trial[-1].status != "optimal" or not _better(trial, stages):
            break
        models, stages = trial_models, trial
    solved = [st for st in stages if st.status == "optimal"]
    status, message = "optimal", ""
    if stages[-1].status == "failed":
        failed = stages[-1]
        stage = STAGES[failed.stage or 0]
        status = "failed"
        message = (f"the joint plan failed at the stage '{stage}' ({failed.message}); "
                   f"{_who_failed(heats, classes, models)}")
        if solved:
            message += "; the plan shown is the one of the stage before, with the most recycled metal"
        else:
            message += "; no joint plan was found"
    plans: list[HeatPlan] = [HeatPlan(h, None, None) for h in heats]
    if solved:
        v = solved[-1].v
        for k, (m, c) in enumerate(zip(models, classes, strict=True)):
            done: dict[float, HeatPlan] = {}     # heats of one class and mass share their recipe
            for j in c.heats:
                heat = heats[j]
                step(f"recipes: heat {j + 1} of {len(heats)}")
                if heat.mass_kg not in done:
                    model = heat_model(heat, lots).with_confidence(m.confidence)
                    done[heat.mass_kg] = _heat_plan(model, heat, v[k * n:(k + 1) * n], draws, seed)
                plans[j] = replace(done[heat.mass_kg], heat=heat)
    return CampaignPlan("joint", status, lots, tuple(plans), *_totals(lots, [p.x_kg for p in plans]), message)


def _names(heats: Sequence[Heat], c: HeatClass) -> str:
    names = [heats[j].name for j in c.heats]
    return ", ".join(names) if len(names) <= 4 else f"{', '.join(names[:3])} and {len(names) - 3} more"


def _who_failed(heats: Sequence[Heat], classes: Sequence[HeatClass], models: Sequence[ChargeModel]) -> str:
    """Which heats the solver also fails on alone, in words."""
    alone = []
    for c, m in zip(classes, models, strict=True):
        try:
            solve(m, "recycled")
        except SolverError as exc:
            alone.append(f"{_names(heats, c)} ({heats[c.heats[0]].spec.name}: {exc})")
    if alone:
        return f"it fails on heat{'s' if len(alone) > 1 else ''} {', '.join(alone)} alone as well"
    return "each heat solves alone, so the trouble is in the joint program of all heats"


def _why_infeasible(heats: Sequence[Heat], classes: Sequence[HeatClass], models: Sequence[ChargeModel]) -> str:
    alone = []
    for c, m in zip(classes, models, strict=True):
        # a class alone at its total mass may lack stock that one of its heats alone would have
        one = heat_model(heats[c.heats[0]], m.lots)
        if solve(one, "recycled").status != "optimal":
            alone.append(_names(heats, c))
    if alone:
        return (f"heat{'s' if len(alone) > 1 else ''} {', '.join(alone)} cannot be made from this inventory even "
                "alone; run `aluloop blend` on it for a diagnosis")
    return "each heat can be made alone, but the inventory cannot cover the whole schedule together"


def _solve_heat(model: ChargeModel, target: float | None, risk_rounds: int = RISK_ROUNDS,
                pool: CutPool | None = None) -> Solution:
    """One heat alone, most recycled then cheapest, with the same respreads of a joint target's
    risk as the joint plan gets (so that the comparison with it is fair). ``pool`` carries the
    cutting planes from solve to solve (see :func:`greedy_campaign`)."""
    best = solve(model, "recycled", pool=pool)
    for _ in range(risk_rounds):
        if best.status != "optimal":
            break
        spread = _respread(best.model, best.v, target)
        if spread is None:
            break
        trial = solve(spread, "recycled", pool=pool)
        if trial.status != "optimal" or not _better_values(trial.stage_values, best.stage_values):
            break
        best = trial
    return best


def _better_values(new: Sequence[float], old: Sequence[float]) -> bool:
    hold = LEXICOGRAPHIC_TOLERANCE * max(1.0, abs(old[0]))
    return new[0] < old[0] - hold or (new[0] <= old[0] + hold and new[-1] < old[-1] - 1e-9 * max(1.0, abs(old[-1])))


def greedy_campaign(heats: Sequence[Heat], lots: Sequence[Lot], *, draws: int = DEFAULT_DRAWS,
                seed: int = 0, on_stage: Callable[[str], None] | None = None,
                reuse: bool = True) -> CampaignPlan:
    """Heats charged one after another in schedule order, each taking its own optimum
    (most recycled, then cheapest) from what the earlier heats left.

    With ``reuse`` (the default) each heat's cutting-plane rounds start from the cuts of the
    last heat of its alloy and mass (:class:`~blending.solver.outer_approximation.CutPool`):
    the same optimum to solver tolerance in fewer LP solves. ``reuse=False`` starts every
    heat from scratch, for tests and benchmarks."""
    lots = tuple(lots)
    left = [lot.available_kg for lot in lots]
    plans: list[HeatPlan] = []
    failures: list[str] = []
    pools: dict[tuple, CutPool] = {}
    for heat in heats:
        here = [replace(lot, available_kg=None if a is None else max(0.0, a))
                for lot, a in zip(lots, left, strict=True)]
        model = heat_model(heat, here)
        if on_stage:
            on_stage(f"greedy plan: heat {len(plans) + 1} of {len(heats)}")
        try:
            # a heat of the same alloy and mass has the same limits over the same lots: its
            # cuts start this heat's rounds (valid whatever the stock left and the risk split)
            pool = pools.setdefault((id(heat.spec), heat.mass_kg), CutPool()) if reuse else None
            sol = _solve_heat(model, heat.joint_target, pool=pool)
        except SolverError as exc:
            failures.append(f"{heat.name} ({exc})")
            sol = None
        plan = _heat_plan(sol.model if sol is not None else model, heat,
                          sol.v if sol is not None and sol.status == "optimal" else None, draws, seed)
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
