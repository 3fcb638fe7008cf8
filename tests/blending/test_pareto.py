"""Pareto fronts: monotone, non-dominated, ends equal to the core optimiser, a point equal to Clarabel."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from blending.catalogue.materials import get_material
from blending.charge_model import build_charge_model
from blending.lot import Lot
from blending.melt import Melt
from blending.optimise import solve
from blending.pareto import pareto_front, plot_pareto
from research.campaign_socp_reference import front_point

M = 20000.0
CONFIDENCE = 0.95


@pytest.fixture(scope="module")
def lots():
    # scarce clean scrap, plenty of UBC, run-around that is cheap and low in CO2e but not recycled content
    return [Lot(get_material("UBC"), 16000), Lot(get_material("can plant scrap body"), 4000),
            Lot(get_material("can plant scrap end"), 2500), Lot(get_material("run-around 3104"), 3000),
            Lot(get_material("P1020")), Lot(get_material("Mn 75 tablets")), Lot(get_material("Mg ingot"))]


@pytest.fixture(scope="module")
def model(lots):
    from blending.catalogue.spec import get_alloy
    return build_charge_model(lots, Melt(M), get_alloy("3104"), confidence=CONFIDENCE)


@pytest.fixture(scope="module")
def front(model):
    return pareto_front(model, 12)


@pytest.mark.parametrize("term", ["cost", "co2"])
def test_front_is_monotone_and_non_dominated(front, term):
    pts = front.fronts[term]
    r = np.array([p.recycled_fraction for p in pts])
    y = np.array([p.cost if term == "cost" else p.co2e_kg for p in pts])
    assert len(pts) == 12
    assert np.all(np.diff(r) > 0)
    assert np.all(np.diff(y) >= -1e-6 * abs(y).max())
    # the optimal value of a convex program is convex in its right-hand side (levels are evenly spaced)
    assert np.all(np.diff(y, 2) >= -1e-6 * abs(y).max())
    for i in range(len(pts)):
        dominated = (r >= r[i] - 1e-12) & (y <= y[i] - 1e-6 * abs(y[i])) & ((r > r[i] + 1e-9) | (y < y[i]))
        assert not dominated.any(), f"point {i} of the {term} front is dominated"


def test_front_ends_equal_the_core_single_objective_optima(model, front):
    cheapest = solve(model, "cost")
    most = solve(model, "recycled")
    left, right = front.fronts["cost"][0], front.fronts["cost"][-1]
    assert_allclose(left.cost, cheapest.stage_values[0] * M, rtol=1e-6)
    assert_allclose(left.recycled_fraction, model.term("recycled", cheapest.v), rtol=1e-6)
    assert_allclose(right.recycled_fraction, -most.stage_values[0], rtol=1e-6)
    assert_allclose(right.cost, most.stage_values[1] * M, rtol=1e-6)
    greenest = solve(model, "co2")
    assert_allclose(front.fronts["co2"][0].co2e_kg, greenest.stage_values[0] * M, rtol=1e-6)


@pytest.mark.parametrize(("term", "k"), [("cost", 5), ("co2", 7)])
def test_a_front_point_equals_an_independent_clarabel_solve(lots, model, front, term, k):
    from blending.catalogue.spec import get_alloy
    point = front.fronts[term][k]
    value, x = front_point(lots, M, get_alloy("3104"), CONFIDENCE, term, point.recycled_fraction)
    assert_allclose(point.cost if term == "cost" else point.co2e_kg, value, rtol=1e-6)


def test_each_point_meets_every_chance_constraint(model, front):
    for pts in front.fronts.values():
        for p in pts:
            v = model.variables(np.array(p.charge_kg))
            assert max(c.value(v) for c in model.cones) <= 1e-8


def test_plot_and_json(front, tmp_path):
    path = plot_pareto(front, tmp_path / "front.png")
    assert path.stat().st_size > 10_000
    data = front.to_json()
    assert len(data["cost_front"]) == 12 and 0 <= data["knee"]["cost"] < 12


def test_knee_is_the_corner_of_a_bent_front(front):
    from dataclasses import replace

    from blending.pareto import ParetoPoint
    # an L-shaped front (flat, then steep): the knee is the corner
    pts = tuple(ParetoPoint(r, c, 0.0, ()) for r, c in [(0.0, 0.0), (0.5, 0.1), (0.8, 0.2), (0.9, 1.0), (1.0, 3.0)])
    assert replace(front, fronts={"cost": pts}).knee("cost") == 2


def test_infeasible_model_and_bad_points_are_refused(lots, model):
    from blending.catalogue.spec import get_alloy
    with pytest.raises(ValueError, match="at least 2 points"):
        pareto_front(model, 1)
    impossible = build_charge_model([Lot(get_material("UBC"), 100)], Melt(M), get_alloy("3104"))
    with pytest.raises(ValueError, match="no charge meets 3104"):
        pareto_front(impossible, 5)
