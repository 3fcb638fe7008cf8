"""The Cramer-Rao / Van Trees bound: checked against estimators that reach it, and its scaling with shots."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from sorter.classify.information_bound import (
    PieceConditions,
    bayes_bound_sd,
    composition_bound,
    fisher_information,
    grade_prior,
)


def test_fisher_information_by_hand():
    # two observations of theta with slopes 1 and 3 and variances 2 and 9: J = 1/2 + 9/9
    assert_allclose(fisher_information([[1.0], [3.0]], [2.0, 9.0]), [[1.5]])


def test_least_squares_reaches_the_classical_bound():
    """Linear Gaussian model y = D theta + e: weighted least squares has covariance J^-1 exactly."""
    rng = np.random.default_rng(0)
    D = rng.normal(size=(40, 3))
    var = rng.uniform(0.5, 2.0, 40)
    theta = np.array([1.0, -2.0, 0.5])
    y = theta @ D.T + rng.normal(size=(20_000, 40)) * np.sqrt(var)
    W = D / var[:, None]
    est = np.linalg.solve(D.T @ W, W.T @ y.T).T
    bound = bayes_bound_sd(fisher_information(D, var), np.full(3, np.inf))
    assert_allclose(est.std(axis=0), bound, rtol=0.03)


def test_posterior_mean_reaches_the_bayesian_bound():
    """With a Gaussian prior the posterior mean's error sd is (J + Lambda)^-1/2, below the prior sd."""
    rng = np.random.default_rng(1)
    D = rng.normal(size=(5, 2)) * 0.3
    var = np.ones(5)
    prior_sd = np.array([1.0, 2.0])
    theta = rng.normal(size=(50_000, 2)) * prior_sd
    y = theta @ D.T + rng.normal(size=(50_000, 5))
    J = fisher_information(D, var)
    post = np.linalg.solve(J + np.diag(1 / prior_sd ** 2), (y @ D).T).T
    bound = bayes_bound_sd(J, prior_sd)
    assert_allclose((post - theta).std(axis=0), bound, rtol=0.02)
    assert np.all(bound < prior_sd)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(0, 10_000))
def test_more_observations_never_loosen_the_bound(q, seed):
    rng = np.random.default_rng(seed)
    D = rng.normal(size=(q + 4, q))
    var = rng.uniform(0.1, 3.0, q + 4)
    prior = rng.uniform(0.5, 5.0, q)
    few = bayes_bound_sd(fisher_information(D[:-2], var[:-2]), prior)
    all_ = bayes_bound_sd(fisher_information(D, var), prior)
    assert np.all(all_ <= few * (1 + 1e-9))
    assert np.all(few <= prior * (1 + 1e-9))


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="variance"):
        fisher_information([[1.0]], [0.0])
    with pytest.raises(ValueError, match="prior_sd"):
        bayes_bound_sd([[1.0]], [0.0])
    mean, sd = grade_prior("5182", n=200)
    with pytest.raises(ValueError, match="n_shots"):
        composition_bound(mean, sd, None, PieceConditions(10000.0, 1e17), n_shots=0)


@pytest.fixture(scope="module")
def bounds_5182():
    from sorter.instruments import get_instrument

    inst = get_instrument("highres")
    mean, sd = grade_prior("5182", n=1000)
    cond = PieceConditions(10000.0, 1e17)
    return sd, composition_bound(mean, sd, inst, cond, n_shots=16), composition_bound(mean, sd, inst, cond, n_shots=64)


def test_four_times_the_shots_at_most_halves_the_bound(bounds_5182):
    """Noise variance falls as 1/shots; the prior's precision does not, so sd(64) lies in [sd(16)/2, sd(16)]."""
    sd, b16, b64 = bounds_5182
    assert b16.elements == b64.elements and "Mg" in b16.elements
    assert np.all(b64.sd_wt_pct >= b16.sd_wt_pct / 2 * (1 - 1e-9))
    assert np.all(b64.sd_wt_pct <= b16.sd_wt_pct * (1 + 1e-9))
    # an element with strong lines is read far better than its spread in the grade: there the prior is
    # negligible and the bound halves
    mg = b16.elements.index("Mg")
    assert b16.sd_wt_pct[mg] < 0.1 * sd["Mg"]
    assert_allclose(b64.sd_wt_pct[mg], b16.sd_wt_pct[mg] / 2, rtol=0.02)


def test_bound_never_exceeds_the_grade_spread(bounds_5182):
    sd, b16, _ = bounds_5182
    assert np.all(b16.sd_wt_pct <= np.array([sd[e] for e in b16.elements]) * (1 + 1e-9))
