"""Composition-guided classifier inputs: ridge estimates of each element's log wt% beside the line features.

The grades a plant confuses (5052/5754/5182, 3003/1050A) differ by a few tenths of a percent of Mg,
Mn or Cr. A classifier on ~160 line features has to find those directions itself from a few hundred
pieces; a ridge regression of ln(wt% + 0.01) per element on the same standardised features points at
them, using the reference compositions that a plant's labelled pieces carry anyway. The classifier then
reads ``[Z, Z W + b]`` (stacked generalisation, Wolpert 1992): on the training rows it learns from
out-of-fold estimates, folds grouped by piece, so it sees estimates as noisy as those of new pieces.

Linear, so the ONNX graph adds one MatMul and one Add (``sorter.training.onnx_export``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GroupKFold

LOG_OFFSET_WT_PCT = 0.01      # ln(wt% + 0.01): trace levels stay finite, alloying levels near ln(wt%)
RIDGE_ALPHAS = np.logspace(-3, 3, 13)


@dataclass(frozen=True)
class CompositionGuide:
    """ln(wt% + 0.01) of ``elements`` as ``Z @ coef_ + intercept_`` from standardised line features Z."""

    elements: tuple[str, ...]
    coef_: np.ndarray          # (k, E)
    intercept_: np.ndarray     # (E,)

    def __call__(self, Z) -> np.ndarray:
        return np.asarray(Z, dtype=np.float64) @ self.coef_ + self.intercept_


def log_targets(composition, elements) -> tuple[np.ndarray, tuple[str, ...]]:
    """ln(wt% + 0.01) of the elements analysed in every spectrum (others dropped: a guide needs every row)."""
    C = np.asarray(composition, dtype=np.float64)
    keep = np.all(np.isfinite(C), axis=0)
    keep[keep] = np.std(C[:, keep], axis=0) > 0   # an element at one level in every row teaches nothing
    return np.log(np.clip(C[:, keep], 0.0, None) + LOG_OFFSET_WT_PCT), tuple(e for e, k in zip(elements, keep,
                                                                                               strict=True) if k)


def fit_guide(Z, composition, elements, groups=None, *, n_folds: int = 4,
              seed: int = 0) -> tuple[CompositionGuide | None, np.ndarray | None]:
    """The guide fitted on all rows and its out-of-fold estimates (n, E) for the classifier's training rows.

    Folds keep each group (piece) whole; without ``groups`` every row is its own piece. None, None when no
    element is analysed in every row.
    """
    Z = np.asarray(Z, dtype=np.float64)
    T, els = log_targets(composition, elements)
    if not els:
        return None, None
    groups = np.arange(Z.shape[0]) if groups is None else np.asarray(groups)
    k = min(n_folds, np.unique(groups).size)
    oof = np.empty_like(T)
    # GroupKFold is deterministic; shuffle the group ids with the seed so that folds do not follow piece order
    ids = np.unique(groups, return_inverse=True)[1]
    perm = np.random.default_rng(seed).permutation(ids.max() + 1)
    for tr, te in GroupKFold(n_splits=k).split(Z, groups=perm[ids]):
        oof[te] = RidgeCV(alphas=RIDGE_ALPHAS).fit(Z[tr], T[tr]).predict(Z[te])
    full = RidgeCV(alphas=RIDGE_ALPHAS).fit(Z, T)
    return CompositionGuide(els, np.asarray(full.coef_, dtype=np.float64).T.reshape(Z.shape[1], len(els)),
                            np.asarray(full.intercept_, dtype=np.float64).reshape(len(els))), oof
