"""Cutting planes carried between solves (CutPool) and the certified cost stage (issue 31)."""

from dataclasses import replace

import numpy as np
import pytest
from numpy.testing import assert_allclose

from blending.campaign import greedy_campaign, heat_model
from blending.optimise import solve
from blending.solver.outer_approximation import CutPool
from blending.solver.program import ConeStack
from research.campaign_cases import plant_case
from tests.support.chance import per_limit_probability


@pytest.fixture(scope="module")
def six_heats():
    # 3104, 5182, 6063, 3104, 6061, 3104: two heats of 3104 after a first, so the pool is used
    return plant_case(6, seed=0)


def test_seeded_greedy_plan_equals_the_unseeded_one_and_holds_every_chance_constraint(six_heats):
    heats, lots = six_heats
    seeded = greedy_campaign(heats, lots, draws=0)
    cold = greedy_campaign(heats, lots, draws=0, reuse=False)
    assert seeded.status == cold.status == "optimal"
    assert_allclose(seeded.recycled_kg, cold.recycled_kg, rtol=1e-6)
    assert_allclose(seeded.cost, cold.cost, rtol=1e-6)
    for plan in (seeded, cold):
        for lot, used in zip(lots, plan.use_kg(), strict=True):
            assert lot.available_kg is None or used <= lot.available_kg + 1e-6
        for hp in plan.heats:
            model = heat_model(hp.heat, lots)
            assert model.metal_yield @ hp.x_kg == pytest.approx(hp.heat.mass_kg, rel=1e-8)
            p = per_limit_probability(model, hp.x_kg)
            # cones hold to 1e-9 wt%; at sds of 0.01 wt% that is 1e-7 in z
            assert np.all(p >= np.array(hp.limit_confidence) - 1e-6), hp.heat.name


@pytest.mark.parametrize(("first", "second"), [(0.999, 0.9), (0.9, 0.999)])
def test_cuts_taken_at_one_confidence_stay_valid_at_another(six_heats, first, second):
    """z only enters the row defining tau, not the small cones the cuts approximate: a pool
    filled at one confidence (and full stock) seeds a solve at another (and less stock)
    without moving its optimum."""
    heats, lots = six_heats
    heat = heats[4]                                   # 6061: the heat with the most cuts
    pool = CutPool()
    solve(heat_model(heat, lots).with_confidence(first), "recycled", pool=pool)
    assert len(pool) > 0
    model = heat_model(heat, lots).with_confidence(second)
    model = replace(model, upper=np.minimum(model.upper, 0.02))     # at most 2% of the heat per lot
    seeded = solve(model, "recycled", pool=pool)
    cold = solve(model, "recycled")
    assert seeded.status == cold.status == "optimal"
    assert_allclose(seeded.stage_values, cold.stage_values, rtol=1e-7)
    p = per_limit_probability(model, model.kg(seeded.v))
    assert np.all(p >= np.array(model.confidence) - 1e-6)


def test_the_6061_cost_stage_ends_on_a_certified_optimum(six_heats):
    """Its KKT residual sums terms of 1e4; with an absolute 1e-13 test it never certified and
    the cost stage ended on the cutting planes' tolerance (cones off by up to 1e-9 wt%)."""
    heats, lots = six_heats
    model = heat_model(heats[4], lots)
    sol = solve(model, "recycled")
    worst = float(ConeStack(model.cones, model.n).values(sol.v).max(initial=0.0))
    assert worst <= 1e-12
