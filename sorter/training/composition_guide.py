"""Composition-guided classifier inputs: ridge estimates of each element's log wt% beside the line features.

The grades a plant confuses (5052/5754/5182, 3003/1050A) differ by a few tenths of a percent of Mg,
Mn or Cr. A classifier on ~160 line features has to find those directions itself from a few hundred
pieces; a ridge regression of ln(wt% + 0.01) per element on the same standardised features points at
them, using the reference compositions that a plant's labelled pieces carry anyway. The classifier then
reads ``[Z, Z W + b]`` (stacked generalisation, Wolpert 1992): on the training rows it learns from
out-of-fold estimates, folds grouped by piece, so it sees estimates as noisy as those of new pieces.

Family guides (``families``): one ridge over every grade spans ln Mg from 0.01 to 5 wt%, and its error
within the 5xxx grades (about 0.2 wt% Mg on peer-c single shots) is as large as the steps between 5052,
5754 and 5182. Ridges fitted on one family's pieces only read the small within-family differences more
closely; their estimates go beside the global ones for every row (a row of another family gets an estimate
it was not fitted on, as a new piece would). Still one MatMul and one Add: the columns are stacked.

Linear, so the ONNX graph adds one MatMul and one Add (``sorter.training.onnx_export``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GroupKFold

from sorter.serving.families import family_of

LOG_OFFSET_WT_PCT = 0.01      # ln(wt% + 0.01): trace levels stay finite, alloying levels near ln(wt%)
RIDGE_ALPHAS = np.logspace(-3, 3, 13)


@dataclass(frozen=True)
class CompositionGuide:
    """ln(wt% + 0.01) of ``elements`` as ``Z @ coef_ + intercept_`` from standardised line features Z."""

    elements: tuple[str, ...]    # "Mg" for a global column, "Mg|5xxx" for a family guide's column
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


def row_families(labels) -> np.ndarray:
    """The family of each row's grade; a plant's own grade without a family row is its own family."""
    labels = np.asarray(labels).astype(str)
    names = {}
    for g in np.unique(labels):
        try:
            names[g] = family_of(g)
        except KeyError:
            names[g] = g
    return np.array([names[g] for g in labels], dtype=object).astype(str)


def _oof_ridge(Z: np.ndarray, T: np.ndarray, groups: np.ndarray, n_folds: int, seed: int):
    """(full RidgeCV fit, out-of-fold estimates of the rows) with folds that keep each group whole."""
    k = min(n_folds, np.unique(groups).size)
    oof = np.empty_like(T)
    # GroupKFold is deterministic; shuffle the group ids with the seed so that folds do not follow piece order
    ids = np.unique(groups, return_inverse=True)[1]
    perm = np.random.default_rng(seed).permutation(ids.max() + 1)
    for tr, te in GroupKFold(n_splits=k).split(Z, groups=perm[ids]):
        oof[te] = RidgeCV(alphas=RIDGE_ALPHAS).fit(Z[tr], T[tr]).predict(Z[te]).reshape(te.size, -1)
    return RidgeCV(alphas=RIDGE_ALPHAS).fit(Z, T), oof


def fit_guide(Z, composition, elements, groups=None, *, n_folds: int = 4, seed: int = 0,
              labels=None, families=None) -> tuple[CompositionGuide | None, np.ndarray | None]:
    """The guide fitted on all rows and its out-of-fold estimates (n, E') for the classifier's training rows.

    Folds keep each group (piece) whole; without ``groups`` every row is its own piece. None, None when no
    element is analysed in every row.

    ``labels`` and ``families`` (n,), optional: also fit a family guide for every family with at least two
    grades (and two pieces per fold) among the rows, on that family's rows only, for the elements that vary
    there (module docstring). Its training rows get out-of-fold estimates; the other rows get the family
    ridge's estimate, which they did not train.
    """
    Z = np.asarray(Z, dtype=np.float64)
    T, els = log_targets(composition, elements)
    if not els:
        return None, None
    groups = np.arange(Z.shape[0]) if groups is None else np.asarray(groups)
    full, oof = _oof_ridge(Z, T, groups, n_folds, seed)
    coefs = [np.asarray(full.coef_, dtype=np.float64).T.reshape(Z.shape[1], len(els))]
    intercepts = [np.asarray(full.intercept_, dtype=np.float64).reshape(len(els))]
    names, estimates = list(els), [oof]
    if labels is not None and families is not None:
        labels, families = np.asarray(labels).astype(str), np.asarray(families).astype(str)
        for fam in sorted(set(families.tolist())):
            rows = families == fam
            if np.unique(labels[rows]).size < 2 or np.unique(groups[rows]).size < 2 * n_folds:
                continue
            vary = np.std(T[rows], axis=0) > 1e-9   # an element at one level in the family teaches nothing
            if not vary.any():
                continue
            fit, sub = _oof_ridge(Z[rows], T[rows][:, vary], groups[rows], n_folds, seed)
            est = fit.predict(Z).reshape(Z.shape[0], -1)
            est[rows] = sub.reshape(int(rows.sum()), -1)
            k = int(vary.sum())
            coefs.append(np.asarray(fit.coef_, dtype=np.float64).T.reshape(Z.shape[1], k))
            intercepts.append(np.asarray(fit.intercept_, dtype=np.float64).reshape(k))
            names += [f"{e}|{fam}" for e, v in zip(els, vary, strict=True) if v]
            estimates.append(est)
    return (CompositionGuide(tuple(names), np.concatenate(coefs, axis=1), np.concatenate(intercepts)),
            np.concatenate(estimates, axis=1))
