"""The joint probability that a melt meets every limit, and risk allocation calibrated on it.

:func:`blending.optimise.optimise` meets a joint confidence alpha through a lower
bound (:func:`blending.chance.joint_lower_bound`): exact for limits on single
elements, Boole's inequality for limits on sums of elements, and a floor of risk on
limits far from binding. The recipe is then safe but a little conservative (a joint
probability of 0.951 for 0.95 asked). This module computes the joint probability
itself and spends exactly the risk asked.

Joint probability (:class:`JointProbability`). Under the model's assumption the
melt's element contents m_e are independent normal variables (each element's mass
is a sum over lots of independent normal variables). Group the limits on one
element into an interval [lo_e, hi_e]; then, with S the event that every such
interval holds and C that every limit on a sum of elements (Mn+Cr, others total,
Al by difference) holds,

    P(all) = P(S) - P(S and not C),     P(S) = prod_e [Phi((hi_e - mu_e)/s_e) - Phi((lo_e - mu_e)/s_e)]

P(S) is exact. P(S and not C) is at most the summed risk of the limits on sums
(each a sum of independent normals, so exact); below ``NEGLIGIBLE_RISK`` that sum is
subtracted as it is, otherwise P(S and not C) is a Monte Carlo estimate on a fixed
set of standard normal draws (common random numbers): a repeatable function of the
recipe whose standard error sqrt(q (1 - q) / N) is far below that of plain Monte
Carlo on P(all), because q is small.

Calibrated allocation (:func:`optimise_calibrated`). Any per-limit split of the
risk eps_k gives a chance-constrained recipe x*(eps). The search keeps a shape
of the split and bisects its scale s so that P_joint(x*(s shape)) = alpha: the
recycled content is non-decreasing in s (a larger risk only loosens the cones),
so the largest scale that still meets alpha is the best recipe of that shape.
Shapes tried: the risks run by the bound-based recipe; the risks run by the
deterministic recipe aimed inside the spec by a fixed fraction of each range
(:meth:`blending.spec.Spec.tightened`), at the fraction whose joint probability
is alpha (so the calibrated recipe recycles at least as much as that practice at
equal compliance: its recipe is feasible for its own risks); then, round by round,
the risks the best recipe so far runs (Prekopa, Stochastic Programming, 1995,
ch. 10 on the allocation of risk between individual chance constraints).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import norm

from blending.charge_model import ChargeModel, ChemistryLimit, build_charge_model, chemistry_limits
from blending.optimise import Objective, Solution, optimise, solve
from blending.recipe import melt_chemistry

# Draws of the Monte Carlo part of the joint probability (limits on sums of elements).
JOINT_DRAWS = 200_000
JOINT_SEED = 20_260_505
# Below this summed risk of the limits on sums of elements, their part is taken as
# exactly that risk (an upper bound of it) without drawing [-].
NEGLIGIBLE_RISK = 1e-9
# Bisection on the scale of a risk split stops when hi / lo is below 1 + this.
SCALE_TOLERANCE = 1e-4
# Most tightening of the deterministic practice searched [fraction of each range].
MAX_TIGHTENING = 0.45
ALLOCATIONS = ("bound", "calibrated")


@dataclass(frozen=True)
class JointEstimate:
    """Joint probability that every limit holds [-] and its Monte Carlo standard error [-]."""

    probability: float
    standard_error: float


class JointProbability:
    """P(every limit holds) for recipes of one model, on fixed draws (common random numbers).

    Parameters
    ----------
    model : ChargeModel
        Lots, melt and elements of the heat.
    limits : sequence of ChemistryLimit, optional
        The limits judged; by default those of the specification itself (not the aim
        limits), as a customer's certificate would judge the melt.
    draws : int
        Standard normal draws for the part on sums of elements.
    seed : int
        Seed of those draws.
    """

    def __init__(self, model: ChargeModel, limits: Sequence[ChemistryLimit] | None = None, *,
                 draws: int = JOINT_DRAWS, seed: int = JOINT_SEED):
        if draws < 1:
            raise ValueError(f"draws {draws} must be at least 1")
        self.model = model
        self.limits = tuple(chemistry_limits(model.spec, model.elements, aim=False) if limits is None else limits)
        index = {e: j for j, e in enumerate(model.elements)}
        m = len(model.elements)
        self._lo = np.full(m, -np.inf)
        self._hi = np.full(m, np.inf)
        self._single = np.zeros(m, dtype=bool)
        coupled = []
        for lim in self.limits:
            cols = [index[e] for e in lim.elements]
            if len(cols) == 1:
                j = cols[0]
                self._single[j] = True
                if lim.sense > 0:
                    self._hi[j] = min(self._hi[j], lim.rhs_wt_pct)
                else:
                    self._lo[j] = max(self._lo[j], lim.rhs_wt_pct)
            else:
                row = np.zeros(m)
                row[cols] = 1.0
                coupled.append((lim.sense * row, lim.sense * lim.rhs_wt_pct))
        self._coupled = coupled
        self.draws = draws
        self._z = np.random.default_rng(seed).standard_normal((draws, m)) if coupled else None

    def __call__(self, x_kg: np.ndarray) -> JointEstimate:
        """Joint probability of the recipe ``x_kg`` [kg per lot]."""
        _, mean, sd = melt_chemistry(self.model, np.asarray(x_kg, dtype=float))
        return self.from_chemistry(mean, sd)

    def from_chemistry(self, mean: np.ndarray, sd: np.ndarray) -> JointEstimate:
        """Joint probability of a melt with element means ``mean`` and sds ``sd`` [wt%]."""
        with np.errstate(divide="ignore", invalid="ignore"):
            upper = np.where(sd > 0, norm.cdf((self._hi - mean) / sd), (mean <= self._hi).astype(float))
            lower = np.where(sd > 0, norm.cdf((self._lo - mean) / sd), (mean < self._lo).astype(float))
        p_single = float(np.prod(np.clip(upper - lower, 0.0, 1.0)[self._single]))
        if not self._coupled:
            return JointEstimate(p_single, 0.0)
        # P(S and not C) <= sum of the coupled limits' own risks (exact: sums of independent normals)
        risk_c = 0.0
        for row, rhs in self._coupled:
            s_c = float(np.sqrt(((row * sd) ** 2).sum()))
            m_c = float(row @ mean)
            risk_c += float(norm.sf((rhs - m_c) / s_c)) if s_c > 0 else float(m_c > rhs)
        if risk_c <= NEGLIGIBLE_RISK:
            return JointEstimate(max(p_single - risk_c, 0.0), 0.0)
        sample = self._z * sd + mean
        ok_single = np.all((sample >= self._lo) & (sample <= self._hi), axis=1)
        ok_coupled = np.ones(self.draws, dtype=bool)
        for row, rhs in self._coupled:
            cols = np.flatnonzero(row)
            ok_coupled &= sample[:, cols] @ row[cols] <= rhs
        q = float(np.mean(ok_single & ~ok_coupled))
        return JointEstimate(p_single - q, float(np.sqrt(q * (1 - q) / self.draws)))


def limit_risks(model: ChargeModel, v: np.ndarray) -> np.ndarray:
    """Probability that each of the model's limits fails at the variables ``v`` [-]."""
    sd = np.array([c.sd(v) for c in model.cones])
    mean = np.array([c.mean(v) for c in model.cones])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, norm.sf(-mean / sd), (mean > 0).astype(float))


