"""Resampling onto the model's wavelength grid, as a scikit-learn transformer."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from blending.errors import InputError
from sorter.preprocess.grid import interpolation_indices


class Resampler(TransformerMixin, BaseEstimator):
    """Linear interpolation from a source pixel grid onto the model's grid.

    Parameters
    ----------
    source_nm : array_like, shape (p_in,)
        Wavelengths of the input columns [nm], strictly increasing.
    target_nm : array_like, shape (p,)
        The model's grid [nm]. Must overlap ``source_nm``; target points beyond the
        source take its edge value.

    Notes
    -----
    The fitted form is a gather plus a linear interpolation (``index_``, ``fraction_``),
    which ONNX expresses as two ``Gather`` and a lerp. The served model takes spectra
    already on its grid; ``sorter.serving.runtime`` resamples arbitrary grids in numpy
    with the same arithmetic (:func:`sorter.preprocess.grid.resample`).

    Examples
    --------
    >>> import numpy as np
    >>> r = Resampler(source_nm=[300.0, 301.0, 302.0], target_nm=[300.5, 301.5]).fit(np.zeros((1, 3)))
    >>> r.transform(np.array([[0.0, 2.0, 4.0]]))
    array([[1., 3.]])
    """

    def __init__(self, source_nm=None, target_nm=None):
        self.source_nm = source_nm
        self.target_nm = target_nm

    def fit(self, X=None, y=None):
        src = np.asarray(self.source_nm, dtype=np.float64)
        dst = np.asarray(self.target_nm, dtype=np.float64)
        if src.ndim != 1 or dst.ndim != 1 or src.size < 2 or dst.size < 1:
            raise InputError("Resampler: source_nm and target_nm must be 1-D grids (source at least 2 points)")
        if np.any(np.diff(src) <= 0) or np.any(np.diff(dst) <= 0):
            raise InputError("Resampler: wavelength grids must be strictly increasing")
        if src[-1] < dst[0] or src[0] > dst[-1]:
            raise InputError(f"Resampler: input grid {src[0]:g}-{src[-1]:g} nm does not overlap the model grid "
                             f"{dst[0]:g}-{dst[-1]:g} nm")
        if X is not None and np.shape(X)[-1] != src.size:
            raise InputError(f"Resampler: X has {np.shape(X)[-1]} columns, source grid has {src.size}")
        self.index_, self.fraction_ = interpolation_indices(src, dst)
        self.n_features_in_ = src.size
        return self

    def transform(self, X):
        check_is_fitted(self, "index_")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InputError(f"Resampler: expected shape (n, {self.n_features_in_}), got {X.shape}")
        return X[:, self.index_] * (1.0 - self.fraction_) + X[:, self.index_ + 1] * self.fraction_

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "index_")
        return np.array([f"px_{w:.4f}" for w in np.asarray(self.target_nm, dtype=np.float64)], dtype=object)
