"""The cvxpy references refuse an answer Clarabel calls "optimal_inaccurate"."""

from types import SimpleNamespace

import cvxpy as cp
import pytest

from research.blend_socp_reference import reference_solve
from research.clarabel_status import LADDER, ReferenceNotOptimal, require_optimal
from research.synthetic_heats import random_heat


@pytest.mark.parametrize("status", [cp.OPTIMAL_INACCURATE, cp.INFEASIBLE_INACCURATE, cp.UNBOUNDED,
                                    cp.USER_LIMIT, cp.SOLVER_ERROR])
def test_any_status_but_optimal_is_refused_by_name(status):
    with pytest.raises(ReferenceNotOptimal, match=f"heat 7: Clarabel ended '{status}'"):
        require_optimal(SimpleNamespace(status=status), "heat 7")


def test_optimal_is_accepted():
    assert require_optimal(SimpleNamespace(status=cp.OPTIMAL), "heat 7") is None


def test_the_blend_reference_retries_then_refuses_an_inaccurate_optimum(monkeypatch):
    lots, melt, spec = _heat()
    assert reference_solve(lots, melt, spec, 0.9) is not None       # the real solve is optimal
    solve, calls = cp.Problem.solve, []

    def inaccurate(self, *args, **kwargs):
        value = solve(self, *args, **kwargs)
        self._status = cp.OPTIMAL_INACCURATE
        calls.append(kwargs)
        return value

    monkeypatch.setattr(cp.Problem, "solve", inaccurate)
    with pytest.raises(ReferenceNotOptimal, match="optimal_inaccurate"):
        reference_solve(lots, melt, spec, 0.9)
    assert len(calls) == len(LADDER)                                 # every setting was tried


def _heat():
    return random_heat(5)
