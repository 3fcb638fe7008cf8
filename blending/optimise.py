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

from blending.chance import CutSolution, solve_stages
from blending.charge_model import ChargeModel

# Slack allowed on an earlier stage's optimum when a later stage breaks its ties [-, relative].
LEXICOGRAPHIC_TOLERANCE = 1e-7
OBJECTIVES = ("recycled", "cost", "co2")


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
            raise ValueError(f"objective {name!r} is not one of {', '.join(OBJECTIVES)}")
        return cls(table[name], name)

    @classmethod
    def weighted(cls, *, recycled: float = 0.0, cost: float = 0.0, co2: float = 0.0) -> Objective:
        """Minimise ``-recycled * R + cost * C + co2 * E``, then cost as tie-break."""
        if recycled == cost == co2 == 0:
            raise ValueError("a weighted objective needs at least one non-zero weight")
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


def solve(model: ChargeModel, objective: Objective | str = "recycled") -> Solution:
    """Solve the model's chance-constrained program for ``objective`` (lexicographic stages)."""
    if isinstance(objective, str):
        objective = Objective.named(objective)
    lp = model.program(objective.vector(model, 0))
    stages = [objective.vector(model, k) for k in range(len(objective.stages))]
    results = solve_stages(lp, stages, hold=LEXICOGRAPHIC_TOLERANCE)
    first = results[0]
    if first.status != "optimal":
        return Solution(model, "infeasible", None, first=first, rounds=first.rounds, objective=objective)
    last = results[-1]
    return Solution(model, "optimal", last.v, tuple(r.objective for r in results), first, last.rounds, objective)


def optimise(model: ChargeModel, objective: Objective | str = "recycled", *, risk_rounds: int = 3) -> Solution:
    """Solve, and with a joint confidence reallocate the risk between limits.

    Bonferroni gives each uncertain limit the risk (1 - alpha) / K. Any split whose
    risks sum to at most 1 - alpha guarantees the joint probability (Boole's
    inequality), so after a solve each limit that is slack keeps only the risk it
    actually runs (doubled, for room, and at least a tenth of its share) and the rest goes to the binding limits; the
    recipe is re-solved, up to ``risk_rounds`` times while recycled content improves.
    """
    solution = solve(model, objective)
    if model.joint_confidence is None or solution.status != "optimal" or risk_rounds <= 0:
        return solution
    budget = 1 - model.joint_confidence
    stochastic = model.stochastic()
    best = solution
    current = model
    for round_ in range(1, risk_rounds + 1):
        v = best.v
        risk = np.array([norm.sf(-c.mean(v) / c.sd(v)) if s and c.sd(v) > 0 else 0.0
                         for c, s in zip(current.cones, stochastic, strict=True)])
        eps = 1 - np.array(current.confidence)
        binding = stochastic & (risk >= 0.5 * eps)
        if not binding.any() or binding.sum() == stochastic.sum():
            break
        # a slack limit keeps twice the risk it runs, but at least a tenth of its share,
        # so that it does not turn binding with a huge z in the next solve
        slack_risk = np.where(stochastic & ~binding, np.minimum(eps, np.maximum(2 * risk, eps / 10)), 0.0)
        share = (budget - slack_risk.sum()) / binding.sum()
        if share <= eps[binding].min():
            break
        new_eps = np.where(binding, share, slack_risk)
        conf = [1 - e if s else 0.5 for e, s in zip(new_eps, stochastic, strict=True)]
        candidate = current.with_confidence(conf)
        trial = solve(candidate, objective)
        if trial.status != "optimal" or trial.stage_values[0] > best.stage_values[0] - 1e-12:
            break
        best = Solution(trial.model, trial.status, trial.v, trial.stage_values, trial.first,
                        trial.rounds, trial.objective, round_)
        current = candidate
    return best
