"""Compliance of optimised recipes checked by a Monte Carlo of the lots themselves.

Each lot's element contents are drawn independently (normal, the model's assumption),
the melt is blended draw by draw with yields, recoveries and heel, and each limit's
hit rate is compared with the confidence asked for: within 0.5 percentage points where
the chance constraint binds, at least that where it is slack.
"""

import numpy as np
import pytest

from blending.charge_model import build_charge_model, chemistry_limits
from blending.optimise import optimise
from blending.solver.program import ConeStack
from research.synthetic_heats import random_heat

DRAWS = 100_000


def lot_monte_carlo(model, x_kg, limits, seed):
    rng = np.random.default_rng(seed)
    melt = model.melt
    metal = np.array([lot.material.metal_yield for lot in model.lots]) * x_kg
    liquid = melt.heel_kg + metal.sum()
    mass = {}
    for e in model.elements:
        mean = np.array([lot.material.composition[e] for lot in model.lots])
        sd = np.array([lot.material.sd(e) for lot in model.lots])
        draws = rng.normal(mean, sd, size=(DRAWS, len(model.lots)))      # wt%, one column per lot
        mass[e] = melt.heel_kg * melt.heel_composition[e] / 100 + draws @ (metal * melt.recovery(e)) / 100
    ok_all = np.ones(DRAWS, dtype=bool)
    rates = []
    for lim in limits:
        wt = 100 * sum(mass[e] for e in lim.elements) / liquid
        ok = lim.sense * (wt - lim.rhs_wt_pct) <= 0
        rates.append(ok.mean())
        ok_all &= ok
    return np.array(rates), ok_all.mean()


@pytest.mark.parametrize("seed, heel", [(4, False), (9, True)])
def test_each_limit_holds_with_the_confidence_asked(seed, heel):
    lots, melt, spec = random_heat(seed, heel=heel)
    model = build_charge_model(lots, melt, spec, confidence=0.95)
    solution = optimise(model)
    assert solution.status == "optimal"
    rates, _ = lot_monte_carlo(model, solution.x_kg, list(model.limits), seed=seed)
    values = ConeStack(model.cones, model.n).values(solution.v)
    stochastic = model.stochastic()
    binding = stochastic & (values > -1e-7)
    assert binding.any()
    np.testing.assert_allclose(rates[binding], 0.95, atol=0.005)
    assert np.all(rates[~binding] >= 0.95 - 0.005)


def test_joint_confidence_is_met():
    lots, melt, spec = random_heat(13)  # a heat where the risk is reallocated between limits
    model = build_charge_model(lots, melt, spec, joint_confidence=0.9)
    solution = optimise(model)
    assert solution.status == "optimal"
    limits = chemistry_limits(spec, model.elements)
    _, joint = lot_monte_carlo(model, solution.x_kg, limits, seed=1)
    assert joint >= 0.9 - 0.005
