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

import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import highspy
import numpy as np
from scipy.optimize import LinearConstraint, milp
from scipy.sparse import csr_array
from scipy.stats import norm

# Largest violation of a chance constraint left at convergence [wt%].
CONE_TOLERANCE_WT_PCT = 1e-9
MAX_CUT_ROUNDS = 200
# Relative gap between the feasible boundary point and the LP bound that ends the rounds.
GAP_TOLERANCE = 1e-10
# Relative gap between the best integer recipe and the MILP bound that ends the rounds.
MILP_GAP = 1e-9
# HiGHS options: tighter than the defaults (1e-7) so the mean chemistry holds within 1e-9 wt%.
_HIGHS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
# Presolve off in the kept-alive LP so each round restarts the dual simplex from the last basis.
_HIGHS_LP = {**_HIGHS, "presolve": "off"}


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

    def boundary_step(self, inside: np.ndarray, outside: np.ndarray) -> float:
        """Largest t in [0, 1] with every cone satisfied at inside + t (outside - inside).

        Along the segment a cone is A + B t + z sqrt(alpha + 2 beta t + gamma t^2), convex
        in t, so its feasible t form an interval from 0; the end is a root of the
        quadratic (A + B t)^2 = z^2 (alpha + 2 beta t + gamma t^2). The returned step is
        checked and, if round-off put it outside, found by bisection instead.
        """
        if not self.a0.size:
            return 1.0
        q = outside - inside
        Dp, Dq = self.D * inside, self.D * q
        alpha = (Dp ** 2).sum(axis=1) + self.d0 ** 2
        beta = (Dp * Dq).sum(axis=1)
        gamma = (Dq ** 2).sum(axis=1)
        A, B, z = self.A @ inside + self.a0, self.A @ q, self.z

        def f(t):
            return A + B * t + z * np.sqrt(np.maximum(alpha + 2 * beta * t + gamma * t * t, 0.0))

        if f(1.0).max() <= 0:
            return 1.0
        qa, qb, qc = B * B - z * z * gamma, A * B - z * z * beta, A * A - z * z * alpha
        with np.errstate(divide="ignore", invalid="ignore"):
            root = np.sqrt(np.maximum(qb * qb - qa * qc, 0.0))
            r1 = (-qb - np.copysign(root, qb)) / qa
            r2 = qc / (qa * r1)
            linear = np.where(B != 0, -A / B, np.inf)  # z = 0 or a degenerate quadratic
        candidates = np.column_stack([r1, r2, np.where(np.abs(qa) < 1e-300, -qc / (2 * qb), np.nan), linear])
        candidates = np.where((candidates >= 0) & (candidates <= 1), candidates, np.nan)
        crossing = f(1.0) > 0
        ends = np.ones_like(A)
        for k in np.flatnonzero(crossing):
            ts = candidates[k][np.isfinite(candidates[k])]
            if not ts.size:
                ends[k] = 0.0
                continue
            residual = [abs(_one(A[k], B[k], z[k], alpha[k], beta[k], gamma[k], t)) for t in ts]
            ends[k] = ts[int(np.argmin(residual))]
        t = float(ends.min()) * (1 - 1e-12)
        if self.values(inside + t * q).max() <= 0:
            return t
        lo, hi = 0.0, min(1.0, t * (1 + 1e-6) + 1e-12)
        while hi - lo > 1e-14:
            mid = 0.5 * (lo + hi)
            if self.values(inside + mid * q).max() <= 0:
                lo = mid
            else:
                hi = mid
        return lo


def _one(A, B, z, alpha, beta, gamma, t):
    return A + B * t + z * np.sqrt(max(alpha + 2 * beta * t + gamma * t * t, 0.0))


def cone_values(cones: Sequence[Cone], v: np.ndarray) -> np.ndarray:
    """Every cone's value at ``v`` [wt%]; positive where violated."""
    return np.array([c.value(v) for c in cones]) if len(cones) else np.zeros(0)


