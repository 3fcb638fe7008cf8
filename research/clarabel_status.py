"""The one status a cvxpy reference may be trusted with: "optimal".

Clarabel returns "optimal_inaccurate" when it stops on its reduced tolerances (5e-5 on the gap):
such a value is looser than the 1e-6 the tests hold the solver under test to, so a reference
that took it would pass (or fail) the solver on the reference's own round-off. A reference
instead tries a ladder of settings and accepts the first answer Clarabel calls optimal; the
last rung, a relative gap of 1e-7, is still ten times tighter than any comparison made with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cvxpy as cp

# Clarabel's defaults are 1e-8; tighter so the reference is good to better than the 1e-6 checked.
TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}
# Tried in turn: tight; Clarabel's defaults when the tight tolerances stall; more equilibration
# passes; then a gap of 1e-7 (a later stage held within 1e-7 of an exact optimum is a thin sliver
# on which the interior point stalls at any tighter gap).
LADDER = (TIGHT, {}, {**TIGHT, "equilibrate_max_iter": 50},
          {"tol_gap_abs": 1e-7, "tol_gap_rel": 1e-7, "tol_feas": 1e-8})


class ReferenceNotOptimal(RuntimeError):
    """The reference solve ended with a status other than optimal (inaccurate, unbounded, ...)."""


def require_optimal(problem: cp.Problem, what: str) -> None:
    """Raise :class:`ReferenceNotOptimal` naming ``what`` unless ``problem`` was solved to optimality."""
    if problem.status != cp.OPTIMAL:
        raise ReferenceNotOptimal(f"{what}: Clarabel ended {problem.status!r}; a reference must be 'optimal'")


def solve_optimal(problem: cp.Problem, what: str, ladder: Sequence[Mapping] = LADDER, *,
                  infeasible_ok: bool = False) -> bool:
    """Solve ``problem`` with Clarabel, each setting of ``ladder`` in turn until one ends "optimal".

    Returns True when optimal, False when Clarabel proves it infeasible and ``infeasible_ok``;
    raises :class:`ReferenceNotOptimal` otherwise (never accepts "optimal_inaccurate").
    """
    for options in ladder:
        try:
            problem.solve(solver=cp.CLARABEL, **options)
        except cp.error.SolverError:
            continue
        if problem.status == cp.OPTIMAL:
            return True
        if problem.status == cp.INFEASIBLE and infeasible_ok:
            return False
    require_optimal(problem, what)
    return True
