"""The joint probability that a melt meets every limit, and risk allocation calibrated on it.

:func:`blending.optimise.optimise` meets a joint confidence alpha through a lower
bound (:func:`blending.chance.joint_lower_bound`): exact for limits on single
elements, Boole's inequality for limits on sums of elements, and a floor of risk on
limits far from binding. The recipe is then safe but a little conservative (its joint
probability comes out above the one asked). This module computes the joint probability
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
risk eps_k gives a chance-constrained recipe x*(eps), solved by
:func:`blending.optimise.solve`. A split is a shape times a scale s; the recycled
content never falls as s grows (a larger risk only loosens the cones), so the best
recipe of a shape is the one at the largest s whose joint probability still meets
alpha, found by a secant search on log(1 - P) against log s. Shapes tried:

* the risks run by the bound-based recipe;
* the risks run by the deterministic recipe aimed inside the spec by a fixed
  fraction of each range (:meth:`blending.catalogue.spec.Spec.tightened`), at the least
  fraction whose joint probability is alpha: that recipe is feasible for its own
  risks, so the calibrated recipe recycles at least as much as this practice at
  equal compliance;
* rounds that equalise the marginal value of risk, lambda_k sd_k / phi(z_k),
  between the binding limits (Prekopa, Stochastic Programming, 1995, on the
  allocation of risk between individual chance constraints);
* a pattern search: each limit held at its risk tried with more and with less
  (factors 4, 2, 1.4), because shadow prices are local and can be degenerate (a
  limit at its bound with a zero price).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import norm

from blending.charge_model import ChargeModel, ChemistryLimit, build_charge_model, chemistry_limits
from blending.errors import InputError
from blending.optimise import Objective, Solution, optimise, solve
from blending.recipe import melt_chemistry

# Draws of the Monte Carlo part of the joint probability (limits on sums of elements).
JOINT_DRAWS = 200_000
JOINT_SEED = 20_260_505
# Below this summed risk of the limits on sums of elements, their part is taken as
# exactly that risk (an upper bound of it) without drawing [-].
NEGLIGIBLE_RISK = 1e-9
# The search on the scale of a risk split stops when hi / lo is below 1 + this ...
SCALE_TOLERANCE = 1e-4
# ... or when the joint probability is this little above the target [-] (far below the
# Monte Carlo's own standard error, 5e-4 at 0.95 and 200,000 draws) ...
P_TOLERANCE = 2e-5
# ... or after this many solves.
MAX_SCALE_STEPS = 40
# Pattern search on the risk split: least factor tried, and most trials.
PATTERN_LEAST_FACTOR = 1.5
PATTERN_MAX_TRIES = 30
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
            raise InputError(f"draws {draws} must be at least 1")
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
    """The model with each stochastic limit allowed the risk ``eps`` (one vectorised quantile
    call instead of one per limit: this runs hundreds of times per calibration)."""
    eps = np.where(stochastic, np.clip(eps, 1e-15, 0.5), 0.5)
    z = norm.isf(eps)
    cones = tuple(replace(c, z=float(zk)) for c, zk in zip(model.cones, z, strict=True))
    return replace(model, confidence=tuple(float(1 - e) for e in eps), cones=cones)


def _at_scale(model: ChargeModel, objective: Objective, shape: np.ndarray, stochastic: np.ndarray,
              joint: JointProbability, target: float, start: float = 1.0):
    """The recipe with risks ``s * shape`` at the largest scale s that still meets
    ``target``: (solution, estimate), or None when no scale does.

    The joint risk 1 - P grows about in proportion to s, so the search is a safeguarded
    secant on log(1 - P) against log s (regula falsi with the Illinois modification once
    the target is bracketed, bisection when a step falls outside); it stops when P is
    within ``P_TOLERANCE`` above the target or the bracket is narrower than
    ``SCALE_TOLERANCE``.
    """
    cache: dict[float, tuple[Solution, JointEstimate] | None] = {}

    def run(s: float):
        if s not in cache:
            sol = solve(_with_risk(model, s * shape, stochastic), objective)
            cache[s] = None if sol.status != "optimal" else (sol, joint(sol.x_kg))
        return cache[s]

    def gap(s: float) -> float:
        """log(1 - P) - log(1 - target): <= 0 where the target is met."""
        r = run(s)
        p = 0.0 if r is None else r[1].probability
        return float(np.log(max(1 - p, 1e-300)) - np.log(1 - target))

    top = 0.5 / shape[stochastic].min() if stochastic.any() else 1.0  # every limit at risk 0.5
    lo = hi = None            # largest s known to meet the target, smallest known to miss it
    g_lo = g_hi = 0.0
    s, side = min(start, top), 0
    for _ in range(MAX_SCALE_STEPS):
        g = gap(s)
        if g <= 0:
            if lo is None or s > lo:
                lo, g_lo = s, g
            if -g <= P_TOLERANCE / (1 - target) or s >= top:
                break
        elif hi is None or s < hi:
            hi, g_hi = s, g
        if lo is not None and hi is not None:
            if hi / lo <= 1 + SCALE_TOLERANCE:
                break
            # regula falsi in log s; Illinois: halve the gap of the end kept twice
            a, b = np.log(lo), np.log(hi)
            ga = g_lo / 2 if side == -1 else g_lo
            gb = g_hi / 2 if side == 1 else g_hi
            t = a - ga * (b - a) / (gb - ga) if gb != ga else 0.5 * (a + b)
            if not a + 0.01 * (b - a) < t < b - 0.01 * (b - a):
                t = 0.5 * (a + b)
            s_new = float(np.exp(t))
            side = 1 if g <= 0 else -1
        else:
            # one side only: 1 - P ~ s, step by the ratio (at least x1.1, at most x100)
            ratio = float(np.exp(np.clip(-g, -np.log(100), np.log(100))))
            if g <= 0:
                ratio = max(ratio, 1.1)
            else:
                ratio = min(ratio, 1 / 1.1)
            s_new = min(s * ratio, top)
        s = s_new
    return None if lo is None else run(lo)


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
                        draws: int = JOINT_DRAWS, seed: int = JOINT_SEED, rounds: int = 8) -> Solution:
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
        Most rounds of marginal-value reallocation before the pattern search.

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

    def attempt(shape: np.ndarray) -> bool:
        nonlocal best, best_p
        found = _at_scale(model, objective, shape, stochastic, joint, target)
        if found is not None and _improves(found[0], best):
            best, best_p = found
            return True
        return False

    for shape in shapes:
        attempt(shape)

    def running() -> tuple[np.ndarray, np.ndarray]:
        run = np.where(stochastic, limit_risks(model, best.v), 0.0)
        return np.where(stochastic, np.maximum(run, floor), 0.0), run

    # marginal-value rounds (Prekopa): large moves of risk between binding limits
    done = 0
    for round_ in range(1, rounds + 1):
        current, _ = running()
        improved = attempt(current)
        for free_risk in ("keep", "floor"):
            moved = _marginal_shape(best, stochastic, floor, free_risk)
            if moved is None or improved:
                continue
            for theta in (1.0, 0.5):
                shape = np.zeros_like(current)
                shape[stochastic] = np.exp((1 - theta) * np.log(current[stochastic])
                                           + theta * np.log(moved[stochastic]))
                if attempt(shape):
                    improved = True
                    break
        done = round_
        if not improved:
            break
    # pattern search on the limits held at their risk: shadow prices are local and can be
    # degenerate (a limit at its bound with a zero price), so each such limit's risk is
    # also tried times and divided by a factor shrinking from 4 to PATTERN_LEAST_FACTOR
    factor, tries = 4.0, 0
    while factor >= PATTERN_LEAST_FACTOR and tries < PATTERN_MAX_TRIES:
        current, run = running()
        eps = 1 - np.asarray(best.model.confidence)
        active = np.flatnonzero(stochastic & (run >= 0.5 * eps))
        improved = False
        for k in active[np.argsort(-current[active])]:
            for f in (factor, 1 / factor):
                shape = current.copy()
                shape[k] = min(max(shape[k] * f, floor), 0.5)
                tries += 1
                if attempt(shape):
                    improved = True
                    break
            if improved or tries >= PATTERN_MAX_TRIES:
                break
        if not improved:
            factor = float(np.sqrt(factor))
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


def _marginal_shape(solution: Solution, stochastic: np.ndarray, floor: float,
                    free_risk: str = "keep") -> np.ndarray | None:
    """Risks that equalise the marginal value of risk between the binding limits.

    Relaxing limit k's risk by d eps moves its bound by sd_k / phi(z_k) d eps, worth its
    shadow price lambda_k per wt% in the first stage (recycled content); at the best
    split lambda_k sd_k / phi(z_k) is the same for every binding limit (Prekopa 1995).
    A limit without a first-stage price keeps the risk it runs (``free_risk="keep"``:
    it may be held at its bound with a zero price, a degenerate basis) or gets the
    least risk, ``floor`` (``"floor"``: the risk it runs was chosen by a later stage,
    e.g. the cheapest charge puts Mg on its minimum, and buys no recycled metal). The
    binding limits share the rest of the risk the recipe runs now, in proportion to
    their marginal value. None when no limit binds.
    """
    duals = solution.first.cone_marginals if solution.first is not None else None
    if duals is None:
        return None
    model, v = solution.model, solution.v
    risk = np.maximum(limit_risks(model, v), floor)
    sd = np.array([c.sd(v) for c in model.cones])
    price = np.maximum(-np.asarray(duals, dtype=float), 0.0)
    binding = stochastic & (price > 1e-6 * price.max(initial=0.0)) & (sd > 0)
    if not binding.any():
        return None
    gain = price[binding] * sd[binding]
    free = stochastic & ~binding
    free_eps = risk if free_risk == "keep" else np.full_like(risk, floor)
    total = risk[binding].sum() + (risk[free] - free_eps[free]).sum()

    def share(log_c: float) -> np.ndarray:
        # phi(z) = c gain  ->  z = sqrt(-2 ln(c gain sqrt(2 pi)))
        arg = np.minimum(np.exp(log_c) * gain * np.sqrt(2 * np.pi), 1.0)
        return norm.sf(np.sqrt(np.maximum(-2 * np.log(arg), 0.0)))

    lo, hi = -700.0, 700.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if share(mid).sum() <= total else (lo, mid)
    out = np.where(free, free_eps, 0.0)
    out[binding] = np.maximum(share(lo), floor)
    return out
