import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from sklearn.linear_model import Ridge

from sorter.training.composition import GradeWiseComposition


def linear_grades(n=300, k=8, seed=0, noise=0.05, sample_seed=None):
    """Two grades, each wt% linear in the features plus Gaussian noise; ``seed`` fixes the truth."""
    truth = np.random.default_rng(seed)
    B = {"a": truth.normal(size=(k, 2)), "b": truth.normal(size=(k, 2))}
    rng = np.random.default_rng(seed if sample_seed is None else sample_seed)
    Z = rng.normal(size=(2 * n, k))
    labels = np.array(["a"] * n + ["b"] * n)
    b0 = {"a": np.array([11.0, 14.0]), "b": np.array([10.2, 10.5])}  # keeps wt% positive
    Y = np.vstack([Z[labels == g] @ B[g] + b0[g] for g in ("a", "b")])
    return Z, labels, Y + rng.normal(0, noise, Y.shape)


def test_each_grade_matches_a_scikit_learn_ridge_with_the_same_alpha():
    Z, labels, Y = linear_grades()
    m = GradeWiseComposition().fit(Z, labels, Y, ["a", "b"])
    for c, g in enumerate(("a", "b")):
        for e in range(2):
            ref = Ridge(alpha=m.alpha_[c, e]).fit(Z[labels == g], Y[labels == g, e])
            assert_allclose(m.coef_[c, :, e], ref.coef_, rtol=1e-8, atol=1e-10)
            assert_allclose(m.intercept_[c, e], ref.intercept_, rtol=1e-8)


def test_leave_one_out_residuals_equal_refitting_without_the_point():
    Z, labels, Y = linear_grades(n=40, seed=2, noise=0.3)
    m = GradeWiseComposition(alphas=(1.0,), coverage=0.5).fit(Z, labels, Y, ["a", "b"])
    rows = np.flatnonzero(labels == "a")
    loo = []
    for i in rows:
        keep = rows[rows != i]
        r = Ridge(alpha=1.0).fit(Z[keep], Y[keep, 0])
        loo.append(Y[i, 0] - r.predict(Z[[i]])[0])
    assert_allclose(m.halfwidth_[0, 0], np.quantile(np.abs(loo), 0.5), rtol=1e-8)


@given(seed=st.integers(0, 10_000), weighted=st.booleans())
@settings(max_examples=25, deadline=None)
def test_leave_group_out_residuals_equal_refitting_without_the_group(seed, weighted):
    """Augmented copies share a group: the closed form equals refitting without the whole group."""
    rng = np.random.default_rng(seed)
    n, k = 30, 5
    pieces = rng.normal(size=(n, k))
    reps = rng.integers(1, 4, size=n)                          # pieces with 1 to 3 rows: uneven groups
    groups = np.repeat(np.arange(n), reps)
    Z = pieces[groups] + rng.normal(0, 0.1, size=(groups.size, k))
    y = Z @ rng.normal(size=k) + 3.0 + rng.normal(0, 0.3, groups.size)
    w = rng.uniform(0.2, 1.0, groups.size) if weighted else np.ones(groups.size)
    m = GradeWiseComposition(alphas=(0.7,))
    *_, loo = m._ridge_loo(Z, y, weights=w if weighted else None, return_loo=True, groups=groups)
    for g in range(n):
        out = groups == g
        r = Ridge(alpha=0.7).fit(Z[~out], y[~out], sample_weight=w[~out])
        assert_allclose(loo[out], y[out] - r.predict(Z[out]), rtol=1e-4, atol=1e-6)


def test_copies_do_not_vouch_for_their_piece():
    """Near-identical copies make the row-wise LOO error small; leaving pieces out keeps the honest one."""
    Z, labels, Y = linear_grades(n=40, seed=3, noise=0.3)
    rng = np.random.default_rng(4)
    Zc = np.vstack([Z] + [Z + rng.normal(0, 0.01, Z.shape) for _ in range(3)])
    groups = np.tile(np.arange(Z.shape[0]), 4)
    rows = GradeWiseComposition(alphas=(1.0,), coverage=0.9).fit(Zc, np.tile(labels, 4), np.tile(Y, (4, 1)), ["a", "b"])
    pieces = GradeWiseComposition(alphas=(1.0,), coverage=0.9).fit(Zc, np.tile(labels, 4), np.tile(Y, (4, 1)),
                                                                   ["a", "b"], groups=groups)
    single = GradeWiseComposition(alphas=(1.0,), coverage=0.9).fit(Z, labels, Y, ["a", "b"])
    assert np.all(rows.halfwidth_ < 0.75 * single.halfwidth_)
    assert_allclose(pieces.halfwidth_, single.halfwidth_, rtol=0.15)


