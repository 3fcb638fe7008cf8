"""Campaign plans with lots in whole bales: one MILP over every heat, with a stated optimality gap.

The chance constraints make the bale problem a convex mixed-integer program (a second-order
cone per limit and heat, integer bale counts). It is solved by outer approximation over the
whole campaign (Duran and Grossmann, Math. Prog. 36 (1986) 307; Quesada and Grossmann,
Comput. Chem. Eng. 16 (1992) 937), done simply:

1. the loose plan (every lot as loose material; :func:`blending.campaign.joint_campaign`, heats
   of one class as one block) gives an upper bound on the recycled metal, each heat's per-limit
   split of its risk, and the points where the chance constraints are first cut;
2. one HiGHS MILP over every heat (one block per heat: bales do not split evenly between heats,
   so the class reduction is no longer exact) with the cones replaced by tangent cuts of their
   extended formulation (:mod:`blending.solver.outer_approximation`). Every cut is a valid
   outer approximation, so the MILP's dual bound bounds the bale problem's optimum;
3. the MILP's bale counts are fixed and the rest (the loose lots, the additions bought to order)
   solved exactly by cutting planes to 1e-9 wt%, most recycled then cheapest: a plan is only
   ever reported from that exact solve. Where the counts admit no exact plan, the MILP's
   solution is cut and the MILP solved again.

The gap is on the recycled metal (the first objective): (bound - plan) / bound, with the bound
the smaller of the MILP's dual bound and the loose plan's recycled metal, and which one it is
stated. Both are bounds for the same per-limit split of each heat's risk the plan holds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import highspy
import numpy as np

from blending.campaign import (
    CampaignPlan,
    Heat,
    HeatPlan,
    OptimalityGap,
    _heat_plan,
    _totals,
    heat_classes,
    heat_model,
    joint_campaign,
    joint_program,
)
from blending.errors import InputError, SolverError
from blending.lot import Lot
from blending.optimise import LEXICOGRAPHIC_TOLERANCE, solve
from blending.recipe import DEFAULT_DRAWS
from blending.solver.highs import HIGHS_LP_OPTIONS, stdout_to_stderr
from blending.solver.outer_approximation import Lifted
from blending.solver.program import CONE_TOLERANCE_WT_PCT, MILP_TIE_BREAK, ConeStack

# Wall-clock budget of the MILP solves of a bale plan [s] (issue 31: 50 heats in 60 s in all).
BALE_TIME_LIMIT_S = 45.0
# Relative gap on the MILP's objective at which HiGHS may stop [-].
BALE_MIP_GAP = 1e-4
# HiGHS's default tolerances in the MILP: it only proposes bale counts and a bound, the plan at
# those counts is solved exactly afterwards; at 1e-10 HiGHS spent 26 s in the root node of 5 heats.
BALE_MILP_OPTIONS = {"primal_feasibility_tolerance": 1e-7, "dual_feasibility_tolerance": 1e-7,
                     "mip_feasibility_tolerance": 1e-6}
# Most bale counts (heats x lots in bales) left to the exact MILP rounds of joint_campaign; beyond
# them the search below (one heat of the 200-lot yard in bales took that path 9 s to over 5 min).
EXACT_MAX_BALE_VARIABLES = 60
# Shares of a heat's bales kept, in turn, when neither its bale counts nor its own MILP give a plan.
SHRINK = (0.9, 0.75, 0.5, 0.0)
# Passes of the spare bales over the heats (the second gains where a swap left room for more).
FILL_PASSES = 2
# Most spare lots offered to a heat (its class's most used in the loose plan), each one LP.
MAX_FILL_LOTS = 30
# Largest number of bale counts the campaign MILP is tried on: at 10 heats x 200 baled lots (2,000)
# HiGHS took 34 s wall (16 s CPU) in the root node to move the bound 0.09% below the loose plan's
# and found no better plan than the rounding; at 25 heats it had not solved the root LP in 45 s.
BALE_MILP_MAX_INTEGERS = 1000
# Most MILP solves (each after cutting the previous one's solution).
MAX_BALE_ROUNDS = 8


def searches_bales(heats: Sequence[Heat], lots: Sequence[Lot]) -> bool:
    """Whether a campaign's bales are searched for (:func:`baled_campaign`, gap stated) rather than
    chosen by the exact MILP of :func:`blending.campaign.joint_campaign`: more bale counts than
    ``EXACT_MAX_BALE_VARIABLES``."""
    baled = sum(lot.unit_kg is not None for lot in lots)
    return baled > 0 and len(heats) * baled > EXACT_MAX_BALE_VARIABLES


def baled_campaign(heats: Sequence[Heat], lots: Sequence[Lot], *, draws: int = DEFAULT_DRAWS, seed: int = 0,
                   on_stage: Callable[[str], None] | None = None, time_limit_s: float = BALE_TIME_LIMIT_S,
                   mip_gap: float = BALE_MIP_GAP) -> CampaignPlan:
    """Every heat charged together from ``lots``, lots with ``unit_kg`` in whole bales.

    Returns the plan (most recycled metal, then least cost at it, over the bale counts found)
    with its :class:`~blending.campaign.OptimalityGap` in ``gap`` (None when no plan was found). The MILP shares
    ``time_limit_s`` [s, wall clock, counted from the start of the loose plan] with the rest;
    HiGHS stops earlier at a relative gap ``mip_gap``. Status ``"optimal"`` means a plan that
    holds every chance constraint exactly, with its gap stated (not necessarily zero);
    ``"infeasible"`` (even with every lot loose) or ``"failed"`` (numerical trouble; the message
    names the stage).
    """
    if not heats:
        raise InputError("the schedule lists no heats")
    step = on_stage or (lambda name: None)
    start = time.perf_counter()
    lots = tuple(lots)
    loose_lots = [replace(lot, unit_kg=None) for lot in lots]
    loose = joint_campaign(heats, loose_lots, draws=0, on_stage=on_stage)
    if loose.status != "optimal":
        return replace(loose, lots=lots, message="even with every lot as loose material: " + loose.message,
                       heats=tuple(HeatPlan(h, None, None) for h in heats), recycled_kg=0.0, cost=0.0,
                       co2e_kg=0.0)
    models = [heat_model(h, lots).with_confidence(hp.limit_confidence)
              for h, hp in zip(heats, loose.heats, strict=True)]
    unit = np.array([lot.unit_kg is not None for lot in lots])
    # 1. the loose plan's bales handed out heat by heat, each heat then solved exactly under them
    step("bales: the loose plan in whole bales")
    counts = _spread_bales(heats, loose_lots, lots, loose)
    best = _exact_heats(models, _caps(models, counts, loose, unit), step)
    found = "the loose plan in whole bales" if best is not None else ""
    if best is not None:
        # bales no heat took (rounded off or dropped by the repairs) offered to heats with room
        used = np.array([s.v for s in best])
        max_units = np.array([lot.max_units or 0 for lot in lots], dtype=float)
        spare = np.where(unit, np.maximum(max_units - used.sum(axis=0), 0.0), 0.0)
        classes = heat_classes(heats, loose_lots)
        for _ in range(FILL_PASSES):
            before = _recycled_kg(best)
            best = _fill(models, best, spare, [_class_lots(loose, c, len(heats)) for c in classes],
                         {j: ci for ci, c in enumerate(classes) for j in c.heats}, step)
            if _recycled_kg(best) <= before:
                break
        found += ", spare bales added"
    # 2. one MILP over every heat with the cones as tangent cuts, started from that plan
    total = sum(h.mass_kg for h in heats)
    # the loose plan's cost stage may give up LEXICOGRAPHIC_TOLERANCE of its recycled metal [kg/kg]
    bound, source = loose.recycled_kg + LEXICOGRAPHIC_TOLERANCE * total, "loose plan"
    milp_rounds, failure = 0, ""
    if len(heats) * int(unit.sum()) <= BALE_MILP_MAX_INTEGERS:
        best, found, bound, source, milp_rounds, failure = _milp_rounds(
            models, loose, best, found, bound, source, start, time_limit_s, mip_gap, step)
    seconds = time.perf_counter() - start
    if best is None:
        status = "failed" if failure else "infeasible"
        message = failure or "no whole numbers of bales give a plan that holds every chance constraint"
        return CampaignPlan("joint", status, lots, tuple(HeatPlan(h, None, None) for h in heats), 0.0, 0.0, 0.0,
                            message)
    plans = []
    for k, (heat, sol) in enumerate(zip(heats, best, strict=True)):
        step(f"recipes: heat {k + 1} of {len(heats)}")
        plans.append(_heat_plan(sol.model, heat, sol.v, draws, seed))
    recycled_kg, cost_usd, co2e_kg = _totals(lots, [p.x_kg for p in plans])
    gap = OptimalityGap(recycled_kg, bound, source, loose.recycled_kg, found, milp_rounds, seconds)
    return CampaignPlan("joint", "optimal", lots, tuple(plans), recycled_kg, cost_usd, co2e_kg, failure, gap)


def _milp_rounds(models, loose: CampaignPlan, best, found: str, bound: float, source: str, start: float,
                 time_limit_s: float, mip_gap: float, step):
    """Outer-approximation rounds of the campaign MILP (module docstring, step 2) until the time is
    spent, the gap closes or the MILP's point holds every cone; each round's bale counts solved
    exactly heat by heat. Returns (best, found, bound, source, rounds, failure message)."""
    lp, recycled, cost = joint_program(models)
    heats = [hp.heat for hp in loose.heats]
    total = sum(h.mass_kg for h in heats)
    N = lp.c.size
    integer = lp.integrality.astype(bool)
    unit = models[0].integrality.astype(bool)
    stack = ConeStack(lp.cones, N)
    lifted = Lifted(replace(lp, c=-recycled + MILP_TIE_BREAK * cost), lp.lower, lp.upper)
    all_cones = np.arange(len(lp.cones))
    # tangents at the loose optimum and at the plan found: where the best bale plans' cones are
    v_loose = np.concatenate([m.variables(hp.x_kg) for m, hp in zip(models, loose.heats, strict=True)])
    lifted.separate(_lift(lifted, v_loose), 0.0, all_cones)
    if best is not None:
        lifted.separate(_lift(lifted, _stack_v(best)), 0.0, all_cones)
    least_yield = min(float(m.metal_yield.min()) for m in models)
    # any plan's cost per kg of campaign is below this (charge <= liquid / least yield), so the
    # tie-break moves the MILP's dual bound on the recycled metal by at most MILP_TIE_BREAK x it
    cost_cap = (max(float(lot.material.cost_per_kg) for lot in models[0].lots) / least_yield
                * max(1 + m.melt.mass_tolerance_kg / m.melt.mass_kg for m in models))
    rounds_done, failure = 0, ""
    while rounds_done < MAX_BALE_ROUNDS:
        left = time_limit_s - (time.perf_counter() - start)
        if left <= 0 or (best is not None and bound - _recycled_kg(best) <= mip_gap * abs(bound)):
            break
        rounds_done += 1
        step(f"bales: MILP over {len(heats)} heats, round {rounds_done}")
        warm = None if best is None else _stack_v(best)[integer]
        try:
            x, dual_bound = _solve_milp(lifted, integer, left, mip_gap, warm)
        except SolverError as exc:
            failure = f"the bale MILP failed ({exc}); the plan shown is the best found before"
            break
        if dual_bound is not None and math.isfinite(dual_bound):
            milp_bound = (-dual_bound + MILP_TIE_BREAK * cost_cap) * total
            if milp_bound < bound:
                bound, source = milp_bound, "MILP dual bound"
        if x is None:
            break
        v = x[:N]
        violated = np.flatnonzero(stack.values(v) > CONE_TOLERANCE_WT_PCT)
        if violated.size:       # cut where the MILP's point leaves the cones, for the next round
            lifted.separate(x, CONE_TOLERANCE_WT_PCT, violated)
        step(f"bales: exact heats at the MILP's bale counts, round {rounds_done}")
        trial = _exact_heats(models, _caps_from_v(models, v, unit), step)
        if trial is not None and (best is None or _better(trial, best)):
            best, found = trial, f"MILP round {rounds_done}"
        if violated.size == 0:
            break               # the MILP's own point holds every cone: more rounds cannot move it
    return best, found, bound, source, rounds_done, failure


def _recycled_kg(sols) -> float:
    return -np.inf if sols is None else sum(float(s.model.terms["recycled"] @ s.v) * s.model.melt.mass_kg
                                            for s in sols)


def _cost(sols) -> float:
    return sum(float(s.model.terms["cost"] @ s.v) * s.model.melt.mass_kg for s in sols)


def _better(new, old) -> bool:
    a, b = _recycled_kg(new), _recycled_kg(old)
    hold = LEXICOGRAPHIC_TOLERANCE * max(1.0, abs(b))
    return a > b + hold or (a >= b - hold and _cost(new) < _cost(old))


def _stack_v(sols) -> np.ndarray:
    return np.concatenate([s.v for s in sols])


def _spread_bales(heats: Sequence[Heat], loose_lots, lots: Sequence[Lot], loose: CampaignPlan) -> np.ndarray:
    """Bale counts per heat and lot (heats x lots) from the loose plan: each class of identical heats
    takes its loose total of each lot in whole bales (rounded down, then the bales left over in a
    lot go to the classes with the largest remainders), handed out over the class's heats in
    proportion to their mass, remainders to the heats with the least bale mass so far."""
    H, n = len(heats), len(lots)
    counts = np.zeros((H, n))
    classes = heat_classes(heats, loose_lots)
    use = np.array([hp.x_kg for hp in loose.heats])                 # heats x lots [kg]
    for i, lot in enumerate(lots):
        if lot.unit_kg is None:
            continue
        want = np.array([use[list(c.heats), i].sum() for c in classes]) / lot.unit_kg
        whole = np.floor(want + 1e-9)
        spare = (lot.max_units if lot.max_units is not None else math.inf) - whole.sum()
        for c in np.argsort(-(want - whole)):
            if spare < 1 or want[c] - whole[c] < 0.5:
                break
            whole[c] += 1
            spare -= 1
        for c, b in zip(classes, whole, strict=True):
            counts[list(c.heats), i] = _hand_out(int(b), [heats[j].mass_kg for j in c.heats],
                                                 counts[list(c.heats)].sum(axis=1))
    return counts


def _hand_out(bales: int, masses: Sequence[float], have: np.ndarray) -> np.ndarray:
    """``bales`` split over heats of ``masses`` [kg] in proportion, remainders to the heats with the
    fewest bales so far (``have``), so that no heat collects every lot's odd bale."""
    share = bales * np.asarray(masses) / sum(masses)
    out = np.floor(share + 1e-9)
    for j in np.lexsort((-(share - out), have))[:bales - int(out.sum())]:
        out[j] += 1
    return out


