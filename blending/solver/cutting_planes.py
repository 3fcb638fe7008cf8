"""Cutting planes: the cone program solved exactly to a stated tolerance on HiGHS.

Solve, cut every violated cone at the solution, repeat until the largest violation is
below tolerance (Kelley 1960). The cuts are made in the extended formulation of
:mod:`blending.solver.outer_approximation`, which converges in a few rounds where cuts
on the aggregated norm take hundreds; and once an LP's solution shows which lots, rows
and limits bind, Newton's method on the optimality conditions of that active set gives
the exact optimum, accepted only with a KKT certificate (:mod:`blending.solver.active_set`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from blending.errors import SolverError
from blending.solver.outer_approximation import CutPool, Lifted, rounds
from blending.solver.program import (
    CONE_TOLERANCE_WT_PCT,
    MAX_MILP_ROUNDS,
    MILP_TIE_BREAK,
    MILP_TOLERANCE_WT_PCT,
    ConeStack,
    CutSolution,
    LinearProgram,
)


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
                 tol: float = CONE_TOLERANCE_WT_PCT, warm_weight: float = 1e-3,
                 on_stage: Callable[[int], None] | None = None, keep_going: bool = False,
                 pool: CutPool | None = None) -> list[CutSolution]:
    """Lexicographic solve: minimise ``stages[0]``, then each next stage with the earlier
    ones held at their optimum (plus ``hold`` relative), on one kept-alive HiGHS model.

    A first pass minimises ``stages[0] + warm_weight * stages[1]``: a unique optimum whose
    cuts and basis carry over, so that a flat first stage (many blends reach the same
    recycled content) starts at a vertex that is already optimal instead of wandering.
    The first stage's solution carries the duals (shadow prices). Returns one
    CutSolution per stage, or the infeasible first one.

    ``on_stage(s)`` is called as stage s starts (s = -1: the warm first pass), for a
    progress display. With ``keep_going``, a stage whose LPs fail numerically
    (:class:`~blending.errors.SolverError`) ends the list with a CutSolution of status
    ``"failed"`` and the reason in ``message``, after the stages solved before it (the
    best plan so far), instead of raising.

    ``pool`` (:class:`~blending.solver.outer_approximation.CutPool`): cuts from an earlier
    solve of a program with the same limits over the same lots start the rounds, and this
    solve's cuts replace them in the pool (valid whatever the confidence and stock bounds).
    """
    try:
        return _solve_stages(lp, stages, hold, tol, warm_weight, on_stage or (lambda s: None), pool)
    except _StageFailed as failed:
        if not keep_going:
            raise failed.error from None
        return [*failed.done, CutSolution("failed", None, None, None, None, failed.rounds, np.inf,
                                          message=f"stage {failed.stage + 1} of {len(stages)}: {failed.error}",
                                          stage=failed.stage)]


class _StageFailed(Exception):
    def __init__(self, error: SolverError, done: list[CutSolution], stage: int, rounds: int):
        super().__init__(str(error))
        self.error, self.done, self.stage, self.rounds = error, done, stage, rounds


def _solve_stages(lp, stages, hold, tol, warm_weight, on_stage, pool=None) -> list[CutSolution]:
    lifted = Lifted(replace(lp, c=stages[0]), lp.lower, lp.upper, pool=pool)
    try:
        return _run_stages(lifted, lp, stages, hold, tol, warm_weight, on_stage)
    finally:
        if pool is not None:
            lifted.export(pool)


def _run_stages(lifted, lp, stages, hold, tol, warm_weight, on_stage) -> list[CutSolution]:
    n = lp.c.size
    stack = ConeStack(lp.cones, n)
    integer = bool(np.any(lp.integrality))
    fixed = lp.integrality.astype(bool)
    total = 0
    out: list[CutSolution] = []

    def guarded(stage: int, *args, **kwargs):
        try:
            return rounds(*args, **kwargs)
        except SolverError as exc:
            raise _StageFailed(exc, out, stage, total) from exc

    if len(stages) > 1:
        on_stage(-1)
        lifted.set_objective(stages[0] + warm_weight * stages[1])
        x, r, _ = guarded(0, lifted, stack, tol)
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
        try:
            counts = _choose_units(lifted, stack, lp, max(tol, MILP_TOLERANCE_WT_PCT))
        except SolverError as exc:
            raise _StageFailed(exc, out, 0, total) from exc
        if counts is None:
            return [CutSolution("infeasible", None, None, None, None, total, np.inf)]
        lower, upper = lp.lower.copy(), lp.upper.copy()
        lower[fixed] = upper[fixed] = counts
        lifted.set_bounds(lower, upper)
    for s, c in enumerate(stages):
        on_stage(s)
        lifted.set_objective(c)
        x, r, worst = guarded(s, lifted, stack, tol)
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