def test_interval_covers_about_the_nominal_share_of_new_spectra():
    Z, labels, Y = linear_grades(n=400, seed=3, noise=0.2)
    m = GradeWiseComposition(coverage=0.9).fit(Z, labels, Y, ["a", "b"])
    Zt, lt, Yt = linear_grades(n=3000, seed=3, noise=0.2, sample_seed=77)
    P = np.column_stack([lt == "a", lt == "b"]).astype(float)
    est, half = m.predict_all(Zt, P)
    inside = np.abs(Yt - est) <= half
    assert 0.87 <= inside.mean() <= 0.93


def test_a_mixed_spectrum_gets_a_wider_interval():
    Z, labels, Y = linear_grades()
    m = GradeWiseComposition().fit(Z, labels, Y, ["a", "b"])
    _, sure = m.predict_all(Z[:1], np.array([[1.0, 0.0]]))
    _, unsure = m.predict_all(Z[:1], np.array([[0.5, 0.5]]))
    assert np.all(unsure > sure)


def test_missing_analyses_are_fitted_on_the_rows_that_have_them():
    Z, labels, Y = linear_grades(n=50)
    Y[::3, 1] = np.nan
    m = GradeWiseComposition().fit(Z, labels, Y, ["a", "b"])
    assert m.n_train_[0, 0] == 50 and m.n_train_[0, 1] < 50
    assert np.all(np.isfinite(m.coef_))


def test_far_outside_training_the_estimate_stays_in_the_grade_range():
    Z, labels, Y = linear_grades()
    m = GradeWiseComposition().fit(Z, labels, Y, ["a", "b"])
    est, _ = m.predict_all(np.full((1, Z.shape[1]), 50.0), np.array([[1.0, 0.0]]))
    a = Y[labels == "a"]
    assert np.all(est[0] >= a.min(axis=0) - 1e-12) and np.all(est[0] <= a.max(axis=0) + 1e-12)


def test_masks_give_each_element_its_lines_the_al_lines_and_two_stage_elements():
    from sorter.training.composition import composition_feature_masks

    fe = ["Mg", "Mg", "Cu", "Fe", "Fe", "Si", "Al", "Al"]
    st = [1, 2, 1, 1, 2, 1, 1, 2]
    m = composition_feature_masks(["Cu", "Si", "Li"], fe, st)
    # Mg and Fe have lines in both stages: plasma indicators for everyone; Cu and Si do not
    assert m[0].tolist() == [True, True, True, True, True, False, True, True]
    assert m[1].tolist() == [True, True, False, True, True, True, True, True]
    assert m[2].all()  # Li has no line here: it may use every feature


def test_masks_reject_stages_that_do_not_match_the_features():
    import pytest

    from sorter.training.composition import composition_feature_masks

    with pytest.raises(ValueError, match="feature_stages: 2 values for 3 features"):
        composition_feature_masks(["Cu"], ["Cu", "Al", "Al"], [1, 2])