def _caps(models, counts: np.ndarray, loose: CampaignPlan, unit: np.ndarray) -> list[np.ndarray]:
    """Each heat's most of each limited lot in its own variables: its bales, or its loose use."""
    caps = []
    for m, row, hp in zip(models, counts, loose.heats, strict=True):
        caps.append(np.where(unit, row, m.variables(hp.x_kg)))
    return caps


def _caps_from_v(models, v: np.ndarray, unit: np.ndarray) -> list[np.ndarray]:
    n = models[0].n
    return [np.where(unit, np.round(v[k * n:(k + 1) * n]), np.maximum(v[k * n:(k + 1) * n], 0.0))
            for k in range(len(models))]


def _exact_heats(models, caps: Sequence[np.ndarray], step) -> list | None:
    """Each heat solved exactly (most recycled, then cheapest) with at most ``caps`` of each lot
    with limited stock (bales as counts): first at exactly its bale counts (an LP), and only
    when those break a chance constraint with fewer of them (the heat's own MILP; letting it
    swap in other bales as well cost 40 to 150 s a heat on the 200-lot yard). The caps keep the
    heats together within the stock. None when a heat has no plan even so."""
    out = []
    for k, (m, cap) in enumerate(zip(models, caps, strict=True)):
        limited = np.isfinite(m.upper)
        unit = m.integrality.astype(bool)
        # bales are capped at their counts even when bought to order (no stock row)
        upper = np.where(limited | unit, np.minimum(m.upper, cap), m.upper)
        fixed = replace(m, lower=np.where(unit, upper, m.lower), upper=upper,
                        integrality=np.zeros_like(m.integrality))
        try:
            sol = solve(fixed, "recycled")
            if sol.status != "optimal":
                step(f"bales: heat {k + 1} needs fewer bales")
                sol = solve(replace(m, upper=upper), "recycled")
            # the MILP's counts can miss the exact cones by its tolerance; then fewer bales of
            # every lot, down to none (the additions bought to order alone)
            for share in SHRINK if sol.status != "optimal" else ():
                less = np.where(unit, np.floor(upper * share), upper)
                sol = solve(replace(fixed, lower=np.where(unit, less, m.lower), upper=less), "recycled")
                if sol.status == "optimal":
                    break
        except SolverError:
            return None
        if sol.status != "optimal":
            return None
        # the counts as the model's own (integral) variables, so the recipe shows whole bales
        out.append(replace(sol, model=m, v=np.where(unit, np.round(sol.v), sol.v)))
    return out


