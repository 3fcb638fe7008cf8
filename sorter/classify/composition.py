"""Composition estimates [wt%] with prediction intervals: per-grade ridge models mixed by probability.

Within one grade the log-ratio line features vary almost linearly with the element
contents (Boltzmann-Saha: log line ratio = log concentration ratio + terms in T and n_e
that other features measure), so a ridge regression per grade is accurate and explainable.
The estimate for a spectrum is the probability-weighted mix of the grades' predictions,
and the interval half-width the probability-weighted mix of each grade's cross-validated
absolute residual quantile (split-conformal, Lei et al. 2018, J. Am. Stat. Assoc. 113, 1094)
plus the probability-weighted spread of the grades' predictions around the mix (so an
ambiguous spectrum gets a wider interval).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

MIN_SPECTRA = 5


class GradeWiseComposition(RegressorMixin, BaseEstimator):
    """One multi-output ridge per grade on standardised features; mixed by class probability.

    Parameters
    ----------
    alphas : sequence of float
        Ridge penalties tried (leave-one-out, per element).
    coverage : float
        Nominal coverage of the prediction interval (0.9 gives a 90% interval).
    n_splits : int
        Folds for the cross-validated residuals behind the interval.
    random_state : int

    Attributes
    ----------
    coef_ : ndarray, shape (C, k, E)
    intercept_ : ndarray, shape (C, E) [wt%]
    halfwidth_ : ndarray, shape (C, E)
        Interval half-width per grade and element [wt%].
    """

    def __init__(self, alphas=tuple(np.logspace(-3, 3, 13)), coverage: float = 0.9, n_splits: int = 5,
                 random_state: int = 0):
        self.alphas = alphas
        self.coverage = coverage
        self.n_splits = n_splits
        self.random_state = random_state

    def fit(self, Z, labels, Y, classes):
        Z = np.asarray(Z, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        labels = np.asarray(labels)
        if Y.ndim != 2 or Y.shape[0] != Z.shape[0]:
            raise ValueError(f"composition: {Y.shape[0] if Y.ndim else 0} rows for {Z.shape[0]} spectra")
        C, k, E = len(classes), Z.shape[1], Y.shape[1]
        self.coef_ = np.zeros((C, k, E))
        self.intercept_ = np.zeros((C, E))
        self.halfwidth_ = np.zeros((C, E))
        self.n_train_ = np.zeros((C, E), dtype=int)
        for c, name in enumerate(classes):
            rows = labels == name
            for e in range(E):
                ok = rows & np.isfinite(Y[:, e])
                self.n_train_[c, e] = int(ok.sum())
                if ok.sum() < MIN_SPECTRA:
                    self.intercept_[c, e] = float(np.nanmean(Y[ok, e])) if ok.any() else 0.0
                    continue
                self._fit_one(Z[ok], Y[ok, e], c, e)
        self.classes_ = np.asarray(classes)
        self.n_features_in_ = k
        return self

    def _fit_one(self, Z, y, c, e):
        if np.ptp(y) == 0.0:
            self.intercept_[c, e] = float(y[0])
            return
        cv = RidgeCV(alphas=self.alphas).fit(Z, y)
        self.coef_[c, :, e] = cv.coef_
        self.intercept_[c, e] = cv.intercept_
        folds = KFold(min(self.n_splits, len(y)), shuffle=True, random_state=self.random_state)
        residual = np.empty_like(y)
        for train, test in folds.split(Z):
            m = Ridge(alpha=cv.alpha_).fit(Z[train], y[train])
            residual[test] = y[test] - m.predict(Z[test])
        self.halfwidth_[c, e] = float(np.quantile(np.abs(residual), self.coverage))

    def predict_all(self, Z, P) -> tuple[np.ndarray, np.ndarray]:
        """Estimate and interval half-width [wt%], each (n, E), for features Z and probabilities P."""
        check_is_fitted(self, "coef_")
        per_class = np.einsum("nk,cke->nce", np.asarray(Z, dtype=np.float64), self.coef_) + self.intercept_
        mixed = np.einsum("nc,nce->ne", P, per_class)
        spread = np.einsum("nc,nce->ne", P, np.abs(per_class - mixed[:, None, :]))
        return np.clip(mixed, 0.0, 100.0), P @ self.halfwidth_ + spread

    def predict(self, Z, P=None):
        if P is None:
            raise ValueError("GradeWiseComposition.predict needs the class probabilities P")
        return self.predict_all(Z, P)[0]