def test_a_plasma_indicator_removes_the_shot_to_shot_temperature_term():
    """Own line = log C + 0.8 x (plasma term); indicator = plasma term + small noise.

    Without the indicator, the best linear estimate leaves the plasma term's share of the variance;
    with it, the residual is the measurement noise: both checked against the closed-form values.
    """
    rng = np.random.default_rng(5)
    n = 4000
    c = rng.normal(2.0, 0.1, n)                      # wt%
    plasma = rng.normal(0.0, 1.0, n)
    own = np.log(c) + 0.8 * plasma + rng.normal(0, 0.01, n)
    indicator = plasma + rng.normal(0, 0.01, n)
    Z = np.column_stack([own, indicator])
    labels = np.array(["a"] * n)
    Y = c[:, None]
    # the single ridge's closed form (plasma-state experts would read the indicator through their gates)
    only_own = GradeWiseComposition(n_experts=0).fit(Z, labels, Y, ["a"], np.array([[True, False]]))
    with_plasma = GradeWiseComposition(n_experts=0).fit(Z, labels, Y, ["a"], np.array([[True, True]]))
    P = np.ones((n, 1))
    r_own = Y[:, 0] - only_own.predict_all(Z, P)[0][:, 0]
    r_pl = Y[:, 0] - with_plasma.predict_all(Z, P)[0][:, 0]
    # closed form for the own-line-only regression: var(c) * (1 - rho^2), rho = corr(c, own)
    s_logc = 0.1 / 2.0
    rho2 = s_logc ** 2 / (s_logc ** 2 + 0.8 ** 2 + 0.01 ** 2)
    assert_allclose(r_own.std(), 0.1 * np.sqrt(1 - rho2), rtol=0.05)
    # with the indicator the plasma term cancels: left are the two 0.01 noises, x 0.8 on the indicator's
    expected = 2.0 * np.sqrt(0.01 ** 2 + (0.8 * 0.01) ** 2)
    assert_allclose(r_pl.std(), expected, rtol=0.15)


def test_each_grade_and_element_keeps_the_candidate_mask_with_the_smaller_loo_error():
    # element 0 of grade "a" needs feature 1, element 1 does not; feature 1 is pure noise for element 1
    rng = np.random.default_rng(8)
    n = 300
    Z = rng.normal(size=(n, 2))
    Y = np.column_stack([5 + Z[:, 0] + 2 * Z[:, 1], 5 + Z[:, 0]]) + rng.normal(0, 0.1, (n, 2))
    labels = np.array(["a"] * n)
    own = np.array([[True, False], [True, False]])
    wide = np.ones((2, 2), dtype=bool)
    m = GradeWiseComposition().fit(Z, labels, Y, ["a"], np.stack([own, wide]))
    assert m.mask_choice_[0, 0] == 1
    ref = Ridge(alpha=m.alpha_[0, 0]).fit(Z, Y[:, 0])
    assert_allclose(m.coef_[0, :, 0], ref.coef_, rtol=1e-8)
    # for element 1 both fit equally; whichever is kept, its coefficients are that candidate's ridge
    cols = wide[1] if m.mask_choice_[0, 1] else own[1]
    ref = Ridge(alpha=m.alpha_[0, 1]).fit(Z[:, cols], Y[:, 1])
    assert_allclose(m.coef_[0, cols, 1], ref.coef_, rtol=1e-8)
    assert np.all(m.coef_[0, ~cols, 1] == 0)


def test_far_from_the_grade_the_interval_widens_and_the_estimate_shrinks_by_the_distance_ratio():
    Z, labels, Y = linear_grades(n=200)
    m = GradeWiseComposition(coverage=0.9).fit(Z, labels, Y, ["a", "b"])
    rng = np.random.default_rng(4)
    d_train = rng.uniform(0.0, 2.0, size=(400, 2))
    m.fit_distance_scale(d_train, labels)
    q_a = np.quantile(d_train[labels == "a", 0], 0.9)
    q_b = np.quantile(d_train[labels == "b", 1], 0.9)
    P = np.array([[1.0, 0.0], [0.5, 0.5], [1.0, 0.0]])
    d = np.array([[3.0 * q_a, 9.0], [2.0, 4.0], [0.5 * q_a, 9.0]])
    expected = np.array([3.0, max(1.0, (0.5 * 2.0 + 0.5 * 4.0) / (0.5 * q_a + 0.5 * q_b)), 1.0])
    assert_allclose(m.interval_inflation(P, d), expected, rtol=1e-12)
    est, plain = m.predict_all(Z[:3], P)
    shrunk, wide = m.predict_all(Z[:3], P, d)
    one_grade = [0, 2]  # a single grade: no spread between grades, so the half-width just scales
    assert_allclose(wide[one_grade], plain[one_grade] * expected[one_grade, None], rtol=1e-12)
    # and the estimate is pulled towards grade a's training mean by the same factor
    mean_a = Y[labels == "a"].mean(axis=0)
    assert_allclose(shrunk[one_grade], mean_a + (est[one_grade] - mean_a) / expected[one_grade, None], rtol=1e-12)
    assert np.all(wide[1] >= plain[1] * 0.999)