def _class_lots(loose: CampaignPlan, c, n_heats: int) -> np.ndarray:
    """The lots a class of heats uses in the loose plan, most used first (positions)."""
    use = sum(loose.heats[j].x_kg for j in c.heats)
    order = np.argsort(-use)
    return order[use[order] > 0]


def _fill(models, sols: list, spare: np.ndarray, class_lots: Sequence[np.ndarray], class_of: dict,
          step) -> list:
    """Heat after heat, one more bale of a spare lot its class uses in the loose plan, most used
    first, wherever the additions bought to order leave room for its metal and the heat stays
    exactly feasible (an LP at the new counts) and gains recycled metal; where there is no room
    for a whole bale, a swap of one of the heat's bales for a heavier spare one that fits."""
    out = []
    for k, (m, sol) in enumerate(zip(models, sols, strict=True)):
        unit = m.integrality.astype(bool)
        limited = np.isfinite(m.upper)
        metal = m.metal_yield * m.kg_per_unit        # liquid metal of one bale (loose: per unit) [kg]
        step(f"bales: spare bales for heat {k + 1} of {len(models)}")
        for i in class_lots[class_of[k]][:MAX_FILL_LOTS]:
            if not unit[i] or spare[i] < 1:
                continue
            room = float((m.metal_yield * m.kg(sol.v))[~limited].sum())   # liquid from bought metal [kg]
            v = sol.v.copy()
            v[i] += 1
            out_lot = None
            if room < metal[i]:
                # the heat's bale whose removal leaves the least unused room, if any fits
                gain = metal[i] - np.where(unit & (sol.v >= 1), metal, np.inf)
                gain[i] = -np.inf
                fits = np.flatnonzero((gain > 0) & (gain <= room))
                if fits.size == 0:
                    continue
                out_lot = int(fits[np.argmax(gain[fits])])
                v[out_lot] -= 1
            trial = _at_counts(m, sol, v, unit, limited)
            if trial is not None and trial.stage_values[0] < sol.stage_values[0] - 1e-12:
                sol = trial
                spare[i] -= 1
                if out_lot is not None:
                    spare[out_lot] += 1
        out.append(sol)
    return out