def solve_with_cuts(lp: LinearProgram, *, tol: float = CONE_TOLERANCE_WT_PCT, duals: bool = True,
                    inside: np.ndarray | None = None) -> CutSolution:
    """Solve ``lp`` exactly to ``tol`` by cutting planes on HiGHS.

    Every cone enters first as its mean row (the tangent at zero spread). Each round
    solves the LP (a relaxation, so its objective is a lower bound), cuts every violated
    cone at the LP point (Kelley 1960) and, from a known feasible point, at the point
    where the segment to the LP point leaves the feasible set (Veinott's supporting
    hyperplane method, which keeps converging where the objective is flat and pure
    Kelley wanders between vertices). It stops when the LP point satisfies every cone
    to ``tol``, or when the feasible boundary point is within a relative 1e-10 of the
    lower bound (that point is returned: it satisfies every cone exactly).

    With integer variables the rounds are MILPs (scipy.optimize.milp) until the cones
    hold to ``MILP_TOLERANCE_WT_PCT``; then the integers are fixed and LP rounds finish.
    Duals come from the final LP (integers fixed, as usual for MILP duals).

    ``inside``: a point known to satisfy every cone and row, if any (a warm start).
    """
    if not lp.cuts:
        for k, cone in enumerate(lp.cones):
            lp.cuts.append((k, cone.a.copy(), -cone.a0))
    lower, upper = lp.lower, lp.upper
    rounds = 0
    if np.any(lp.integrality):
        result = _branch_on_cuts(lp, tol, inside)
        if result is None:
            return CutSolution("infeasible", None, None, None, None, rounds, np.inf)
        v, lower, upper, rounds, max_violation = result
    else:
        v, n, max_violation = _in_out(lp, lower, upper, tol, inside)
        rounds += n
        if v is None:
            return CutSolution("infeasible", None, None, None, None, rounds, np.inf)
    if not duals:
        return CutSolution("optimal", v, float(lp.c @ v), None, None, rounds, max_violation)
    dual = _solve(lp, lower, upper, integer=False, duals=True)
    if dual is None:
        return CutSolution("optimal", v, float(lp.c @ v), None, None, rounds, max_violation)
    _, row_marg, cut_marg, upper_marg = dual
    cone_marg = np.zeros(len(lp.cones))
    for (k, _, _), m in zip(lp.cuts, cut_marg, strict=True):
        cone_marg[k] += m
    return CutSolution("optimal", v, float(lp.c @ v), row_marg, cone_marg, rounds, max_violation, upper_marg)


def _branch_on_cuts(lp: LinearProgram, tol: float, inside: np.ndarray | None):
    """Integer lots: MILP rounds give a lower bound, the integers of each MILP point fixed
    and the continuous lots solved exactly give a feasible recipe (an upper bound); stop
    when they meet within ``MILP_GAP``. Returns (v, lower, upper, rounds, violation) or None.
    """
    relaxed = replace(lp, integrality=np.zeros_like(lp.integrality))
    relaxed.cuts = lp.cuts  # shared: cuts are valid whatever the integrality
    relaxation, rounds, _ = _in_out(relaxed, lp.lower, lp.upper, tol, inside)
    if relaxation is None:
        return None
    stack = ConeStack(lp.cones, lp.c.size)
    fixed = lp.integrality.astype(bool)
    best = None
    for _ in range(MAX_CUT_ROUNDS):
        result = _solve(lp, lp.lower, lp.upper, integer=True, duals=False)
        rounds += 1
        if result is None:
            break
        out = result[0]
        bound = float(lp.c @ out)
        lower, upper = lp.lower.copy(), lp.upper.copy()
        lower[fixed] = upper[fixed] = np.round(out[fixed])
        v, n, violation = _in_out(lp, lower, upper, tol, None)
        rounds += n
        if v is not None and (best is None or lp.c @ v < lp.c @ best[0]):
            best = (v, lower, upper, violation)
        if best is not None and float(lp.c @ best[0]) - bound <= MILP_GAP * max(1.0, abs(bound)):
            break
        values = stack.values(out)
        violated = np.flatnonzero(values > tol)
        if not violated.size:
            break
        _add_cuts(lp, out, violated)
    if best is None:
        return None
    v, lower, upper, violation = best
    return v, lower, upper, rounds, violation


def _add_cuts(lp: LinearProgram, point: np.ndarray, which: np.ndarray) -> None:
    for k in which:
        g, h = lp.cones[k].cut(point)
        lp.cuts.append((int(k), g, h))


def _in_out(lp: LinearProgram, lower: np.ndarray, upper: np.ndarray, tol: float,
            inside: np.ndarray | None, *, integer: bool = False, stop_below: float | None = None):
    """Cutting-plane rounds: (v or None if infeasible, rounds, largest violation at v).

    ``stop_below``: return the feasible point as soon as its objective is below this.
    """
    cones = lp.cones
    stack = ConeStack(cones, lp.c.size)
    session = None if integer else LpSession(lp, lower, upper)
    for rounds in range(1, MAX_CUT_ROUNDS + 1):
        result = _solve(lp, lower, upper, integer=True, duals=False) if integer else session.solve()
        if result is None:
            return None, rounds, np.inf
        out = result[0]
        violation = stack.values(out)
        worst = float(violation.max(initial=0.0))
        if worst <= tol:
            return out, rounds, worst
        violated = np.flatnonzero(violation > tol)
        _add_cuts(lp, out, violated)
        if inside is None:
            inside = _feasible_point(lp, lower, upper, tol, out)
            if inside is None:
                return None, rounds, np.inf
        t = stack.boundary_step(inside, out)
        edge = inside + t * (out - inside)
        if not integer and lp.c @ edge <= lp.c @ inside:
            inside = edge
        edge_values = stack.values(edge)
        _add_cuts(lp, edge, np.flatnonzero((edge_values > -1e-7) & (violation > tol)))
        bound = float(lp.c @ out)
        if stop_below is not None and float(lp.c @ inside) < stop_below:
            return inside, rounds, float(stack.values(inside).max(initial=0.0))
        if not integer and float(lp.c @ inside) - bound <= GAP_TOLERANCE * max(1.0, abs(bound)):
            return inside, rounds, float(stack.values(inside).max(initial=0.0))
    raise RuntimeError(f"cutting planes did not converge in {MAX_CUT_ROUNDS} rounds "
                       f"(largest violation {worst:.3g} wt%)")