def test_plasma_state_experts_read_through_a_nonlinear_plasma_term():
    """Own line = log C + g(T) with g curved (Saha-like); the indicator measures T.

    One ridge on (own, indicator) can only subtract a straight line in T; the experts, gated on
    the plasma coordinate, subtract g piece by piece. Checked against the noise floor of the exact
    inverse, C = exp(own - g(indicator)), computed by hand.
    """
    rng = np.random.default_rng(11)
    n = 3000
    c = rng.normal(5.0, 0.25, n)
    t = rng.uniform(-1.0, 1.0, n)                    # plasma coordinate (e.g. scaled 1/T_e)
    g = 0.6 * t ** 2 + 0.3 * np.exp(t)               # curved plasma term
    noise = 0.002
    own = np.log(c) + g + rng.normal(0, noise, n)
    indicator = t + rng.normal(0, noise, n)
    Z = np.column_stack([own, indicator])
    labels = np.array(["a"] * n)
    P = np.ones((n, 1))
    single = GradeWiseComposition(n_experts=0).fit(Z, labels, c[:, None], ["a"])
    experts = GradeWiseComposition(n_experts=9).fit(Z, labels, c[:, None], ["a"], plasma_state=np.column_stack([t, t]))
    label_free = GradeWiseComposition(n_experts=9).fit(Z, labels, c[:, None], ["a"], plasma_columns=[False, True])
    assert experts.expert_pairs_.tolist() == [[0, 0]]
    err = {name: np.mean(np.abs(m.predict_all(Z, P)[0][:, 0] - c)) for name, m in
           (("single", single), ("experts", experts), ("label_free", label_free))}
    exact = np.exp(own - (0.6 * indicator ** 2 + 0.3 * np.exp(indicator)))
    floor = np.mean(np.abs(exact - c))
    # nine local lines through a parabola: about 4x the single line's accuracy, 4-5x the noise floor
    assert err["experts"] < 0.35 * err["single"]
    assert err["label_free"] < 0.35 * err["single"]
    assert err["experts"] < 6 * floor


def test_a_grade_with_few_spectra_gets_no_experts():
    rng = np.random.default_rng(12)
    Z = rng.normal(size=(60, 3))
    Y = (5 + Z[:, :1] ** 2)
    m = GradeWiseComposition(n_experts=4, min_expert_spectra=100).fit(Z, np.array(["a"] * 60), Y, ["a"])
    assert m.expert_pairs_.shape == (0, 2)
    assert_allclose(m.predict_all(Z, np.ones((60, 1)))[0][:, 0],
                    np.clip(Z @ m.coef_[0, :, 0] + m.intercept_[0, 0], m.lower_[0, 0], m.upper_[0, 0]))


class _TwoLines:
    """Feature metadata of two neutral lines, Cu and Mg (no two-stage element, no Al indicator)."""

    def feature_elements(self):
        return ["Cu", "Mg"]

    def feature_ion_stages(self):
        return [1, 1]

    def indicator_features(self):
        return np.zeros(2, dtype=bool)


def test_shared_inputs_reach_every_element_past_its_mask():
    """Cu's own line carries a plasma term the Mg line does not measure; a shared column that does removes it."""
    from sorter.training.model import fit_composition

    rng = np.random.default_rng(8)
    n = 3000
    cu = rng.normal(4.0, 0.3, n)                     # wt%
    plasma = rng.normal(0.0, 1.0, n)
    Z = np.column_stack([np.log(cu) + 0.8 * plasma + rng.normal(0, 0.01, n), rng.normal(size=n)])
    labels = np.array(["2024"] * n)
    Y = np.column_stack([cu, np.full(n, 1.5)])
    shared = plasma[:, None] + rng.normal(0, 0.01, (n, 1))
    P = np.ones((n, 1))
    kw = dict(coverage=0.9, random_state=0)
    without = fit_composition(Z, labels, Y, ["Cu", "Mg"], ["2024"], _TwoLines(), **kw)
    with_shared = fit_composition(Z, labels, Y, ["Cu", "Mg"], ["2024"], _TwoLines(), shared=shared, **kw)
    r_without = cu - without.predict_all(Z, P)[0][:, 0]
    r_with = cu - with_shared.predict_all(np.column_stack([Z, shared]), P)[0][:, 0]
    # own line only: most of the spread is left (corr(log cu, own line) ~ 0.09); with the shared
    # plasma column only the two 0.01 noises remain, about 4 x 0.013 wt%
    assert r_without.std() > 0.25
    assert r_with.std() < 0.1
    assert without.coef_.shape[1] == 2 and with_shared.coef_.shape[1] == 3


