"""Choosing the charge: objectives, lexicographic solves and joint-risk allocation.

Maximising recycled content is solved lexicographically: first the largest recycled
share, then the cheapest charge that keeps it (to a relative 1e-7), rather than a
weighted sum that could trade recycled metal for money.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import norm

from blending.chance import joint_lower_bound
from blending.charge_model import ChargeModel
from blending.errors import InputError
from blending.solver.cutting_planes import solve_stages
from blending.solver.outer_approximation import CutPool
from blending.solver.program import CutSolution

# Slack allowed on an earlier stage's optimum when a later stage breaks its ties [-, relative].
LEXICOGRAPHIC_TOLERANCE = 1e-7
OBJECTIVES = ("recycled", "cost", "co2")
# Least risk a limit is given when the joint risk is split [share of 1 - joint confidence]:
# a limit far inside its window keeps a sensible z instead of turning binding at z = 7.
RISK_FLOOR = 1e-3


@dataclass(frozen=True)
class Objective:
    """A sequence of stages, each minimising a weighted sum of the model's terms.

    Terms: ``recycled`` [kg recycled metal/kg melt], ``cost`` [USD/kg melt], ``co2``
    [kg CO2e/kg melt]. A weight is per unit of its term; a negative weight maximises.
    """

    stages: tuple[Mapping[str, float], ...]
    name: str = ""

    @classmethod
    def named(cls, name: str) -> Objective:
        """``recycled`` (then cost), ``cost`` (then recycled) or ``co2`` (then cost)."""
        table = {
            "recycled": ({"recycled": -1.0}, {"cost": 1.0}),
            "cost": ({"cost": 1.0}, {"recycled": -1.0}),
            "co2": ({"co2": 1.0}, {"cost": 1.0}),
        }
        if name not in table:
            raise InputError(f"objective {name!r} is not one of {', '.join(OBJECTIVES)}")
        return cls(table[name], name)

    @classmethod
    def weighted(cls, *, recycled: float = 0.0, cost: float = 0.0, co2: float = 0.0) -> Objective:
        """Minimise ``-recycled * R + cost * C + co2 * E``, then cost as tie-break."""
        if recycled == cost == co2 == 0:
            raise InputError("a weighted objective needs at least one non-zero weight")
        weights = {k: w for k, w in (("recycled", -recycled), ("cost", cost), ("co2", co2)) if w}
        return cls((weights, {"cost": 1.0}), "weighted")

    def vector(self, model: ChargeModel, stage: int) -> np.ndarray:
        return sum((w * model.terms[t] for t, w in self.stages[stage].items()), np.zeros(model.n))


@dataclass(frozen=True)
class Solution:
    """The variables chosen and what the solver learnt on the way."""

    model: ChargeModel
    status: str                           # "optimal" or "infeasible"
    v: np.ndarray | None
    stage_values: tuple[float, ...] = ()  # objective of each stage
    first: CutSolution | None = None      # stage 1, with its duals (shadow prices)
    rounds: int = 0                       # cutting-plane rounds over all stages
    objective: Objective | None = None
    risk_rounds: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def x_kg(self) -> np.ndarray:
        return self.model.kg(self.v)


def solve(model: ChargeModel, objective: Objective | str = "recycled", *, pool: CutPool | None = None) -> Solution:
    """Solve the model's chance-constrained program for ``objective`` (lexicographic stages).

    ``pool``: cutting planes carried between solves of models with the same limits over the
    same lots (see :class:`blending.solver.outer_approximation.CutPool`)."""
    if isinstance(objective, str):
        objective = Objective.named(objective)
    lp = model.program(objective.vector(model, 0))
    stages = [objective.vector(model, k) for k in range(len(objective.stages))]
    results = solve_stages(lp, stages, hold=LEXICOGRAPHIC_TOLERANCE, pool=pool)
    first = results[0]
    if first.status != "optimal":
        return Solution(model, "infeasible", None, first=first, rounds=first.rounds, objective=objective)
    last = results[-1]
    return Solution(model, "optimal", last.v, tuple(r.objective for r in results), first, last.rounds, objective)


def optimise(model: ChargeModel, objective: Objective | str = "recycled", *, risk_rounds: int = 6) -> Solution:
    """Solve, and with a joint confidence allocate the risk between limits.

    Any split of the risk 1 - alpha whose parts sum to at most 1 - alpha guarantees the
    joint probability (Boole's inequality); Bonferroni's equal split is the start. Each
    round then tries two splits and keeps the better recipe:

    * the risks the current recipe actually runs, scaled up to use the whole budget:
      the current recipe stays feasible, so this never loses;
    * the split that equalises the marginal value of risk between binding limits.
      Relaxing limit k's risk by d eps moves its bound by sd_k / phi(z_k) d eps, worth
      its shadow price lambda_k per wt%, so lambda_k sd_k / phi(z_k) = const (optimal
      risk allocation, Prekopa, Stochastic Programming, 1995); slack limits keep twice
      the risk they run.

    Rounds stop when the first stage (recycled content) no longer improves, or after
    ``risk_rounds``. The split is not convex, so besides Bonferroni's the rounds also
    start from the risks run by the deterministic recipe aimed least far inside the
    limits (the plant's usual practice; found by bisection up to 45% of each range)
    whose joint probability bound meets the figure: the chance-constrained recipe is
    then at least as good as that practice.
    """
    solution = solve(model, objective)
    if model.joint_confidence is None or risk_rounds <= 0:
        return solution
    budget = 1 - model.joint_confidence
    stochastic = model.stochastic()
    starts = [solution] if solution.status == "optimal" else []
    # the least tightening whose deterministic recipe meets the joint figure (bisection)
    lo, hi = 0.0, 0.45
    found = _practice_risk(model, objective, hi, stochastic, budget)
    for _ in range(6 if found is not None else 0):
        mid = 0.5 * (lo + hi)
        eps = _practice_risk(model, objective, mid, stochastic, budget)
        if eps is not None:
            found, hi = eps, mid
        else:
            lo = mid
    if found is not None:
        candidate = model.with_confidence([min(1 - e, 1 - 1e-15) if s else 0.5
                                           for e, s in zip(found, stochastic, strict=True)])
        trial = solve(candidate, objective)
        if trial.status == "optimal":
            starts.append(trial)
    if not starts:
        return solution
    best = min(starts, key=lambda t: t.stage_values[0])
    current = best.model
    for round_ in range(1, risk_rounds + 1):
        improved = False
        for new_eps in (_scaled_risk(current, best, stochastic, budget),
                        _allocate_risk(current, best, stochastic, budget)):
            if new_eps is None:
                continue
            conf = [min(1 - e, 1 - 1e-15) if s else 0.5 for e, s in zip(new_eps, stochastic, strict=True)]
            candidate = current.with_confidence(conf)
            trial = solve(candidate, objective)
            if trial.status == "optimal" and trial.stage_values[0] < best.stage_values[0] - 1e-7 * max(
                    1.0, abs(best.stage_values[0])):
                best = Solution(trial.model, trial.status, trial.v, trial.stage_values, trial.first,
                                trial.rounds, trial.objective, round_)
                current, improved = candidate, True
        if not improved:
            break
    return best


def _practice_risk(model: ChargeModel, objective: Objective | str, fraction: float, stochastic: np.ndarray,
                   budget: float) -> np.ndarray | None:
    """Risks run by the deterministic recipe aimed ``fraction`` inside the limits, scaled to
    spend ``budget``; None when that recipe runs more risk than the budget allows."""
    if model.spec.aim:
        return None
    from blending.charge_model import build_charge_model

    options = {k: v for k, v in model.options.items() if k != "aim"}
    try:
        practice = build_charge_model(model.lots, model.melt, model.spec.tightened(fraction), confidence=0.5,
                                      **options)
    except ValueError:
        return None
    if len(practice.limits) != len(model.limits):
        return None
    recipe = solve(practice, objective)
    if recipe.status != "optimal":
        return None
    risk, _ = _actual_risk(model, model.variables(practice.kg(recipe.v)), stochastic)
    return fit_risk_shape(model, np.where(stochastic, np.maximum(risk, RISK_FLOOR * budget), 0.0))


def _actual_risk(model: ChargeModel, v: np.ndarray, stochastic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sd = np.array([c.sd(v) for c in model.cones])
    mean = np.array([c.mean(v) for c in model.cones])
    with np.errstate(divide="ignore", invalid="ignore"):
        risk = np.where(stochastic & (sd > 0), norm.sf(-mean / sd), 0.0)
    return risk, sd


def _scaled_risk(model: ChargeModel, solution: Solution, stochastic: np.ndarray, budget: float):
    """The risks the solution runs, floored at 1e-12 and scaled up to the joint figure."""
    risk, _ = _actual_risk(model, solution.v, stochastic)
    return fit_risk_shape(model, np.where(stochastic, np.maximum(risk, RISK_FLOOR * budget), 0.0))


def fit_risk_shape(model: ChargeModel, shape: np.ndarray, target: float | None = None) -> np.ndarray | None:
    """``s * shape`` (per-limit risks) with the largest s whose joint lower bound still meets
    ``target`` (default: the model's joint confidence); None when even ``shape`` itself does not."""
    groups = [lim.elements for lim in model.limits]
    target = model.joint_confidence if target is None else target

    def ok(scale: float) -> bool:
        return joint_lower_bound(groups, np.minimum(scale * shape, 0.5)) >= target

    if not ok(1.0):
        return None
    lo, hi = 1.0, 2.0
    while ok(hi) and hi < 1e12:
        lo, hi = hi, 2 * hi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return np.minimum(lo * shape, 0.5 - 1e-12)


def _allocate_risk(model: ChargeModel, solution: Solution, stochastic: np.ndarray, budget: float):
    """Risk per limit for the next solve, or None when there is nothing to move."""
    duals = solution.first.cone_marginals if solution.first is not None else None
    if duals is None:
        return None
    risk, sd = _actual_risk(model, solution.v, stochastic)
    eps = 1 - np.array(model.confidence)
    price = np.maximum(-duals, 0.0)
    # limits whose shadow price is below a thousandth of the largest are treated as slack
    binding = stochastic & (price > 1e-3 * price.max(initial=0.0)) & (price > 0) & (sd > 0)
    if not binding.any():
        return None
    slack = stochastic & ~binding
    slack_risk = np.where(slack, np.minimum(eps, np.maximum(2 * risk, RISK_FLOOR * budget)), 0.0)
    groups = [lim.elements for lim in model.limits]
    if joint_lower_bound(groups, slack_risk) < model.joint_confidence:
        return None
    gain = price[binding] * sd[binding]  # times 1 / phi(z): value of a unit of risk

    def spent(log_c: float) -> np.ndarray:
        # phi(z) = c * gain  ->  z = sqrt(-2 ln(c gain sqrt(2 pi)))
        arg = np.exp(log_c) * gain * np.sqrt(2 * np.pi)
        z = np.sqrt(np.maximum(-2 * np.log(np.minimum(arg, 1.0)), 0.0))
        return norm.sf(z)

    def with_share(log_c: float) -> np.ndarray:
        out = slack_risk.copy()
        out[binding] = np.minimum(spent(log_c), 0.5 - 1e-12)
        return out

    lo, hi = -200.0, 200.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if joint_lower_bound(groups, with_share(mid)) < model.joint_confidence:
            hi = mid
        else:
            lo = mid
    return with_share(lo)
