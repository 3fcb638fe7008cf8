"""The cone program's optimum from the active set an outer-approximation LP has found.

Cutting planes pin the optimum of a cone program only slowly: the LP's solution sits on a
vertex of the tangent planes, and the error in the small cones' ratios halves with each
round (Kelley 1960), so tolerance 1e-9 wt% takes some fifteen rounds. The LP finds the
optimum's *structure* much sooner: which lots are in the charge and below their
availability (free), which lots and rows sit on a bound, which chance constraints bind.
On that active set the optimality (KKT) conditions of the cone program,

    c_F + sum_k lambda_k grad g_k(v)_F + A_RF' mu = 0      (stationarity on the free lots)
    g_k(v) = 0                                             (binding chance constraints)
    A_R v = b_R                                            (binding linear rows)

with ``g_k(v) = a_k . v + a0_k + z_k || (d_k v, d0_k) ||``, are smooth equations that
Newton's method solves to round-off in a few steps (Nocedal and Wright, Numerical
Optimization, 2nd ed., 2006, sections 18.1 and 16.1). The point is accepted only with a
certificate: every chance constraint, row and bound holds at it, and the multipliers have
the signs of a KKT point (lambda >= 0, rows and bounds pushing the right way). The cone
program is convex (z >= 0), so such a point is its optimum (Boyd and Vandenberghe, Convex
Optimization, 2004, section 5.5.3); without the certificate the rounds simply go on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from blending.solver.program import ConeStack

MAX_NEWTON_STEPS = 8
# Changes to the LP's active set (a lot freed or stopped on a bound, a constraint dropped or
# added) before giving up on it.
MAX_CHANGES = 4
# A row this close to a bound at the LP solution (relative) is taken as binding.
ROW_ACTIVE = 1e-9
# Newton stops when every KKT residual is below this, relative to the size of the terms it
# sums where they exceed 1 [objective units, wt%, row units].
KKT_RESIDUAL = 1e-13
# Multipliers and reduced costs may have the wrong sign by this much, relative to the
# largest cost, and the point is still optimal to within it (round-off of a degenerate vertex).
SIGN_TOLERANCE = 1e-10
# Rows and bounds must hold at the point to this [their units], as HiGHS holds them.
ROW_TOLERANCE = 1e-10


@dataclass(frozen=True)
class KKTPoint:
    """A certified optimum of the cone program and its multipliers.

    ``cone_multipliers[k]`` >= 0 prices chance constraint k (d objective / d its
    right-hand side is minus it), ``row_multipliers[r]`` the linear row r (same
    convention; zero off the active set), ``reduced_costs[i]`` the bound of variable i.
    """

    v: np.ndarray
    cone_multipliers: np.ndarray
    row_multipliers: np.ndarray
    reduced_costs: np.ndarray
    binding: np.ndarray               # the chance constraints held at equality
    newton_steps: int


def kkt_point(c: np.ndarray, v: np.ndarray, lower: np.ndarray, upper: np.ndarray, A: np.ndarray,
              row_lo: np.ndarray, row_hi: np.ndarray, stack: ConeStack, binding: np.ndarray,
              tol: float) -> KKTPoint | None:
    """Newton's method on the KKT equations of ``min c.v`` over the rows, bounds and cones,
    on the active set seen at ``v`` (an LP solution, feasible for the rows and bounds) with
    the chance constraints ``binding``; the certified optimum, or None.

    ``tol`` [wt%] is how far a chance constraint off the active set may be violated. When
    the active set is nearly the optimum's it is corrected as in a primal active-set method
    (Nocedal and Wright, section 16.5), at most ``MAX_CHANGES`` times: a lot on a bound that
    would rather move is freed, a constraint that would rather not bind is dropped, and a
    Newton step that would cross a row or bound stops on it, which joins the active set.
    """
    v = v.astype(float).copy()
    if np.any(v < lower - ROW_TOLERANCE) or np.any(v > upper + ROW_TOLERANCE):
        return None                               # a start from before the bounds moved
    with np.errstate(invalid="ignore"):           # infinite bounds
        at_lower = v <= lower + 1e-11 * np.maximum(1.0, np.abs(lower))
        at_upper = v >= upper - 1e-11 * np.maximum(1.0, np.abs(upper))
    movable = ~(at_lower & at_upper)              # a lot whose bounds coincide never moves
    free = ~at_lower & ~at_upper
    activity = A @ v
    on_lo = np.isfinite(row_lo) & (np.abs(activity - row_lo) <= ROW_ACTIVE * np.maximum(1.0, np.abs(row_lo)))
    on_hi = np.isfinite(row_hi) & (np.abs(activity - row_hi) <= ROW_ACTIVE * np.maximum(1.0, np.abs(row_hi)))
    B = np.asarray(binding, dtype=int)
    eps = SIGN_TOLERANCE * max(1.0, float(np.max(np.abs(c))))
    steps = 0
    for _ in range(MAX_CHANGES + 1):
        R = np.flatnonzero(on_lo | on_hi)
        F = np.flatnonzero(free)
        if F.size == 0 or B.size == 0:
            return None
        solved = _newton(c, v, F, A[R], np.where(on_hi, row_hi, row_lo)[R], stack, B)
        if solved is None:
            return None
        target, lam, mu, n_steps = solved
        steps += n_steps
        blocked = _first_blocking(v, target - v, lower, upper, A, row_lo, row_hi, free, on_lo | on_hi)
        if blocked is not None:                   # stop on the row or bound the step would cross
            alpha, j, is_row, at_high = blocked
            v = v + alpha * (target - v)
            if is_row:
                (on_hi if at_high else on_lo)[j] = True
            else:
                free[j] = False
                (at_upper if at_high else at_lower)[j] = True
                v[j] = upper[j] if at_high else lower[j]
            continue
        v = np.clip(target, lower, upper)
        # the certificate: the rows and chance constraints hold (a start off a moved row
        # bound is not caught by the blocking test), and the multipliers have KKT signs
        activity = A @ v
        if np.any(activity < row_lo - ROW_TOLERANCE) or np.any(activity > row_hi + ROW_TOLERANCE):
            return None
        if stack.values(v).max(initial=0.0) > tol:
            return None
        s = np.sqrt((stack.D[B] ** 2) @ (v * v) + stack.d0[B] ** 2)
        grad = stack.A[B] + (stack.z[B] / s)[:, None] * stack.D[B] ** 2 * v
        reduced = c + grad.T @ lam + A[R].T @ mu
        wrong = [  # how far each multiplier has the wrong sign, per kind of constraint
            np.maximum(-lam, 0.0),
            np.where(on_hi[R] & ~on_lo[R], -mu, 0.0) + np.where(on_lo[R] & ~on_hi[R], mu, 0.0),
            np.where(at_lower & ~free & movable, -reduced, 0.0) + np.where(at_upper & ~free & movable, reduced, 0.0),
        ]
        worst = [w.max(initial=0.0) for w in wrong]
        kind = int(np.argmax(worst))
        if worst[kind] <= eps:
            reduced[free] = 0.0
            cone_mult = np.zeros(stack.z.size)
            cone_mult[B] = np.maximum(lam, 0.0)
            row_mult = np.zeros(A.shape[0])
            row_mult[R] = mu
            return KKTPoint(v, cone_mult, row_mult, reduced, B, steps)
        j = int(np.argmax(wrong[kind]))
        if kind == 0:
            B = np.delete(B, j)                   # the constraint would rather not bind
        elif kind == 1:
            on_lo[R[j]] = on_hi[R[j]] = False     # the row would rather leave its bound
        else:
            free[j] = True                        # the lot would rather leave its bound
    return None


def _first_blocking(v: np.ndarray, d: np.ndarray, lower: np.ndarray, upper: np.ndarray, A: np.ndarray,
                    row_lo: np.ndarray, row_hi: np.ndarray, free: np.ndarray, active: np.ndarray):
    """The first bound of a free lot or inactive row that the step ``v + alpha d`` crosses
    for alpha in [0, 1]: (alpha, index, is a row, at its upper bound), or None."""
    best = None
    for is_row, x0, dx, lo, hi, watch in ((False, v, d, lower, upper, free),
                                          (True, A @ v, A @ d, row_lo, row_hi, ~active)):
        x1 = x0 + dx
        for at_high, crossed, bound in ((False, watch & (x1 < lo - ROW_TOLERANCE), lo),
                                        (True, watch & (x1 > hi + ROW_TOLERANCE), hi)):
            for j in np.flatnonzero(crossed):
                alpha = float(np.clip((bound[j] - x0[j]) / dx[j], 0.0, 1.0))
                if best is None or alpha < best[0]:
                    best = (alpha, int(j), is_row, at_high)
    return best


def _newton(c: np.ndarray, v: np.ndarray, F: np.ndarray, AR: np.ndarray, b: np.ndarray, stack: ConeStack,
            B: np.ndarray):
    """Newton's method on the KKT equations with the lots ``F`` free, rows ``AR v = b`` and
    chance constraints ``B`` binding, from ``v``: (v, lambda, mu, steps), or None when it
    does not converge quadratically. Only the free lots move, so everything the others
    contribute is summed once."""
    x = v[F].copy()
    rest = np.ones(v.size, dtype=bool)
    rest[F] = False
    D2 = stack.D[B] ** 2
    D2F, aF, cF, ARF = D2[:, F], stack.A[B][:, F], c[F], AR[:, F]
    s2_rest = D2[:, rest] @ v[rest] ** 2 + stack.d0[B] ** 2       # variance from the fixed lots
    g_rest = stack.A[B][:, rest] @ v[rest] + stack.a0[B]           # mean from the fixed lots
    row_rest = AR[:, rest] @ v[rest] - b
    z = stack.z[B]
    nf, nb = F.size, B.size
    m = nf + nb + b.size
    K = np.zeros((m, m))          # the KKT matrix; only its Hessian and gradient blocks change
    K[:nf, nf + nb:] = ARF.T
    K[nf + nb:, :nf] = ARF
    diagonal = np.arange(nf)
    lam = mu = None
    last = np.inf
    for step in range(MAX_NEWTON_STEPS + 1):
        s = np.sqrt(D2F @ (x * x) + s2_rest)
        Dv = D2F * x
        if not np.all(s > 0.0):   # a binding constraint with no spread (e.g. only a fixed heel): no gradient
            return None
        G = aF + (z / s)[:, None] * Dv                  # d g_k / d v_F
        if lam is None:                                 # least-squares multipliers at the start
            try:
                sol = np.linalg.lstsq(np.vstack([G, ARF]).T, -cF, rcond=None)[0]
            except np.linalg.LinAlgError:               # an ill-posed start: no certificate from here
                return None
            lam, mu = sol[:nb], sol[nb:]
        residual = np.concatenate([cF + G.T @ lam + ARF.T @ mu, aF @ x + g_rest + z * s, ARF @ x + row_rest])
        # each residual relative to the size of the terms it sums: on issue 31's 6061 heats the
        # cost stage's stationarity terms reach 1e4 (z / s with sds of 0.01 wt%), so round-off
        # alone leaves 1.8e-12 there and an absolute 1e-13 never certified (20 more LP rounds)
        scale = np.concatenate([np.abs(cF) + np.abs(G.T) @ np.abs(lam) + np.abs(ARF.T) @ np.abs(mu),
                                np.abs(aF) @ np.abs(x) + np.abs(g_rest) + z * s,
                                np.abs(ARF) @ np.abs(x) + np.abs(row_rest)])
        size = (np.abs(residual) / np.maximum(1.0, scale)).max(initial=0.0)
        if not size < np.inf:                           # NaN (s = 0) or overflow
            return None
        if size <= KKT_RESIDUAL:
            out = v.copy()
            out[F] = x
            return out, lam, mu, step
        if step == MAX_NEWTON_STEPS or (step >= 2 and size > 0.5 * last):
            return None           # not converging quadratically: the active set is not the optimum's
        last = size
        # Hessian of sum_k lambda_k g_k on the free lots
        weight = lam * z / s
        K[:nf, :nf] = -(Dv.T * (weight / s ** 2)) @ Dv
        K[diagonal, diagonal] += weight @ D2F
        K[:nf, nf:nf + nb] = G.T
        K[nf:nf + nb, :nf] = G
        _, _, delta, info = lapack.dgesv(K, -residual)  # LU; numpy's wrapper costs more than the solve
        if info != 0:                     # singular: a degenerate vertex, more rows than free lots
            try:
                delta = np.linalg.lstsq(K, -residual, rcond=None)[0]
            except np.linalg.LinAlgError:
                return None
        x += delta[:nf]
        lam = lam + delta[nf:nf + nb]
        mu = mu + delta[nf + nb:]
    return None