def test_shared_inputs_must_have_one_row_per_spectrum():
    import pytest

    from sorter.training.model import fit_composition

    Z = np.zeros((10, 2))
    with pytest.raises(ValueError, match="shared"):
        fit_composition(Z, np.array(["2024"] * 10), np.ones((10, 2)), ["Cu", "Mg"], ["2024"], _TwoLines(),
                        coverage=0.9, random_state=0, shared=np.zeros((9, 1)))


class _WithAlLines:
    """A Cu line, and two Al lines that are plasma indicators; the second optionally an "indicator" line."""

    def __init__(self, indicator: bool):
        self.indicator = indicator

    def feature_elements(self):
        return ["Cu", "Al", "Al"]

    def feature_ion_stages(self):
        return [1, 1, 1]

    def indicator_features(self):
        return np.array([False, False, self.indicator])


def test_indicator_lines_never_reach_a_composition_regression():
    """The same Al column helps Cu as a plasma indicator; as an "indicator" line the regression cannot read it."""
    from sorter.training.model import fit_composition

    rng = np.random.default_rng(9)
    n = 3000
    cu = rng.normal(4.0, 0.3, n)
    plasma = rng.normal(0.0, 1.0, n)
    Z = np.column_stack([np.log(cu) + 0.8 * plasma + rng.normal(0, 0.01, n), rng.normal(size=n),
                         plasma + rng.normal(0, 0.01, n)])
    labels = np.array(["2024"] * n)
    Y = np.column_stack([cu, np.full(n, 1.5)])
    P = np.ones((n, 1))
    kw = dict(coverage=0.9, random_state=0)
    moved = Z.copy()
    moved[:, 2] += 3.0
    shifts = {}
    for indicator in (False, True):
        est = fit_composition(Z, labels, Y, ["Cu", "Mg"], ["2024"], _WithAlLines(indicator), **kw)
        shifts[indicator] = np.abs(est.predict_all(moved, P)[0][:, 0] - est.predict_all(Z, P)[0][:, 0]).max()
        if indicator:
            assert np.all(est.coef_[:, 2, :] == 0.0)
    assert shifts[False] > 0.1   # read as a plasma indicator, the column moves the Cu estimate
    assert shifts[True] == 0.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3).filter(lambda w: sum(w) > 1e-3))
def test_the_mix_keeps_to_the_more_probable_kind_of_class(weights):
    """Aluminium grades a and b against a contaminant c: the estimate mixes only the kind holding >= 0.5."""
    Z, labels, Y = linear_grades()
    Z3 = np.vstack([Z, Z[:100] + 5.0])
    labels3 = np.concatenate([labels, ["c"] * 100])
    Y3 = np.vstack([Y, np.full((100, 2), 90.0)])
    m = GradeWiseComposition(n_experts=0).fit(Z3, labels3, Y3, ["a", "b", "c"], aluminium_classes=["a", "b"])
    P = np.array(weights)[None] / sum(weights)
    got = m.predict_all(Z[:1], P)[0]
    each = np.stack([m.predict_all(Z[:1], np.eye(3)[[c]])[0][0] for c in range(3)])   # (3, E) per class
    if P[0, :2].sum() >= 0.5:
        expected = (P[0, :2] / P[0, :2].sum()) @ each[:2]
    else:
        expected = each[2]
    assert_allclose(got[0], expected, rtol=1e-12, atol=1e-12)
    conditioned = m.family_conditioned(P)
    assert_allclose(conditioned.sum(axis=1), 1.0)
    # one kind only (every class aluminium): the probabilities are used as given
    m_al = GradeWiseComposition(n_experts=0).fit(Z3, labels3, Y3, ["a", "b", "c"])
    assert_allclose(m_al.family_conditioned(P), P)
