"""Composition estimates [wt%] with prediction intervals: per-grade ridge models mixed by probability.

Within one grade the log-ratio line features vary almost linearly with the element
contents (Boltzmann-Saha: log line ratio = log concentration ratio + terms in T and n_e
that other features measure), so a ridge regression per grade is accurate and explainable.
Which features measure those plasma terms (:func:`composition_feature_masks`): the
aluminium lines (Al II / Al I is a Saha thermometer, Al II lines of 11.8-15.3 eV upper
levels a Boltzmann one) and the lines of every element seen in both ion stages (Mg II / Mg I,
Fe II / Fe I, Mn, Cr, Ni, Ti, Zn), whose ion/atom ratio depends on T_e and n_e only
(Saha-Eggert; Ciucci et al. 1999, Appl. Spectrosc. 53, 960, calibration-free LIBS).
Shot-to-shot plasma changes otherwise swamp the within-grade composition signal.
The estimate for a spectrum is the probability-weighted mix of the grades' predictions,
and the interval half-width the probability-weighted mix of each grade's leave-one-out
absolute residual quantile (split-conformal, Lei et al. 2018, J. Am. Stat. Assoc. 113, 1094)
plus the probability-weighted spread of the grades' predictions around the mix (so an
ambiguous spectrum gets a wider interval).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

MIN_SPECTRA = 5


def composition_feature_masks(elements, feature_elements, feature_stages) -> np.ndarray:
    """Features each element's regression may use, (E, k) bool.

    An element uses its own lines, the aluminium references and thermometer, and the
    plasma indicators: every feature of an element that has lines of both ion stages
    (their ion/atom ratios measure T_e and n_e whatever the grade). An element without
    lines of its own may use every feature.

    Parameters
    ----------
    elements : sequence of str
        The composition elements (E).
    feature_elements : sequence of str
        The element each feature measures ("Al" for references), length k.
    feature_stages : sequence of int
        The ion stage of each feature's line, length k.
    """
    fe = np.asarray(feature_elements).astype(str)
    st = np.asarray(feature_stages)
    if fe.shape != st.shape:
        raise ValueError(f"feature_stages: {st.size} values for {fe.size} features")
    both = [e for e in set(fe) - {"Al"} if {1, 2} <= set(st[fe == e].tolist())]
    plasma = (fe == "Al") | np.isin(fe, both)
    masks = np.array([(fe == e) | plasma for e in elements], dtype=bool).reshape(len(elements), fe.size)
    masks[~np.isin(np.asarray(elements, dtype=str), fe)] = True
    return masks


class GradeWiseComposition(RegressorMixin, BaseEstimator):
    """One multi-output ridge per grade on standardised features; mixed by class probability.

    Parameters
    ----------
    alphas : sequence of float
        Ridge penalties tried; each element of each grade takes the one with the smallest
        leave-one-out error.
    coverage : float
        Nominal coverage of the prediction interval (0.9 gives a 90% interval).
    random_state : int
        Unused (the fit is deterministic); kept so the estimator clones like its siblings.

    Attributes
    ----------
    coef_ : ndarray, shape (C, k, E)
    intercept_ : ndarray, shape (C, E) [wt%]
    halfwidth_ : ndarray, shape (C, E)
        Interval half-width per grade and element [wt%].
    lower_, upper_ : ndarray, shape (C, E)
        Range of each element in each grade's training spectra [wt%]; predictions are clipped to it.
    """

    def __init__(self, alphas=tuple(np.logspace(-3, 5, 17)), coverage: float = 0.9, random_state: int = 0):
        self.alphas = alphas
        self.coverage = coverage
        self.random_state = random_state

    def fit(self, Z, labels, Y, classes, feature_masks=None):
        """Fit on standardised features Z (n, k), grade labels and wt% Y (n, E) (NaN = not analysed).

        ``feature_masks`` (E, k) bool, optional, names the features each element may use
        (:func:`composition_feature_masks`: its own lines, the aluminium references and the
        plasma indicators): fewer, physically relevant inputs keep a few hundred spectra per
        grade from being overfitted by the other elements' lines.
        """
        Z = np.asarray(Z, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        labels = np.asarray(labels)
        if Y.ndim != 2 or Y.shape[0] != Z.shape[0]:
            raise ValueError(f"composition: {Y.shape[0] if Y.ndim else 0} rows for {Z.shape[0]} spectra")
        C, k, E = len(classes), Z.shape[1], Y.shape[1]
        self.coef_ = np.zeros((C, k, E))
        self.intercept_ = np.zeros((C, E))
        self.halfwidth_ = np.zeros((C, E))
        self.alpha_ = np.full((C, E), np.nan)
        self.lower_ = np.zeros((C, E))
        self.upper_ = np.full((C, E), 100.0)
        self.n_train_ = np.zeros((C, E), dtype=int)
        masks = np.ones((E, k), dtype=bool) if feature_masks is None else np.asarray(feature_masks, dtype=bool)
        if masks.shape != (E, k):
            raise ValueError(f"feature_masks: shape {masks.shape}, expected ({E}, {k})")
        for c, name in enumerate(classes):
            rows = labels == name
            for e in range(E):
                ok = rows & np.isfinite(Y[:, e])
                if ok.any():
                    self.lower_[c, e], self.upper_[c, e] = Y[ok, e].min(), Y[ok, e].max()
                self._fit_class(Z[ok][:, masks[e]], Y[ok][:, [e]], c, np.array([e]), masks[e])
        self.classes_ = np.asarray(classes)
        self.n_features_in_ = k
        return self

    def _fit_class(self, Z: np.ndarray, Y: np.ndarray, c: int, cols: np.ndarray, features: np.ndarray) -> None:
        """Ridge for every element of one grade from one SVD; alpha and interval from exact LOO residuals.

        With centred ``Z = U S V^T``, the ridge hat matrix is ``1/n + U diag(s^2/(s^2+a)) U^T`` and the
        leave-one-out residual is ``r_i / (1 - h_ii)`` (Hastie, Tibshirani, Friedman, ESL 2nd ed., 7.10).
        """
        n = Z.shape[0]
        self.n_train_[c, cols] = n
        if n < MIN_SPECTRA:
            self.intercept_[c, cols] = np.nanmean(Y, axis=0) if n else 0.0
            return
        zm, ym = Z.mean(axis=0), Y.mean(axis=0)
        U, s, Vt = np.linalg.svd(Z - zm, full_matrices=False)
        Uy = U.T @ (Y - ym)                                            # (r, E)
        best = np.full(len(cols), np.inf)
        for a in np.asarray(self.alphas, dtype=np.float64):
            d = s ** 2 / (s ** 2 + a)                                  # shrinkage per component
            fitted = U @ (d[:, None] * Uy) + ym
            h = 1.0 / n + (U ** 2) @ d
            loo = (Y - fitted) / np.maximum(1.0 - h, 1e-6)[:, None]
            press = np.mean(loo ** 2, axis=0)
            better = press < best
            if better.any():
                coef = Vt.T @ ((s / (s ** 2 + a))[:, None] * Uy)     # (k, E)
                idx = cols[better]
                best[better] = press[better]
                self.alpha_[c, idx] = a
                self.coef_[c][np.ix_(features, idx)] = coef[:, better]
                self.intercept_[c, idx] = (ym - zm @ coef)[better]
                self.halfwidth_[c, idx] = np.quantile(np.abs(loo), self.coverage, axis=0)[better]

    def predict_all(self, Z, P) -> tuple[np.ndarray, np.ndarray]:
        """Estimate and interval half-width [wt%], each (n, E), for features Z and probabilities P."""
        check_is_fitted(self, "coef_")
        per_class = np.einsum("nk,cke->nce", np.asarray(Z, dtype=np.float64), self.coef_) + self.intercept_
        # a grade's regression never leaves the range that grade was trained on: under plasma
        # conditions outside training a linear model extrapolates, the grade's range does not
        per_class = np.minimum(np.maximum(per_class, self.lower_), self.upper_)
        mixed = np.einsum("nc,nce->ne", P, per_class)
        spread = np.einsum("nc,nce->ne", P, np.abs(per_class - mixed[:, None, :]))
        return np.clip(mixed, 0.0, 100.0), P @ self.halfwidth_ + spread

    def predict(self, Z, P=None):
        if P is None:
            raise ValueError("GradeWiseComposition.predict needs the class probabilities P")
        return self.predict_all(Z, P)[0]
