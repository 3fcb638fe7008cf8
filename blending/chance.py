"""Chance constraints on blended chemistry and their solution by cutting planes.

A limit on the melt holds with probability alpha when the lot chemistries are
independent normal variables (Charnes and Cooper 1959; Gaustad, Li and Kirchain,
Resour. Conserv. Recycl. 52 (2007) 180):

    a . v + a0 + z_alpha * || (d * v, d0) ||_2 <= 0,      z_alpha = Phi^-1(alpha)

a second-order cone for alpha >= 0.5 (Lobo et al., Linear Algebra Appl. 284 (1998)
193). Every tangent of the norm is a valid linear cut (Cauchy-Schwarz):

    || w(v) || >= w(vbar) . w(v) / || w(vbar) ||,     w(v) = (d * v, d0)

so Kelley's (1960) cutting-plane method on HiGHS LPs (or MILPs) solves the cone
program exactly to a stated tolerance: solve, cut every violated cone at the
solution, repeat until the largest violation is below tolerance.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import LinearConstraint, linprog, milp
from scipy.sparse import csr_array
from scipy.stats import norm

# Largest violation of a chance constraint left at convergence [wt%].
CONE_TOLERANCE_WT_PCT = 1e-9
MAX_CUT_ROUNDS = 200
# Cone tolerance of the MILP rounds, before the integers are fixed [wt%].
MILP_TOLERANCE_WT_PCT = 1e-6
# HiGHS options: tighter than the defaults (1e-7) so the mean chemistry holds within 1e-9 wt%.
_HIGHS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


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
    # Cuts found so far, as (cone index, g, h); valid for every objective, so they carry over.
    cuts: list[tuple[int, np.ndarray, float]] = field(default_factory=list)


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


def solve_with_cuts(lp: LinearProgram, *, tol: float = CONE_TOLERANCE_WT_PCT,
                    duals: bool = True) -> CutSolution:
    """Solve ``lp`` exactly to ``tol`` by Kelley's cutting planes on HiGHS.

    Linear rows and cones from the start: every cone enters first as its mean row
    (z = 0 relaxation is the tangent at any point with zero spread), and each round adds
    the tangent at the current solution for every cone violated by more than ``tol``.
    With integer variables each round is a MILP (scipy.optimize.milp) until the cones
    hold to ``MILP_TOLERANCE_WT_PCT`` (HiGHS's MIP feasibility tolerance is too loose to
    go further); the integers are then fixed and LP rounds finish the continuous part to
    ``tol``. Duals come from the final LP (integers fixed, as usual for MILP duals).
    """
    has_integers = bool(np.any(lp.integrality))
    if not lp.cuts:
        for k, cone in enumerate(lp.cones):
            lp.cuts.append((k, cone.a.copy(), -cone.a0))
    lower, upper = lp.lower, lp.upper
    rounds = 0
    if has_integers:
        v, n_rounds, _ = _cut_loop(lp, lower, upper, integer=True, tol=max(tol, MILP_TOLERANCE_WT_PCT))
        rounds += n_rounds
        if v is None:
            return CutSolution("infeasible", None, None, None, None, rounds, np.inf)
        fixed = lp.integrality.astype(bool)
        lower, upper = lower.copy(), upper.copy()
        lower[fixed] = upper[fixed] = np.round(v[fixed])
    v, n_rounds, max_violation = _cut_loop(lp, lower, upper, integer=False, tol=tol)
    rounds += n_rounds
    if v is None:
        return CutSolution("infeasible", None, None, None, None, rounds, np.inf)
    if not duals:
        return CutSolution("optimal", v, float(lp.c @ v), None, None, rounds, max_violation)
    v, row_marg, cut_marg, upper_marg = _solve(lp, lower, upper, integer=False, duals=True)
    cone_marg = np.zeros(len(lp.cones))
    for (k, _, _), m in zip(lp.cuts, cut_marg, strict=True):
        cone_marg[k] += m
    return CutSolution("optimal", v, float(lp.c @ v), row_marg, cone_marg, rounds, max_violation, upper_marg)


def _cut_loop(lp: LinearProgram, lower: np.ndarray, upper: np.ndarray, *, integer: bool, tol: float):
    """Rounds of solve-and-cut until every cone holds to ``tol``: (v or None, rounds, violation)."""
    max_violation = np.inf
    for rounds in range(1, MAX_CUT_ROUNDS + 1):
        result = _solve(lp, lower, upper, integer=integer, duals=False)
        if result is None:
            return None, rounds, np.inf
        v = result[0]
        violations = np.array([cone.value(v) for cone in lp.cones]) if lp.cones else np.zeros(0)
        max_violation = float(violations.max(initial=0.0))
        if max_violation <= tol:
            return v, rounds, max_violation
        for k in np.flatnonzero(violations > tol):
            g, h = lp.cones[k].cut(v)
            lp.cuts.append((int(k), g, h))
    raise RuntimeError(f"cutting planes did not converge in {MAX_CUT_ROUNDS} rounds "
                       f"(largest violation {max_violation:.3g} wt%)")


def _solve(lp: LinearProgram, lower: np.ndarray, upper: np.ndarray, *, integer: bool, duals: bool):
    """One HiGHS solve with all cuts; None when infeasible."""
    n_rows = lp.A.shape[0]
    G = np.array([g for _, g, _ in lp.cuts]).reshape(len(lp.cuts), lp.c.size)
    h = np.array([h for _, _, h in lp.cuts])
    if integer:
        constraints = [LinearConstraint(csr_array(np.vstack([lp.A, G])),
                                        np.concatenate([lp.row_lo, np.full(h.size, -np.inf)]),
                                        np.concatenate([lp.row_hi, h]))]
        with warnings.catch_warnings():
            # scipy passes HiGHS options it does not list verbatim, with a warning; we mean them
            warnings.simplefilter("ignore", RuntimeWarning)
            res = milp(lp.c, constraints=constraints, integrality=lp.integrality,
                       bounds=(lower, upper), options={"mip_rel_gap": 1e-10, **_HIGHS})
        if res.status != 0 or res.x is None:
            if res.status == 2:
                return None
            raise RuntimeError(f"HiGHS MILP failed: {res.message}")
        return res.x, None, None, None
    # linprog wants A_ub v <= b_ub and A_eq v = b_eq: split two-sided rows.
    eq = np.isclose(lp.row_lo, lp.row_hi, rtol=0, atol=0)
    up = ~eq & np.isfinite(lp.row_hi)
    lo = ~eq & np.isfinite(lp.row_lo)
    A_ub = np.vstack([lp.A[up], -lp.A[lo], G])
    b_ub = np.concatenate([lp.row_hi[up], -lp.row_lo[lo], h])
    res = linprog(lp.c, A_ub=A_ub, b_ub=b_ub, A_eq=lp.A[eq] if eq.any() else None,
                  b_eq=lp.row_lo[eq] if eq.any() else None, bounds=np.column_stack([lower, upper]),
                  method="highs", options=_HIGHS)
    if res.status == 2:
        return None
    if res.status != 0:
        raise RuntimeError(f"HiGHS LP failed: {res.message}")
    if not duals:
        return res.x, None, None, None
    ub = res.ineqlin.marginals
    row_marg = np.zeros(n_rows)
    n_up, n_lo = int(up.sum()), int(lo.sum())
    row_marg[up] += ub[:n_up]
    row_marg[lo] -= ub[n_up:n_up + n_lo]
    if eq.any():
        row_marg[eq] += res.eqlin.marginals
    return res.x, row_marg, ub[n_up + n_lo:], res.upper.marginals

