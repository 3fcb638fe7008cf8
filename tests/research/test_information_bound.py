"""The Cramer-Rao / Van Trees bound: checked against estimators that reach it, and its scaling with shots."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from research.information_bound import (
    PieceConditions,
    PieceInformation,
    bayes_bound_sd,
    composition_bound,
    fisher_information,
    grade_prior,
    linear_fisher_information,
    piece_information,
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
    with pytest.raises(ValueError, match="weights"):
        linear_fisher_information([[1.0], [2.0]], [1.0, 1.0], [[1.0]])
    info = _random_information(2, 0)
    with pytest.raises(ValueError, match="pixels"):
        info.bound_of([0, 99])
    with pytest.raises(ValueError, match="weights"):
        info.bound_of([0, 1], np.ones((3, 1)))


def test_window_sum_by_hand():
    """One parameter: a plain sum of pixels has information (sum d)^2 / sum v; weights d / v (the
    matched filter) keep all of it, sum d^2 / v."""
    d = np.array([0.5, 2.0, 1.0])
    v = np.array([1.0, 4.0, 2.0])
    D = d[:, None]
    assert_allclose(linear_fisher_information(D, v, np.ones((3, 1))), [[3.5 ** 2 / 7.0]])
    assert_allclose(linear_fisher_information(D, v, (d / v)[:, None]), fisher_information(D, v))


def _random_information(q, seed, p=12):
    rng = np.random.default_rng(seed)
    return PieceInformation(tuple(f"E{i}" for i in range(q)), rng.uniform(10.0, 100.0, p), rng.normal(size=(p, q + 2)),
                            rng.uniform(0.1, 3.0, p), np.ones(p, dtype=bool), rng.uniform(0.5, 5.0, q + 2))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(0, 10_000))
def test_features_never_hold_more_than_their_pixels(q, seed):
    """Data processing: all pixels <= the pixels a model reads <= linear features of those pixels."""
    info = _random_information(q, seed)
    rng = np.random.default_rng(seed + 1)
    pixels = np.sort(rng.choice(12, 8, replace=False))
    W = rng.normal(size=(8, 3)) * (rng.uniform(size=(8, 3)) < 0.6)
    every = info.bound().sd_wt_pct
    some = info.bound_of(pixels).sd_wt_pct
    feats = info.bound_of(pixels, W).sd_wt_pct
    assert np.all(every <= some * (1 + 1e-9))
    assert np.all(some <= feats * (1 + 1e-9))
    assert np.all(feats <= info.prior_sd[:q] * (1 + 1e-9))
    # the identity as weights is the pixels themselves, and a repeated column adds nothing
    assert_allclose(info.bound_of(pixels, np.eye(8)).sd_wt_pct, some, rtol=1e-9)
    assert_allclose(info.bound_of(pixels, np.concatenate([W, W[:, :1]], axis=1)).sd_wt_pct, feats, rtol=1e-7)


def test_a_feature_on_a_clipped_pixel_is_dropped():
    info = _random_information(2, 3)
    info.usable[4] = False
    W = np.zeros((12, 2))
    W[3:6, 0] = 1.0      # touches the clipped pixel 4
    W[7:9, 1] = 1.0
    both = info.bound_of(np.arange(12), W).sd_wt_pct
    assert_allclose(both, info.bound_of(np.arange(12), W[:, 1:]).sd_wt_pct)
    assert_allclose(info.bound_of(np.arange(12)).sd_wt_pct, info.bound().sd_wt_pct)


@pytest.fixture(scope="module")
def bounds_5182():
    from sorter.instruments import get_instrument

    inst = get_instrument("highres")
    mean, sd = grade_prior("5182", n=1000)
    cond = PieceConditions(10000.0, 1e17)
    info = piece_information(mean, sd, inst, cond, n_shots=16)
    return sd, info.bound(), composition_bound(mean, sd, inst, cond, n_shots=64), info, inst


def test_four_times_the_shots_at_most_halves_the_bound(bounds_5182):
    """Noise variance falls as 1/shots; the prior's precision does not, so sd(64) lies in [sd(16)/2, sd(16)]."""
    sd, b16, b64, _, _ = bounds_5182
    assert b16.elements == b64.elements and "Mg" in b16.elements
    assert np.all(b64.sd_wt_pct >= b16.sd_wt_pct / 2 * (1 - 1e-9))
    assert np.all(b64.sd_wt_pct <= b16.sd_wt_pct * (1 + 1e-9))
    # an element with strong lines is read far better than its spread in the grade: there the prior is
    # negligible and the bound halves
    mg = b16.elements.index("Mg")
    assert b16.sd_wt_pct[mg] < 0.1 * sd["Mg"]
    assert_allclose(b64.sd_wt_pct[mg], b16.sd_wt_pct[mg] / 2, rtol=0.02)


def test_bound_never_exceeds_the_grade_spread(bounds_5182):
    sd, b16, *_ = bounds_5182
    assert np.all(b16.sd_wt_pct <= np.array([sd[e] for e in b16.elements]) * (1 + 1e-9))


def test_line_windows_keep_part_of_the_information(bounds_5182):
    """On a simulated 5182 spectrum: the model's line windows lose information to the whole spectrum
    (a bound at least as high), yet still read Mg far better than its spread in the grade."""
    from sorter.preprocess.features import LineWindowFeatures

    sd, b16, _, info, inst = bounds_5182
    lines = LineWindowFeatures(inst.wavelength_nm).fit()
    window_px = info.bound_of(lines.pixels_).sd_wt_pct
    areas = info.bound_of(lines.pixels_, lines.weights_).sd_wt_pct
    assert np.all(b16.sd_wt_pct <= window_px * (1 + 1e-9))
    assert np.all(window_px <= areas * (1 + 1e-9))
    mg = b16.elements.index("Mg")
    assert areas[mg] < 0.2 * sd["Mg"]
