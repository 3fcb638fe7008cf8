"""The certified optimum from an LP's active set: against Clarabel on the same cone program,
never a wrong point from a wrong active set, and multipliers that are derivatives."""

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import blending.solver.outer_approximation as oa
from blending.charge_model import build_charge_model
from blending.solver.active_set import kkt_point
from blending.solver.cutting_planes import solve_with_cuts
from blending.solver.program import ConeStack
from research.synthetic_heats import random_heat


def _program(seed, n_lots=24, n_elements=10):
    lots, melt, spec = random_heat(seed, n_lots=n_lots, n_elements=n_elements)
    model = build_charge_model(lots, melt, spec, confidence=0.95)
    return model.program(model.terms["cost"])


def _clarabel(lp):
    """min c.v over the rows, bounds and cones, written straight from the program's arrays."""
    v = cp.Variable(lp.c.size)
    cons = [v >= lp.lower, v <= np.where(np.isfinite(lp.upper), lp.upper, 1e6)]
    for r in range(lp.A.shape[0]):
        if np.isfinite(lp.row_lo[r]):
            cons.append(lp.A[r] @ v >= lp.row_lo[r])
        if np.isfinite(lp.row_hi[r]):
            cons.append(lp.A[r] @ v <= lp.row_hi[r])
    for cone in lp.cones:
        spread = cp.norm(cp.hstack([cp.multiply(cone.d, v), np.array([cone.d0])]), 2)
        cons.append(cone.a @ v + cone.a0 + cone.z * spread <= 0)
    problem = cp.Problem(cp.Minimize(lp.c @ v), cons)
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    assert problem.status == "optimal"
    return problem.value


def _lp_point(lp, tol, monkeypatch):
    """Cutting rounds alone (no polish) to ``tol``: the lifted model and its LP solution."""
    monkeypatch.setattr(oa, "POLISH_BELOW", -1.0)
    lifted = oa.Lifted(lp, lp.lower, lp.upper)
    stack = ConeStack(lp.cones, lp.c.size)
    x, _, _ = oa.rounds(lifted, stack, tol)
    return lifted, stack, x


@pytest.mark.parametrize("seed", [2, 5, 6, 8])
def test_polish_of_an_lp_point_is_clarabels_optimum(seed, monkeypatch):
    lp = _program(seed)
    lifted, stack, x = _lp_point(lp, 1e-6, monkeypatch)
    certified = lifted.polish(x, stack, 1e-9)
    assert certified is not None
    v = certified[:lp.c.size]
    assert stack.values(v).max() <= 1e-9
    assert np.all(v >= lp.lower - 1e-10) and np.all(v <= lp.upper + 1e-10)
    assert np.all(lp.A @ v >= lp.row_lo - 1e-9) and np.all(lp.A @ v <= lp.row_hi + 1e-9)
    assert lp.c @ v == pytest.approx(_clarabel(lp), rel=1e-8)
    # the LP is a relaxation: its objective is a lower bound on the certified one
    assert lp.c @ x[:lp.c.size] <= lp.c @ v + 1e-12


@pytest.fixture(scope="module")
def coarse():
    """A program, Clarabel's optimum, and a cutting-plane LP point 1e-4 wt% off the cones."""
    lp = _program(3)
    with pytest.MonkeyPatch.context() as mp:
        return lp, _clarabel(lp), _lp_point(lp, 1e-4, mp)


def test_the_lp_active_set_is_certified(coarse):
    lp, optimum, (lifted, stack, x) = coarse
    certified = lifted.polish(x, stack, 1e-9)
    assert certified is not None
    assert lp.c @ certified[:lp.c.size] == pytest.approx(optimum, rel=1e-8)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_a_wrong_active_set_gives_none_or_the_optimum(coarse, data):
    # the chance constraints the LP binds, with some left out and others added: the
    # certificate must refuse any point that is not the optimum, whatever the guess
    lp, optimum, (lifted, stack, x) = coarse
    row_dual = np.array(lifted.h.getSolution().row_dual)
    binding = [k for k in lifted.uncertain if abs(row_dual[lifted.cone_row[k]]) > 1e-12]
    others = [k for k in lifted.uncertain if k not in binding]
    dropped = data.draw(st.lists(st.sampled_from(binding), unique=True, max_size=2))
    added = data.draw(st.lists(st.sampled_from(others), unique=True, max_size=2))
    guess = np.array(sorted(set(binding) - set(dropped) | set(added)), dtype=int)
    rows = np.array(lifted.v_rows)
    A = np.array(lifted._v_coeffs).reshape(rows.size, lp.c.size)
    point = kkt_point(lp.c, x[:lp.c.size], lp.lower, lp.upper, A, np.array(lifted.row_lo)[rows],
                      np.array(lifted.row_hi)[rows], stack, guess, 1e-9)
    if point is not None:
        assert stack.values(point.v).max() <= 1e-9
        assert lp.c @ point.v == pytest.approx(optimum, rel=1e-8)
    if not dropped and not added:
        assert point is not None


def test_the_optimum_of_one_objective_is_not_certified_for_another(coarse):
    # on the same active set Newton's method converges for any objective; only the signs of
    # the multipliers tell that the most expensive charge is not the cheapest
    lp, _, (lifted, stack, x) = coarse
    certified = lifted.polish(x, stack, 1e-9)
    assert certified is not None
    rows = np.array(lifted.v_rows)
    A = np.array(lifted._v_coeffs).reshape(rows.size, lp.c.size)
    dearest = kkt_point(-lp.c, certified[:lp.c.size], lp.lower, lp.upper, A, np.array(lifted.row_lo)[rows],
                        np.array(lifted.row_hi)[rows], stack, lifted.kkt.binding, 1e-9)
    # either the certificate refuses (None), or it moved the active set all the way to the dearest
    # charge: never the cheapest point certified for the opposite objective
    flipped = type(lp)(-lp.c, lp.A, lp.row_lo, lp.row_hi, lp.lower, lp.upper, lp.integrality, lp.cones)
    assert dearest is None or -lp.c @ dearest.v == pytest.approx(_clarabel(flipped), rel=1e-8)
    assert dearest is None or not np.allclose(dearest.v, certified[:lp.c.size])
    # the same call with the objective it was solved for certifies the cheapest point (so a None
    # above is the objective's doing, not a call that cannot succeed)
    cheapest = kkt_point(lp.c, certified[:lp.c.size], lp.lower, lp.upper, A, np.array(lifted.row_lo)[rows],
                         np.array(lifted.row_hi)[rows], stack, lifted.kkt.binding, 1e-9)
    assert cheapest is not None
    assert lp.c @ cheapest.v == pytest.approx(lp.c @ certified[:lp.c.size], rel=1e-10)


def test_cone_multipliers_are_the_derivative_of_the_optimum():
    # d objective / d (right-hand side of limit k) against a central finite difference
    lp = _program(4)
    base = solve_with_cuts(lp)
    assert base.status == "optimal"
    binding = np.flatnonzero(base.cone_marginals < -1e-6)
    assert binding.size
    for k in binding[:3]:
        step = 1e-5
        values = []
        for sign in (1, -1):
            cones = list(lp.cones)
            cones[k] = type(cones[k])(cones[k].a, cones[k].a0 - sign * step, cones[k].d, cones[k].d0, cones[k].z)
            moved = solve_with_cuts(type(lp)(lp.c, lp.A, lp.row_lo, lp.row_hi, lp.lower, lp.upper,
                                             lp.integrality, cones), duals=False)
            values.append(moved.objective)
        assert base.cone_marginals[k] == pytest.approx((values[0] - values[1]) / (2 * step), rel=1e-3)
