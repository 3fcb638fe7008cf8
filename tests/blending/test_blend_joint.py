"""Joint probability of a recipe, the calibrated joint-risk allocation, and its value
against the deterministic LP aimed inside the spec, each checked by plain Monte Carlo."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import multivariate_normal, norm

from blending.catalogue.composition import Composition
from blending.catalogue.materials import Material
from blending.catalogue.materials import RecycledCategory as R
from blending.catalogue.spec import Limit, Spec
from blending.charge_model import build_charge_model
from blending.joint import JointProbability, optimise_calibrated, practice_fraction
from blending.lot import Lot
from blending.melt import Melt
from blending.optimise import optimise, solve
from blending.recipe import melt_chemistry, simulate_compliance

DRAWS = 200_000


def _lot(name, comp, sd, recycled, cost, kg=None):
    return Lot(Material(name, Composition(comp), sd, 0.95, recycled, cost, 1.0), available_kg=kg)


def _lots():
    # Fe-rich scrap with a wide Fe spread, Cu-rich scrap with a narrow one, and primary to dilute
    return [
        _lot("Fe-rich scrap", {"Fe": 0.7, "Cu": 0.05, "Zn": 0.04}, {"Fe": 0.25, "Cu": 0.01, "Zn": 0.005},
             R.POST_CONSUMER, 1.5, 12_000),
        _lot("Cu-rich scrap", {"Fe": 0.2, "Cu": 0.45, "Zn": 0.05}, {"Fe": 0.02, "Cu": 0.05, "Zn": 0.005},
             R.POST_CONSUMER, 1.5, 12_000),
        _lot("P1020", {"Fe": 0.08, "Cu": 0.002, "Zn": 0.002}, {"Fe": 0.01, "Cu": 0.0005}, R.PRIMARY, 2.6),
    ]


def _single_spec():
    return Spec("two limits", limits={"Fe": Limit(("Fe",), None, 0.5), "Cu": Limit(("Cu",), None, 0.3)})


def _coupled_spec():
    # Cu+Zn max sits just above Cu max: the two limits fail nearly together, which
    # Boole's inequality counts twice
    return Spec("coupled", limits={"Fe": Limit(("Fe",), None, 0.5), "Cu": Limit(("Cu",), None, 0.3),
                                   "Cu+Zn": Limit(("Cu", "Zn"), None, 0.335)})


def _recycled(model, sol) -> float:
    return model.term("recycled", model.variables(sol.x_kg))


def _mc(model, x_kg, seed=12_345):
    """Plain Monte Carlo joint probability against the spec itself, and its standard error."""
    joint = JointProbability(model, draws=1)
    _, p = simulate_compliance(model, x_kg, list(joint.limits), draws=DRAWS, seed=seed)
    return p, float(np.sqrt(p * (1 - p) / DRAWS))


@pytest.mark.parametrize("mix", [(3400, 5300, 1850), (3000, 6000, 1500), (3800, 5800, 900), (3500, 5600, 1450)])
def test_joint_probability_agrees_with_plain_monte_carlo(mix):
    model = build_charge_model(_lots(), Melt(10_000), _coupled_spec(), confidence=0.5)
    x = np.array(mix, dtype=float)
    est = JointProbability(model)(x)
    p, se = _mc(model, x)
    assert est.standard_error < se
    assert abs(est.probability - p) <= 4 * (se + est.standard_error)
    assert abs(est.probability - p) < 0.005


def test_joint_probability_matches_the_multivariate_normal_cdf():
    # (Fe, Cu, Cu+Zn) of the melt are jointly normal; all three limits are maxima,
    # so P(all) is their multivariate normal CDF at the limits (Genz's integration)
    model = build_charge_model(_lots(), Melt(10_000), _coupled_spec(), confidence=0.5)
    x = np.array([3400.0, 5300.0, 1850.0])
    _, mean, sd = melt_chemistry(model, x)
    fe, cu, zn = (model.elements.index(e) for e in ("Fe", "Cu", "Zn"))
    B = np.zeros((3, len(model.elements)))
    B[0, fe] = B[1, cu] = B[2, cu] = B[2, zn] = 1.0
    cov = B @ np.diag(sd ** 2) @ B.T
    exact = multivariate_normal(B @ mean, cov, abseps=1e-7, releps=1e-7).cdf([0.5, 0.3, 0.335])
    est = JointProbability(model)(x)
    assert 0.5 < exact < 0.999  # the Cu+Zn limit matters here
    assert est.probability == pytest.approx(exact, abs=4 * est.standard_error + 2e-4)


def test_single_element_limits_are_exact_products():
    model = build_charge_model(_lots(), Melt(10_000), _single_spec(), confidence=0.5)
    x = np.array([3400.0, 5300.0, 1850.0])
    _, mean, sd = melt_chemistry(model, x)
    j = model.elements.index
    hand = norm.cdf((0.5 - mean[j("Fe")]) / sd[j("Fe")]) * norm.cdf((0.3 - mean[j("Cu")]) / sd[j("Cu")])
    est = JointProbability(model)(x)
    assert est.standard_error == 0
    assert est.probability == pytest.approx(hand, rel=1e-12)


def test_calibrated_allocation_lands_on_the_joint_confidence():
    model = build_charge_model(_lots(), Melt(10_000), _coupled_spec(), joint_confidence=0.95)
    bound = optimise(model)
    calibrated = optimise_calibrated(model)
    p_bound, se_bound = _mc(model, bound.x_kg)
    p_cal, se_cal = _mc(model, calibrated.x_kg)
    # the bound-based split is safe but loose (Boole double-counts Cu and Cu+Zn) ...
    assert p_bound >= 0.95 - 4 * se_bound
    assert p_bound > 0.955
    # ... the calibrated one spends the risk asked: within 0.5 points and within MC error
    assert abs(p_cal - 0.95) < 0.005
    assert abs(p_cal - 0.95) <= 4 * se_cal + 4 * calibrated.extra["p_joint_se"]
    assert calibrated.extra["allocation"] == "calibrated"
    assert _recycled(model, calibrated) > _recycled(model, bound)


def test_calibrated_allocation_is_plain_optimise_without_a_joint_confidence():
    model = build_charge_model(_lots(), Melt(10_000), _single_spec(), confidence=0.95)
    np.testing.assert_allclose(optimise_calibrated(model).v, optimise(model).v)


def test_too_few_draws_are_refused():
    model = build_charge_model(_lots(), Melt(10_000), _coupled_spec(), confidence=0.5)
    with pytest.raises(ValueError, match="draws 0 must be at least 1"):
        JointProbability(model, draws=0)


def _practice(model, t):
    return solve(build_charge_model(model.lots, model.melt, model.spec.tightened(t), confidence=0.5))


def test_chance_constrained_dominates_the_tightened_lp_at_equal_compliance():
    # Fe (wide spread) and Cu (narrow spread) both bind: aiming each a fixed fraction of
    # its range inside spends the margin where it is not needed. The LP side is found
    # here by plain Monte Carlo alone (common random numbers, scan then bisection), not
    # by blending.joint.
    model = build_charge_model(_lots(), Melt(10_000), _single_spec(), joint_confidence=0.95)
    cc = optimise_calibrated(model)
    p_cc, se = _mc(model, cc.x_kg)

    def p_lp(t):
        sol = _practice(model, t)
        return (None, -1.0) if sol.status != "optimal" else (sol, _mc(model, sol.x_kg)[0])

    ts = np.arange(0.0, 0.46, 0.05)
    k = next(i for i, t in enumerate(ts) if p_lp(t)[1] >= p_cc)
    lo, hi = ts[k - 1], ts[k]
    while hi - lo > 1e-4:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if p_lp(mid)[1] >= p_cc else (mid, hi)
    lp, p_equal = p_lp(hi)
    assert abs(p_equal - p_cc) < 2 * se  # equal compliance, within the Monte Carlo's resolution
    assert _recycled(model, cc) >= _recycled(model, lp)
    # and strictly more here: the LP's fixed fraction cannot match two different spreads
    assert _recycled(model, cc) > _recycled(model, lp) + 0.01


def test_practice_fraction_is_the_least_tightening_that_meets_the_target():
    model = build_charge_model(_lots(), Melt(10_000), _coupled_spec(), joint_confidence=0.95)
    joint = JointProbability(model)
    t, sol, est = practice_fraction(model, "recycled", 0.95, joint)
    assert est.probability >= 0.95
    assert joint(sol.x_kg).probability == est.probability
    below = _practice(model, t - 1e-3)
    assert joint(below.x_kg).probability < 0.95
    p, se = _mc(model, sol.x_kg)
    assert abs(p - 0.95) <= 4 * se + 1e-3


@settings(max_examples=40, deadline=None)
@given(x=arrays(np.float64, 3, elements=st.floats(0, 8000)).filter(lambda v: v.sum() > 1000))
def test_joint_probability_lies_within_the_frechet_bounds(x):
    # max(0, 1 - sum of single risks) <= P(all) <= min over limits of P(limit), each
    # limit's own probability computed here from its normal sum, independently
    model = build_charge_model(_lots(), Melt(10_000), _coupled_spec(), confidence=0.5)
    joint = JointProbability(model, draws=20_000)
    est = joint(x)
    _, mean, sd = melt_chemistry(model, x)
    index = {e: j for j, e in enumerate(model.elements)}
    single = []
    for lim in joint.limits:
        cols = [index[e] for e in lim.elements]
        m, s = mean[cols].sum(), np.sqrt((sd[cols] ** 2).sum())
        single.append(norm.cdf((lim.rhs_wt_pct - m) / s) if s > 0 else float(m <= lim.rhs_wt_pct))
    slack = 4 * est.standard_error + 1e-9
    assert 0.0 <= est.probability <= 1.0
    assert est.probability <= min(single) + slack
    assert est.probability >= 1 - sum(1 - p for p in single) - slack
