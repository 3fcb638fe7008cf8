"""Chance constraints on blended chemistry and their solution by cutting planes.

A limit on the melt holds with probability alpha when the lot chemistries are
independent normal variables (Charnes and Cooper 1959; Gaustad, Li and Kirchain,
Resour. Conserv. Recycl. 52 (2007) 180):

    a . v + a0 + z_alpha * || (d * v, d0) ||_2 <= 0,      z_alpha = Phi^-1(alpha)

a second-order cone for alpha >= 0.5 (Lobo et al., Linear Algebra Appl. 284 (1998)
193). Every tangent of the norm is a valid linear cut (Cauchy-Schwarz):

    || w(v) || >= w(vbar) . w(v) / || w(vbar) ||,     w(v) = (d * v, d0)

so cutting planes on HiGHS LPs (or MILPs) solve the cone program exactly to a
stated tolerance: solve, cut every violated cone at the solution, repeat until the
largest violation is below tolerance (Kelley 1960). The cuts are made in the
extended formulation of :mod:`blending.outer_approximation`, which converges in
a few rounds where cuts on the aggregated norm take hundreds; and once an LP's
solution shows which lots, rows and limits bind, Newton's method on the optimality
conditions of that active set gives the exact optimum, accepted only with a KKT
certificate (:mod:`blending.active_set`), so the rounds end after three to six LPs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

import highspy
import numpy as np
from scipy.stats import norm

# Largest violation of a chance constraint left at convergence [wt%].
CONE_TOLERANCE_WT_PCT = 1e-9
# Cone tolerance of the MILP rounds, before the integers are fixed [wt%].
MILP_TOLERANCE_WT_PCT = 1e-5
MAX_MILP_ROUNDS = 50
# Weight of the second stage in the MILP that picks unit counts, per unit of the first.
MILP_TIE_BREAK = 1e-7
# HiGHS options: tighter than the defaults (1e-7) so the mean chemistry holds within 1e-9 wt%.
_HIGHS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
# Presolve off in the kept-alive LP so each round restarts the simplex from the last basis.
# No cost perturbation in the dual simplex: after a stage's objective change the warm basis
# is dual infeasible, and perturbed costs sent HiGHS through ~400 extra degenerate pivots
# per heat (about 7 times fewer without; the rounds' own pivots drop a little too).
_HIGHS_LP = {**_HIGHS, "presolve": "off", "dual_simplex_cost_perturbation_multiplier": 0.0}
# One thread for every HiGHS instance the project makes: these LPs re-solve in well under a
# millisecond, and handing work to HiGHS's thread pool cost more than the solve (0.7 ms
# against 0.2 ms for a warm re-solve that pivots nothing, far more on a loaded machine).
# HiGHS sizes one pool per process by the first run, so all instances must agree.
HIGHS_THREADS = 1


def z_score(confidence: float) -> float:
    """Standard normal quantile Phi^-1(confidence) [-], for a confidence in [0.5, 1)."""
    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence {confidence:g} must be at least 0.5 and below 1")
    return float(norm.ppf(confidence))


def bonferroni(joint_confidence: float, n_limits: int) -> float:
    """Per-limit confidence that guarantees ``joint_confidence`` over ``n_limits`` limits.

    By Boole's inequality the joint probability of violating any limit is at most the
    sum of the single ones, so each limit gets an equal share (1 - alpha) / K of the risk.
    """
    if not 0.5 <= joint_confidence < 1:
        raise ValueError(f"joint confidence {joint_confidence:g} must be at least 0.5 and below 1")
    return 1 - (1 - joint_confidence) / max(n_limits, 1)


def joint_lower_bound(groups: Sequence[tuple[str, ...]], risk: Sequence[float]) -> float:
    """A lower bound on the probability that every limit holds [-].

    ``groups[k]`` names the elements limit k constrains, ``risk[k]`` its probability of
    failing. Lot chemistries are independent between elements, so limits on different
    single elements fail independently, and the min and max of one element cannot fail
    together: P(all single-element limits hold) = prod over elements of (1 - the sum of
    that element's risks). Limits on sums of elements (others total, Mn+Cr, Al) are
    added by Boole's inequality, P(A and B) >= P(A) - P(not B). Tighter than Bonferroni's
    1 - sum of all risks, which it never falls below.
    """
    per_element: dict[str, float] = {}
    boole = 0.0
    for elements, r in zip(groups, risk, strict=True):
        if len(elements) == 1:
            per_element[elements[0]] = per_element.get(elements[0], 0.0) + r
        else:
            boole += r
    return float(np.prod([1 - r for r in per_element.values()])) - boole


@dataclass(frozen=True)
class Cone:
    """``a . v + a0 + z || (d * v, d0) || <= 0`` in wt% of the melt."""

    a: np.ndarray
    a0: float
    d: np.ndarray
    d0: float
    z: float

    def sd(self, v: np.ndarray) -> float:
        """Standard deviation of the constrained quantity [wt%]."""
        return float(np.sqrt(np.sum((self.d * v) ** 2) + self.d0 ** 2))

    def mean(self, v: np.ndarray) -> float:
        """Mean of the constrained quantity minus its bound [wt%] (<= 0 inside)."""
        return float(self.a @ v + self.a0)

    def value(self, v: np.ndarray) -> float:
        return self.mean(v) + self.z * self.sd(v)

    def cut(self, vbar: np.ndarray) -> tuple[np.ndarray, float]:
        """Tangent cut ``g . v <= h`` of this cone at ``vbar``."""
        s = self.sd(vbar)
        if self.z == 0 or s == 0:
            return self.a, -self.a0
        return self.a + self.z * self.d ** 2 * vbar / s, -self.a0 - self.z * self.d0 ** 2 / s


@dataclass
class LinearProgram:
    """min c.v subject to lo <= A v <= hi, bounds, integrality, and cones (chance limits)."""

    c: np.ndarray
    A: np.ndarray
    row_lo: np.ndarray
    row_hi: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    integrality: np.ndarray
    cones: Sequence[Cone]


@dataclass(frozen=True)
class CutSolution:
    status: str                      # "optimal" or "infeasible"
    v: np.ndarray | None
    objective: float | None
    row_marginals: np.ndarray | None  # d objective / d row bound, per linear row (signed)
    cone_marginals: np.ndarray | None  # d objective / d (cone right-hand side), per cone, <= 0 when binding
    rounds: int
    max_violation: float
    upper_marginals: np.ndarray | None = None  # d objective / d (variable upper bound)


class ConeStack:
    """All cones of a program as arrays, for evaluating them together."""

    def __init__(self, cones: Sequence[Cone], n: int):
        self.A = np.array([c.a for c in cones]).reshape(len(cones), n)
        self.a0 = np.array([c.a0 for c in cones])
        self.D = np.array([c.d for c in cones]).reshape(len(cones), n)
        self.d0 = np.array([c.d0 for c in cones])
        self.z = np.array([c.z for c in cones])

    def values(self, v: np.ndarray) -> np.ndarray:
        """Every cone's value at ``v`` [wt%]; positive where violated."""
        return self.A @ v + self.a0 + self.z * np.sqrt(((self.D * v) ** 2).sum(axis=1) + self.d0 ** 2)


def cone_values(cones: Sequence[Cone], v: np.ndarray) -> np.ndarray:
    """Every cone's value at ``v`` [wt%]; positive where violated."""
    return np.array([c.value(v) for c in cones]) if len(cones) else np.zeros(0)


def solve_with_cuts(lp: LinearProgram, *, tol: float = CONE_TOLERANCE_WT_PCT, duals: bool = True) -> CutSolution:
    """Solve ``lp`` exactly to ``tol`` by cutting planes on HiGHS.

    The cones are cut in the extended formulation of :mod:`blending.outer_approximation`;
    each round solves the LP (scipy's HiGHS MILP when lots come in whole units), cuts
    every violated small cone, and stops when every chance constraint holds to ``tol``
    [wt%] or when the LP's active set gives a certified optimum (then the duals are its
    KKT multipliers). With integers, the MILP rounds stop at ``MILP_TOLERANCE_WT_PCT`` (HiGHS's MIP
    feasibility tolerance), the integers are fixed and LP rounds finish to ``tol``;
    duals then come from that LP, as usual for MILP duals.
    """
    from blending.outer_approximation import Lifted, rounds

    stack = ConeStack(lp.cones, lp.c.size)
    lifted = Lifted(lp, lp.lower, lp.upper)
    n_rounds = 0
    if np.any(lp.integrality):
        fixed = lp.integrality.astype(bool)
        milp_tol = max(tol, MILP_TOLERANCE_WT_PCT)
        for _ in range(3):
            x, r, _ = rounds(lifted, stack, milp_tol, integer=True, lower=lp.lower, upper=lp.upper)
            n_rounds += r
            if x is None:
                return CutSolution("infeasible", None, None, None, None, n_rounds, np.inf)
            lower, upper = lp.lower.copy(), lp.upper.copy()
            lower[fixed] = upper[fixed] = np.round(x[:lp.c.size][fixed])
            lifted.set_bounds(lower, upper)
            x, r, worst = rounds(lifted, stack, tol)
            n_rounds += r
            if x is not None:
                break
            lifted.set_bounds(lp.lower, lp.upper)
            milp_tol /= 100  # the integer choice was only nearly feasible: tighten and retry
        else:
            return CutSolution("infeasible", None, None, None, None, n_rounds, np.inf)
    else:
        x, n_rounds, worst = rounds(lifted, stack, tol)
        if x is None:
            return CutSolution("infeasible", None, None, None, None, n_rounds, np.inf)
    v = x[:lp.c.size]
    if not duals:
        return CutSolution("optimal", v, float(lp.c @ v), None, None, n_rounds, worst)
    row_marg, cone_marg, upper_marg = lifted.duals()
    return CutSolution("optimal", v, float(lp.c @ v), row_marg, cone_marg, n_rounds, worst, upper_marg)


def solve_stages(lp: LinearProgram, stages: Sequence[np.ndarray], *, hold: float,
                 tol: float = CONE_TOLERANCE_WT_PCT, warm_weight: float = 1e-3) -> list[CutSolution]:
    """Lexicographic solve: minimise ``stages[0]``, then each next stage with the earlier
    ones held at their optimum (plus ``hold`` relative), on one kept-alive HiGHS model.

    A first pass minimises ``stages[0] + warm_weight * stages[1]``: a unique optimum whose
    cuts and basis carry over, so that a flat first stage (many blends reach the same
    recycled content) starts at a vertex that is already optimal instead of wandering.
    The first stage's solution carries the duals (shadow prices). Returns one
    CutSolution per stage, or the infeasible first one.
    """
    from blending.outer_approximation import Lifted, rounds

    n = lp.c.size
    stack = ConeStack(lp.cones, n)
    integer = bool(np.any(lp.integrality))
    fixed = lp.integrality.astype(bool)
    lifted = Lifted(replace(lp, c=stages[0]), lp.lower, lp.upper)
    total = 0
    if len(stages) > 1:
        lifted.set_objective(stages[0] + warm_weight * stages[1])
        x, r, _ = rounds(lifted, stack, tol)
        total += r
        if x is None:
            return [CutSolution("infeasible", None, None, None, None, total, np.inf)]
    if integer:
        # whole units are chosen once, on the first stage with a tiny tie-break by the
        # next (a flat first stage would let the MILP wander between equal vertices);
        # MILP rounds stop when the cones hold to MILP_TOLERANCE_WT_PCT or when a round's
        # cuts no longer change the unit counts. The stages then run on the LP with the
        # counts fixed.
        tie = stages[0] + (MILP_TIE_BREAK * stages[1] if len(stages) > 1 else 0.0)
        lifted.set_objective(tie)
        counts = _choose_units(lifted, stack, lp, max(tol, MILP_TOLERANCE_WT_PCT))
        if counts is None:
            return [CutSolution("infeasible", None, None, None, None, total, np.inf)]
        lower, upper = lp.lower.copy(), lp.upper.copy()
        lower[fixed] = upper[fixed] = counts
        lifted.set_bounds(lower, upper)
    out: list[CutSolution] = []
    for s, c in enumerate(stages):
        lifted.set_objective(c)
        x, r, worst = rounds(lifted, stack, tol)
        total += r
        if x is None:
            break
        v = x[:n]
        value = float(c @ v)
        if s == 0:
            row_marg, cone_marg, upper_marg = lifted.duals()
            out.append(CutSolution("optimal", v, value, row_marg, cone_marg, total, worst, upper_marg))
        else:
            out.append(CutSolution("optimal", v, value, None, None, total, worst))
        if s + 1 < len(stages):
            lifted.add_row(c, -np.inf, value + hold * max(1.0, abs(value)))
    if not out:
        return [CutSolution("infeasible", None, None, None, None, total, np.inf)]
    return out


def _choose_units(lifted, stack: ConeStack, lp: LinearProgram, tol: float) -> np.ndarray | None:
    """Unit counts from MILP rounds on the lifted model, or None if no count is feasible."""
    fixed = lp.integrality.astype(bool)
    previous = None
    for _ in range(MAX_MILP_ROUNDS):
        x = lifted.solve_milp(lp.lower, lp.upper)
        if x is None:
            return None
        counts = np.round(x[:lp.c.size][fixed])
        values = stack.values(x[:lp.c.size])
        if values.max(initial=0.0) <= tol or (previous is not None and np.array_equal(counts, previous)):
            return counts
        lifted.separate(x, tol, np.flatnonzero(values > tol))
        previous = counts
    return previous


_BANNER_SHOWN = False


def _new_highs() -> highspy.Highs:
    """A silent HiGHS instance.

    HiGHS writes a copyright banner from C++ when the first instance of a process is
    made, before any option can be set; it would corrupt ``--json`` output, so the
    file descriptors are pointed at /dev/null for that one construction.
    """
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        saved = [os.dup(1), os.dup(2)]
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(null, 1)
            os.dup2(null, 2)
            h = highspy.Highs()
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in (*saved, null):
                os.close(fd)
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", HIGHS_THREADS)
    return h