def _at_counts(m, sol, v: np.ndarray, unit: np.ndarray, limited: np.ndarray):
    """The heat solved exactly with its bales fixed at ``v`` and its loose limited lots at most
    what ``sol`` had; None when that breaks a limit."""
    upper = np.where(unit, v, np.where(limited, np.minimum(m.upper, sol.v), m.upper))
    try:
        trial = solve(replace(m, lower=np.where(unit, v, m.lower), upper=upper,
                              integrality=np.zeros_like(m.integrality)), "recycled")
    except SolverError:
        return None
    if trial.status != "optimal":
        return None
    return replace(trial, model=m, v=np.where(unit, np.round(trial.v), trial.v))


def _lift(lifted: Lifted, v: np.ndarray) -> np.ndarray:
    """The extended point of ``v``: tau from its defining rows, each cut small cone's rho at
    w^2 / tau. When ``v`` holds every chance constraint this point holds every tangent cut."""
    x = np.zeros(lifted.n_cols)
    x[:lifted.n] = v
    for k, col in lifted.tau_col.items():
        c = lifted.lp.cones[k]
        x[col] = -(c.a @ v + c.a0) / c.z
    have = np.flatnonzero(lifted.rho_col >= 0)
    tau = x[lifted.pair_tau[have]]
    i = lifted.pair_i[have]
    w = np.where(i >= 0, lifted.pair_d[have] * v[np.maximum(i, 0)], lifted.pair_d[have])
    with np.errstate(divide="ignore", invalid="ignore"):
        x[lifted.rho_col[have]] = np.where(tau > 0, w * w / tau, 0.0)
    return x