def _feasible_point(lp: LinearProgram, lower: np.ndarray, upper: np.ndarray, tol: float,
                    start: np.ndarray) -> np.ndarray | None:
    """A point satisfying every row and cone, or None if there is none.

    First the inner approximation ||u||_2 <= ||u||_1 (d and v are non-negative, so each
    cone becomes one linear row that implies it) with the same objective; if that is too
    conservative, a phase-1 program min s subject to cone_k(v) <= s, started from
    ``start`` with s above every violation.
    """
    inner = [(k, c.a + c.z * c.d, -c.a0 - c.z * c.d0) for k, c in enumerate(lp.cones)]
    probe = replace(lp, integrality=np.zeros_like(lp.integrality), cuts=list(lp.cuts) + inner)
    result = _solve(probe, lower, upper, integer=False, duals=False)
    if result is not None and cone_values(lp.cones, result[0]).max(initial=0.0) <= 0:
        return result[0]
    n = lp.c.size
    phase = LinearProgram(
        c=np.append(np.zeros(n), 1.0), A=np.column_stack([lp.A, np.zeros(lp.A.shape[0])]),
        row_lo=lp.row_lo, row_hi=lp.row_hi, lower=np.append(lower, -1.0), upper=np.append(upper, np.inf),
        integrality=np.zeros(n + 1, dtype=int),
        cones=[Cone(np.append(c.a, -1.0), c.a0, np.append(c.d, 0.0), c.d0, c.z) for c in lp.cones])
    phase.cuts = [(k, np.append(g, -1.0), h) for k, g, h in lp.cuts]
    start_s = float(cone_values(lp.cones, start).max(initial=0.0)) + 1.0
    # stop at the first strictly feasible point; a phase-1 optimum above tol means no feasible point
    point, _, _ = _in_out(phase, phase.lower, phase.upper, tol, np.append(start, start_s), stop_below=0.0)
    if point is None or point[-1] > tol:
        return None
    return point[:n]


def _solve(lp: LinearProgram, lower: np.ndarray, upper: np.ndarray, *, integer: bool, duals: bool):
    """One HiGHS solve with all cuts; None when infeasible."""
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
    session = LpSession(lp, lower, upper)
    return session.solve(duals=duals)


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
    return h


class LpSession:
    """One HiGHS LP kept alive across cutting-plane rounds.

    New cuts are appended as rows and the dual simplex restarts from the last basis,
    so a round costs a fraction of a cold solve.
    """

    def __init__(self, lp: LinearProgram, lower: np.ndarray, upper: np.ndarray):
        self.lp = lp
        h = _new_highs()
        h.setOptionValue("output_flag", False)
        for key, value in _HIGHS_LP.items():
            h.setOptionValue(key, value)
        n = lp.c.size
        inf = highspy.kHighsInf
        h.addVars(n, np.where(np.isfinite(lower), lower, -inf), np.where(np.isfinite(upper), upper, inf))
        h.changeColsCost(n, np.arange(n, dtype=np.int32), lp.c.astype(float))
        self.h = h
        self.n_rows = lp.A.shape[0]
        self._add(lp.A, lp.row_lo, lp.row_hi)
        self.n_cuts = 0
        self.sync()

    def _add(self, A: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        if not len(A):
            return
        inf = highspy.kHighsInf
        A = np.asarray(A, dtype=float)
        mask = A != 0
        starts = np.concatenate([[0], np.cumsum(mask.sum(axis=1))[:-1]]).astype(np.int32)
        index = np.nonzero(mask)[1].astype(np.int32)
        self.h.addRows(A.shape[0], np.where(np.isfinite(lo), lo, -inf), np.where(np.isfinite(hi), hi, inf),
                       int(mask.sum()), starts, index, A[mask])

    def sync(self) -> None:
        """Add the cuts found since the last call."""
        new = self.lp.cuts[self.n_cuts:]
        if new:
            G = np.array([g for _, g, _ in new])
            self._add(G, np.full(len(new), -np.inf), np.array([h for _, _, h in new]))
            self.n_cuts = len(self.lp.cuts)

    def solve(self, *, duals: bool = False):
        """(v, row duals, cut duals, upper-bound duals), or None when infeasible."""
        self.sync()
        self.h.run()
        status = self.h.getModelStatus()
        if status == highspy.HighsModelStatus.kInfeasible:
            return None
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"HiGHS LP failed: {self.h.modelStatusToString(status)}")
        sol = self.h.getSolution()
        v = np.array(sol.col_value)
        if not duals:
            return v, None, None, None
        row_dual = np.array(sol.row_dual)
        col_dual = np.array(sol.col_dual)
        upper = np.array(self.h.getLp().col_upper_)
        at_upper = np.isfinite(upper) & (v >= upper - 1e-9)
        return v, row_dual[:self.n_rows], row_dual[self.n_rows:], np.where(at_upper, np.minimum(col_dual, 0), 0.0)
