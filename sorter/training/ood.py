"""Out-of-distribution score: class-conditional Mahalanobis distance on the standardised features.

Lee et al. (2018), "A simple unified framework for detecting out-of-distribution samples",
NeurIPS: the distance to the nearest class mean under the pooled within-class covariance.
The covariance is Ledoit-Wolf shrunk, since line ratios of absent elements are nearly constant.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.covariance import LedoitWolf
from sklearn.utils.validation import check_is_fitted


class ClassMahalanobis(BaseEstimator):
    """RMS-per-feature Mahalanobis distance to the nearest class mean.

    ``score(Z) = sqrt(min_c (z - m_c)^T P (z - m_c) / k)``: about 1 for a typical training
    spectrum, much larger for a spectrum unlike any class.

    Attributes
    ----------
    whitening_ : ndarray, shape (k, k)
        ``L`` with ``L L^T = P`` (the precision).
    means_white_ : ndarray, shape (C, k)
        Class means multiplied by ``L``.
    """

    def fit(self, Z, labels):
        Z = np.asarray(Z, dtype=np.float64)
        labels = np.asarray(labels)
        classes = np.unique(labels)
        means = np.stack([Z[labels == c].mean(axis=0) for c in classes])
        residual = Z - means[np.searchsorted(classes, labels)]
        cov = LedoitWolf(assume_centered=True).fit(residual).covariance_
        precision = np.linalg.inv(cov)
        precision = 0.5 * (precision + precision.T)
        self.whitening_ = np.linalg.cholesky(precision)
        self.means_white_ = means @ self.whitening_
        self.classes_ = classes
        self.n_features_in_ = Z.shape[1]
        return self

    def distances(self, Z) -> np.ndarray:
        """RMS-per-feature Mahalanobis distance to every class mean, shape (n, C)."""
        check_is_fitted(self, "whitening_")
        W = np.asarray(Z, dtype=np.float64) @ self.whitening_
        d2 = ((W[:, None, :] - self.means_white_[None]) ** 2).sum(axis=2)
        return np.sqrt(np.maximum(d2, 0.0) / self.n_features_in_)

    def score(self, Z) -> np.ndarray:
        return self.distances(Z).min(axis=1)