def _with_risk(model: ChargeModel, eps: np.ndarray, stochastic: np.ndarray) -> ChargeModel:
    conf = np.where(stochastic, 1 - np.clip(eps, 1e-15, 0.5), 0.5)
    return model.with_confidence([float(c) for c in conf])


def _at_scale(model: ChargeModel, objective: Objective, shape: np.ndarray, stochastic: np.ndarray,
              joint: JointProbability, target: float, start: float = 1.0):
    """The best recipe with risks ``s * shape`` that meets ``target``: (solution, estimate) or None."""
    cache: dict[float, tuple[Solution, JointEstimate] | None] = {}

    def run(s: float):
        if s not in cache:
            sol = solve(_with_risk(model, s * shape, stochastic), objective)
            cache[s] = None if sol.status != "optimal" else (sol, joint(sol.x_kg))
        return cache[s]

    def ok(s: float) -> bool:
        r = run(s)
        return r is not None and r[1].probability >= target

    top = 0.5 / shape[stochastic].min() if stochastic.any() else 1.0  # every limit at risk 0.5
    lo, hi = start, start
    if ok(lo):
        while hi < top:
            hi = min(2 * hi, top)
            if not ok(hi):
                break
            lo = hi
        else:
            return run(lo)
    else:
        for _ in range(40):
            hi, lo = lo, lo / 4
            if ok(lo):
                break
        else:
            return None
    while hi / lo > 1 + SCALE_TOLERANCE:
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return run(lo)


