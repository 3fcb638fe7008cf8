"""Normalisation of spectra to their total emission."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted


class TotalEmissionNormaliser(TransformerMixin, BaseEstimator):
    """Divide each spectrum by its summed intensity, removing the shot-to-shot ablated mass.

    The served model normalises line areas to an Al reference line and to the summed line
    area instead (:class:`sorter.preprocess.features.LineWindowFeatures`), which ignores the
    continuum; this transformer is the whole-spectrum form for full-spectrum features.

    Parameters
    ----------
    floor : float
        Added to the sum so an empty spectrum does not divide by zero [counts].

    Examples
    --------
    >>> import numpy as np
    >>> TotalEmissionNormaliser().fit_transform(np.array([[1.0, 3.0]]))
    array([[0.25, 0.75]])
    """

    def __init__(self, floor: float = 1e-12):
        self.floor = floor

    def fit(self, X, y=None):
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        X = np.asarray(X, dtype=np.float64)
        return X / (np.abs(X.sum(axis=1, keepdims=True)) + self.floor)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "n_features_in_")
        if input_features is None:
            input_features = [f"x{i}" for i in range(self.n_features_in_)]
        return np.array([f"{f}_norm" for f in input_features], dtype=object)
