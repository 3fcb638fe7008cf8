"""Baseline (continuum) removal as scikit-learn transformers.

Two kinds, for two uses:

* :class:`SpectrumBaseline` fits a smooth baseline under the whole spectrum with
  pybaselines (asymmetric least squares by default). Use it to look at spectra and for
  full-spectrum features; it is iterative, so it stays outside the served ONNX graph.
* The served model removes the continuum locally, under each line window, with a
  straight line through the mean of two background bands
  (:class:`sorter.preprocess.features.LineWindowFeatures`). That is linear in the
  intensities, so ONNX computes it as one matrix product, and it transfers between
  instruments whose continua differ.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from blending.errors import InputError

METHODS = ("asls", "arpls", "snip", "modpoly")


class SpectrumBaseline(TransformerMixin, BaseEstimator):
    """Subtract a pybaselines baseline from every spectrum.

    Parameters
    ----------
    wavelength_nm : array_like, shape (p,)
        Pixel grid of the spectra [nm].
    method : {"asls", "arpls", "snip", "modpoly"}
        pybaselines algorithm (Eilers and Boelens 2005 for asls; Baek et al. 2015 for arpls;
        Ryan et al. 1988 for snip).
    lam : float
        Smoothness for asls/arpls (larger is stiffer).
    half_window_nm : float
        Half window for snip [nm].

    Examples
    --------
    >>> import numpy as np
    >>> wl = np.linspace(300, 310, 200)
    >>> x = 5 + 0.2 * (wl - 300) + 100 * np.exp(-0.5 * ((wl - 305) / 0.05) ** 2)
    >>> b = SpectrumBaseline(wl, method="snip", half_window_nm=1.0).fit(x[None])
    >>> bool(abs(b.transform(x[None])[0, 10]) < 0.5)
    True
    """

    def __init__(self, wavelength_nm=None, method: str = "asls", lam: float = 1e6, half_window_nm: float = 2.0):
        self.wavelength_nm = wavelength_nm
        self.method = method
        self.lam = lam
        self.half_window_nm = half_window_nm

    def fit(self, X, y=None):
        if self.method not in METHODS:
            raise InputError(f"SpectrumBaseline: method {self.method!r} must be one of {', '.join(METHODS)}")
        wl = np.asarray(self.wavelength_nm, dtype=np.float64)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != wl.size:
            raise InputError(f"SpectrumBaseline: X has shape {X.shape}; expected (n, {wl.size})")
        from pybaselines import Baseline

        self.fitter_ = Baseline(x_data=wl)
        step = float(np.median(np.diff(wl)))
        self.half_window_px_ = max(1, int(round(self.half_window_nm / step)))
        self.n_features_in_ = wl.size
        return self

    def baseline(self, X) -> np.ndarray:
        """The fitted baseline of each spectrum, shape (n, p) [counts]."""
        check_is_fitted(self, "fitter_")
        X = np.asarray(X, dtype=np.float64)
        out = np.empty_like(X)
        for i, row in enumerate(X):
            if self.method == "asls":
                out[i] = self.fitter_.asls(row, lam=self.lam, p=0.01)[0]
            elif self.method == "arpls":
                out[i] = self.fitter_.arpls(row, lam=self.lam)[0]
            elif self.method == "snip":
                out[i] = self.fitter_.snip(row, max_half_window=self.half_window_px_)[0]
            else:
                out[i] = self.fitter_.modpoly(row, poly_order=3)[0]
        return out

    def transform(self, X):
        X = np.asarray(X, dtype=np.float64)
        return X - self.baseline(X)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "fitter_")
        wl = np.asarray(self.wavelength_nm, dtype=np.float64)
        return np.array([f"px_{w:.4f}" for w in wl], dtype=object)