def practice_fraction(model: ChargeModel, objective: Objective | str, target: float,
                      joint: JointProbability, *, tolerance: float = 1e-5, most: float = MAX_TIGHTENING,
                      step: float = 0.025):
    """The least tightening of every limit by a fixed fraction of its range whose
    deterministic recipe meets ``target`` joint probability.

    The fractions 0, ``step``, 2 ``step``, ... up to ``most`` are tried in turn; the first
    that meets ``target`` is refined by bisection against the one before it (to
    ``tolerance``). The scan, not a bisection over the whole range, because the joint
    probability need not rise monotonically with the fraction and the LP turns
    infeasible when the aim windows get too narrow.

    Returns (fraction, solution, estimate), or None when no fraction up to ``most``
    [fraction of each range] does.
    """
    options = {k: v for k, v in model.options.items() if k != "aim"}

    def run(t: float):
        try:
            practice = build_charge_model(model.lots, model.melt, model.spec.tightened(t), confidence=0.5,
                                          **options)
        except ValueError:
            return None
        sol = solve(practice, objective)
        return None if sol.status != "optimal" else (sol, joint(sol.x_kg))

    def meets(r) -> bool:
        return r is not None and r[1].probability >= target

    grid = np.append(np.arange(0.0, most, step), most)
    previous = None
    for t in grid:
        r = run(float(t))
        if meets(r):
            break
        previous = float(t)
    else:
        return None
    if previous is None:
        return 0.0, *r
    lo, hi, best = previous, float(t), r
    while hi - lo > tolerance:
        mid = 0.5 * (lo + hi)
        r = run(mid)
        if meets(r):
            best, hi = r, mid
        else:
            lo = mid
    return hi, *best


def optimise_calibrated(model: ChargeModel, objective: Objective | str = "recycled", *,
                        draws: int = JOINT_DRAWS, seed: int = JOINT_SEED, rounds: int = 3) -> Solution:
    """Solve for the model's joint confidence with the risk split calibrated on the
    joint probability itself, not on a bound (see the module docstring).

    Parameters
    ----------
    model : ChargeModel
        Built with ``joint_confidence``; without one this is :func:`blending.optimise.optimise`.
    objective : Objective or str
        As for :func:`blending.optimise.optimise`.
    draws, seed : int
        Common random numbers of :class:`JointProbability` (on the model's own limits).
    rounds : int
        Rounds of reshaping the split to the risks the best recipe runs.

    Returns
    -------
    Solution
        The best recipe found whose joint probability is at least the joint confidence;
        ``extra`` holds ``allocation`` ("calibrated"), ``p_joint`` and ``p_joint_se``
        (the estimate the search used) and ``practice_fraction`` (the tightening of the
        deterministic recipe of equal joint probability, or None). Falls back to the
        bound-based recipe when no calibrated split does better.
    """
    if isinstance(objective, str):
        objective = Objective.named(objective)
    base = optimise(model, objective)
    target = model.joint_confidence
    if target is None or base.status != "optimal":
        return base
    joint = JointProbability(model, model.limits, draws=draws, seed=seed)
    stochastic = model.stochastic()
    budget = 1 - target
    floor = 1e-6 * budget
    best, best_p = base, joint(base.x_kg)
    shapes = [np.where(stochastic, np.maximum(limit_risks(model, base.v), floor), 0.0)]
    practice = practice_fraction(model, objective, target, joint) if not model.spec.aim else None
    if practice is not None:
        pv = model.variables(practice[1].x_kg)
        shapes.append(np.where(stochastic, np.maximum(limit_risks(model, pv), floor), 0.0))
    done = 0
    for round_ in range(rounds + 1):
        improved = False
        for shape in shapes:
            found = _at_scale(model, objective, shape, stochastic, joint, target)
            if found is not None and _improves(found[0], best):
                best, best_p = found
                improved = True
        done = round_
        if not improved or round_ == rounds:
            break
        shapes = [np.where(stochastic, np.maximum(limit_risks(model, best.v), floor), 0.0)]
    extra = {"allocation": "calibrated", "p_joint": best_p.probability, "p_joint_se": best_p.standard_error,
             "practice_fraction": None if practice is None else practice[0]}
    return replace(best, risk_rounds=done, extra=extra)


def _improves(a: Solution, b: Solution) -> bool:
    """``a`` is better than ``b`` on the first stage, or equal there and better on a later one."""
    for va, vb in zip(a.stage_values, b.stage_values, strict=False):
        tol = 1e-9 * max(1.0, abs(vb))
        if va < vb - tol:
            return True
        if va > vb + tol:
            return False
    return False
