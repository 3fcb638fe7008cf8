"""Composition figures by grouped cross-validation (sorter.training.composition_cv)."""

import numpy as np
from numpy.testing import assert_allclose

from sorter.training.composition_cv import grouped_cv_composition
from sorter.training.evaluation import spec_ranges
from sorter.training.selection import grouped_folds


class EchoModel:
    """Reads its estimate off the spectrum's first columns; a constant half-width. Counts its fits."""

    fits: list = []

    def __init__(self, half: float):
        self.half = half

    def fit(self, X, y, C, elements, groups=None, reference=None):
        EchoModel.fits.append(len(y))
        return self

    def outputs(self, X):
        E = 2
        return {"composition_wt_pct": X[:, :E], "interval_halfwidth_wt_pct": np.full((len(X), E), self.half)}


def test_coverage_baseline_and_conformal_scale_match_a_hand_count():
    rng = np.random.default_rng(0)
    grades = ["5052", "6061"]
    el = ("Mg", "Cr")
    n_pieces = 40
    labels = np.repeat(np.array(grades * (n_pieces // 2)), 3)
    groups = np.repeat(np.arange(n_pieces), 3)
    C = np.column_stack([np.where(labels == "5052", 2.5, 1.0), np.full(labels.size, 0.25)])
    C = C + rng.uniform(-0.05, 0.05, C.shape)
    err = rng.normal(0, 0.02, C.shape)
    X = C + err                                  # the echo model's estimate is C + err
    folds = grouped_folds(labels, groups, 4, 0)
    EchoModel.fits = []
    res = grouped_cv_composition(lambda: EchoModel(0.03), X, labels, C, el, groups, folds, coverage=0.9)
    assert EchoModel.fits == [len(tr) for tr, _ in folds]
    # coverage over the major pairs: 5052 Mg and Cr, 6061 Mg and Cr all have spec ranges
    pairs = [(g, k) for g in grades for k, e in enumerate(el) if e in spec_ranges(g)]
    assert len(pairs) == 4
    hand = np.mean([np.mean(np.abs(err[labels == g, k]) <= 0.03) for g, k in pairs])
    assert_allclose(res["interval_coverage_major"], hand, atol=1e-12)
    # conformal scale: the ceil(0.9 (n + 1))-th smallest |error| / half-width
    r = np.sort(np.concatenate([np.abs(err[labels == g, k]) / 0.03 for g, k in pairs]))
    assert_allclose(res["conformal_scale"], r[int(np.ceil(0.9 * (r.size + 1))) - 1])
    # grade-mean baseline: each piece gets its grade's mean over the other folds' pieces
    base = np.empty_like(C)
    for tr, te in folds:
        for g in grades:
            base[te[labels[te] == g]] = C[tr][labels[tr] == g].mean(axis=0)
    lo, hi = spec_ranges("5052")["Mg"]
    mae = np.mean(np.abs(base[labels == "5052", 0] - C[labels == "5052", 0]))
    lo6, hi6 = spec_ranges("6061")["Mg"]
    mae6 = np.mean(np.abs(base[labels == "6061", 0] - C[labels == "6061", 0]))
    assert_allclose(res["grade_mean_share_of_range"]["Mg"], np.mean([mae / (hi - lo), mae6 / (hi6 - lo6)]))
    assert res["mae_share_of_range"]["Mg"] < res["grade_mean_share_of_range"]["Mg"]   # the echo is closer
    assert "grouped 4-fold" in res["measured_by"]
