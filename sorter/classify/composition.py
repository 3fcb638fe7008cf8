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
ambiguous spectrum gets a wider interval). For spectra far from their grade's training spectra
(plasma conditions outside training) the interval widens and each grade's estimate is pulled
towards that grade's mean, in proportion to the distance.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

MIN_SPECTRA = 5


def composition_feature_masks(elements, feature_elements, feature_stages, *, plasma: bool = True) -> np.ndarray:
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
    plasma : bool
        False gives own lines and aluminium references only (no other element's lines).
    """
    fe = np.asarray(feature_elements).astype(str)
    st = np.asarray(feature_stages)
    if fe.shape != st.shape:
        raise ValueError(f"feature_stages: {st.size} values for {fe.size} features")
    both = [e for e in set(fe) - {"Al"} if {1, 2} <= set(st[fe == e].tolist())]
    shared = (fe == "Al") | (np.isin(fe, both) if plasma else False)
    masks = np.array([(fe == e) | shared for e in elements], dtype=bool).reshape(len(elements), fe.size)
    masks[~np.isin(np.asarray(elements, dtype=str), fe)] = True
    return masks


class GradeWiseComposition(RegressorMixin, BaseEstimator):
    """One ridge per grade and element on standardised features; mixed by class probability.

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
    mean_ : ndarray, shape (C, E)
        Mean of each element in each grade's training spectra [wt%].
    mask_choice_ : ndarray, shape (C, E)
        Which candidate feature mask each grade and element kept (0 when one mask was given).
    distance_scale_ : ndarray, shape (C,)
        Set by :meth:`fit_distance_scale`: each grade's training distance quantile.
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
        grade from being overfitted by the other elements' lines. A stack of candidates
        (M, E, k) lets each grade and element keep the candidate with the smallest
        leave-one-out error (``mask_choice_``): plasma indicators pay off where the line
        ratios are precise (spectra averaged over shots) and only add noise where single-shot
        detector noise dominates.
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
        self.mean_ = np.zeros((C, E))
        self.n_train_ = np.zeros((C, E), dtype=int)
        self.mask_choice_ = np.zeros((C, E), dtype=int)
        masks = np.ones((E, k), dtype=bool) if feature_masks is None else np.asarray(feature_masks, dtype=bool)
        if masks.ndim == 2:
            masks = masks[None]
        if masks.ndim != 3 or masks.shape[1:] != (E, k):
            raise ValueError(f"feature_masks: shape {masks.shape}, expected ({E}, {k}) or (M, {E}, {k})")
        for c, name in enumerate(classes):
            rows = labels == name
            for e in range(E):
                ok = rows & np.isfinite(Y[:, e])
                n = int(ok.sum())
                self.n_train_[c, e] = n
                if n:
                    self.lower_[c, e], self.upper_[c, e] = Y[ok, e].min(), Y[ok, e].max()
                    self.mean_[c, e] = Y[ok, e].mean()
                if n < MIN_SPECTRA:
                    self.intercept_[c, e] = Y[ok, e].mean() if n else 0.0
                    continue
                best = np.inf
                for m, mask in enumerate(masks[:, e]):
                    press, alpha, coef, icpt, half = self._ridge_loo(Z[ok][:, mask], Y[ok, e])
                    if press < best:
                        best = press
                        self.coef_[c, :, e] = 0.0
                        self.coef_[c, mask, e] = coef
                        self.intercept_[c, e], self.halfwidth_[c, e] = icpt, half
                        self.alpha_[c, e], self.mask_choice_[c, e] = alpha, m
        self.classes_ = np.asarray(classes)
        self.n_features_in_ = k
        return self

    def _ridge_loo(self, Z: np.ndarray, y: np.ndarray) -> tuple[float, float, np.ndarray, float, float]:
        """Ridge from one SVD; alpha and interval from exact LOO residuals.

        Returns the mean squared LOO residual, alpha, coefficients, intercept and the
        ``coverage`` quantile of the absolute LOO residuals.

        With centred ``Z = U S V^T``, the ridge hat matrix is ``1/n + U diag(s^2/(s^2+a)) U^T`` and the
        leave-one-out residual is ``r_i / (1 - h_ii)`` (Hastie, Tibshirani, Friedman, ESL 2nd ed., 7.10).
        """
        n = Z.shape[0]
        zm, ym = Z.mean(axis=0), y.mean()
        U, s, Vt = np.linalg.svd(Z - zm, full_matrices=False)
        Uy = U.T @ (y - ym)
        out = (np.inf, np.nan, np.zeros(Z.shape[1]), ym, 0.0)
        for a in np.asarray(self.alphas, dtype=np.float64):
            d = s ** 2 / (s ** 2 + a)                                  # shrinkage per component
            fitted = U @ (d * Uy) + ym
            h = 1.0 / n + (U ** 2) @ d
            loo = (y - fitted) / np.maximum(1.0 - h, 1e-6)
            press = float(np.mean(loo ** 2))
            if press < out[0]:
                coef = Vt.T @ ((s / (s ** 2 + a)) * Uy)
                out = (press, float(a), coef, float(ym - zm @ coef), float(np.quantile(np.abs(loo), self.coverage)))
        return out

    def fit_distance_scale(self, class_distance, labels):
        """Remember each grade's ``coverage`` quantile of its training spectra's distance to it.

        ``class_distance`` (n, C) is the Mahalanobis distance of each training spectrum to each
        grade (:class:`~sorter.classify.ood.ClassMahalanobis`). A spectrum further from its grade
        than that comes from plasma conditions the regressions saw rarely or never; its interval
        widens in proportion (:meth:`interval_inflation`).
        """
        check_is_fitted(self, "coef_")
        d = np.asarray(class_distance, dtype=np.float64)
        labels = np.asarray(labels)
        scale = np.ones(len(self.classes_))
        for c, name in enumerate(self.classes_):
            rows = labels == name
            if rows.any():
                scale[c] = max(float(np.quantile(d[rows, c], self.coverage)), 1e-9)
        self.distance_scale_ = scale
        return self

    def interval_inflation(self, P, class_distance) -> np.ndarray:
        """(n,) factor >= 1: probability-weighted distance to the grades over their training quantile."""
        check_is_fitted(self, "distance_scale_")
        P = np.asarray(P, dtype=np.float64)
        ratio = np.sum(P * np.asarray(class_distance, dtype=np.float64), axis=1) / (P @ self.distance_scale_)
        return np.maximum(ratio, 1.0)

    def predict_all(self, Z, P, class_distance=None) -> tuple[np.ndarray, np.ndarray]:
        """Estimate and interval half-width [wt%], each (n, E), for features Z and probabilities P.

        With ``class_distance`` (n, C) and a fitted :meth:`fit_distance_scale`, each grade's
        estimate is pulled towards its training mean and the half-width widened, both by
        :meth:`interval_inflation` r: ``mean + (estimate - mean) / r`` and ``r x half-width``. On
        held-out cool, thin plasmas the 90% interval otherwise covers about two thirds of the true
        values, and the regressions there do worse than the grade mean.
        """
        check_is_fitted(self, "coef_")
        per_class = np.einsum("nk,cke->nce", np.asarray(Z, dtype=np.float64), self.coef_) + self.intercept_
        # a grade's regression never leaves the range that grade was trained on: under plasma
        # conditions outside training a linear model extrapolates, the grade's range does not
        per_class = np.minimum(np.maximum(per_class, self.lower_), self.upper_)
        inflation = None
        if class_distance is not None and hasattr(self, "distance_scale_"):
            # off the training conditions a regression is trusted less: pull it towards the grade mean
            inflation = self.interval_inflation(P, class_distance)[:, None, None]
            per_class = self.mean_ + (per_class - self.mean_) / inflation
        mixed = np.einsum("nc,nce->ne", P, per_class)
        spread = np.einsum("nc,nce->ne", P, np.abs(per_class - mixed[:, None, :]))
        half = P @ self.halfwidth_ + spread
        if inflation is not None:
            half = half * inflation[:, :, 0]
        return np.clip(mixed, 0.0, 100.0), half

    def predict(self, Z, P=None):
        if P is None:
            raise ValueError("GradeWiseComposition.predict needs the class probabilities P")
        return self.predict_all(Z, P)[0]