def _solve_milp(lifted: Lifted, integer: np.ndarray, time_limit_s: float, mip_gap: float,
                warm: np.ndarray | None) -> tuple[np.ndarray | None, float | None]:
    """The MILP on the lifted model's HiGHS instance: (its best solution or None, its dual bound)."""
    h = lifted.h
    cols = np.flatnonzero(integer).astype(np.int32)
    h.changeColsIntegrality(cols.size, cols, np.full(cols.size, highspy.HighsVarType.kInteger))
    for key, value in BALE_MILP_OPTIONS.items():
        h.setOptionValue(key, value)
    h.setOptionValue("presolve", "on")
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    try:
        if warm is not None:
            h.setSolution(cols.size, cols, np.asarray(warm, dtype=float))
        with stdout_to_stderr():
            h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        dual = float(info.mip_dual_bound)
        if status == highspy.HighsModelStatus.kInfeasible:
            return None, math.inf
        if info.primal_solution_status != 2:       # no feasible MILP solution (e.g. out of time)
            return None, dual
        return np.array(h.getSolution().col_value), dual
    finally:
        h.changeColsIntegrality(cols.size, cols, np.full(cols.size, highspy.HighsVarType.kContinuous))
        h.setOptionValue("time_limit", math.inf)
        for key, value in HIGHS_LP_OPTIONS.items():
            h.setOptionValue(key, value)
        h.clearSolver()
