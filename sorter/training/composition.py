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

Plasma-state experts. One linear model over a grade's whole plasma envelope (T_e 8,000-14,000 K,
n_e 1e16-1e18 cm^-3) is a poor fit: the Saha and Boltzmann factors that relate a line ratio to a
concentration change exponentially across it, while within a narrow slice of the same envelope
the relation is nearly linear and the same ridge reads the content far better (docs/classifier.md,
"Plasma-state experts"). So each
grade also gets ``n_experts`` ridges, each fitted with Gaussian weights around one centre in a
two-dimensional plasma coordinate, and a spectrum's estimate is the weight-blended mix of them (a
mixture of local linear experts with fixed gates; Jacobs et al. 1991, Neural Comput. 3, 79). The
coordinate is a linear map of the features: regressed on the simulator's (1e4 K / T_e, ln n_e)
when the training spectra carry their plasma state, otherwise the two leading principal components
of the grade's plasma-indicator features (label-free). A grade and element keeps the experts only
where their leave-one-out error beats the single ridge's.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from blending.errors import InputError

MIN_SPECTRA = 5
MIN_EXPERT_SPECTRA = 150         # a grade needs this many spectra for plasma-state experts
MIN_WEIGHT = 1e-3                # spectra with less gate weight do not enter an expert's fit


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
    shared = plasma_indicator_columns(fe, feature_stages) if plasma else fe == "Al"
    masks = np.array([(fe == e) | shared for e in elements], dtype=bool).reshape(len(elements), fe.size)
    masks[~np.isin(np.asarray(elements, dtype=str), fe)] = True
    return masks


def plasma_indicator_columns(feature_elements, feature_stages) -> np.ndarray:
    """(k,) bool: the aluminium features and every feature of an element seen in both ion stages."""
    fe = np.asarray(feature_elements).astype(str)
    st = np.asarray(feature_stages)
    if fe.shape != st.shape:
        raise InputError(f"feature_stages: {st.size} values for {fe.size} features", field="feature_stages")
    both = [e for e in set(fe) - {"Al"} if {1, 2} <= set(st[fe == e].tolist())]
    return (fe == "Al") | np.isin(fe, both)


def plasma_state_map(Z, labels, plasma_state, plasma_columns=None) -> np.ndarray:
    """One linear map (k, 2) from standardised features to the plasma state, learnt within grades.

    Fitted on spectra whose (1e4 K / T_e, ln n_e [cm^-3]) is known (simulated reference spectra seen
    through the model's windows, :mod:`sorter.training.state_reference`) after centring features and
    states on each grade's means: what is left is how the plasma-indicator features move with the
    state inside a grade (the Saha and Boltzmann factors of ion/atom and upper-level ratios,
    Ciucci et al. 1999), not how grades differ. The map's direction is what :class:`GradeWiseComposition`
    uses to place the experts of a plant's own spectra, which carry no plasma state: an offset
    between instruments (another spectral response) shifts every feature but not the direction.
    ``plasma_columns`` (k,) bool: the features it may read (default all).
    """
    Z = np.asarray(Z, dtype=np.float64).copy()
    state = np.asarray(plasma_state, dtype=np.float64).copy()
    labels = np.asarray(labels)
    if state.shape != (Z.shape[0], 2) or not np.all(np.isfinite(state)):
        raise InputError(f"plasma_state: shape {state.shape} with finite values expected ({Z.shape[0]}, 2)",
                         field="plasma_state")
    for name in np.unique(labels):
        rows = labels == name
        Z[rows] -= Z[rows].mean(axis=0)
        state[rows] -= state[rows].mean(axis=0)
    cols = np.ones(Z.shape[1], dtype=bool) if plasma_columns is None else np.asarray(plasma_columns, dtype=bool)
    return GradeWiseComposition()._coordinate(Z, state, cols)[0]


def _group_blocks(groups) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of each group, padded to the largest: (G, m) indices and a (G, m) validity mask."""
    _, inverse, counts = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    m = int(counts.max())
    slot = np.arange(order.size) - np.repeat(starts, counts)
    idx = np.zeros((counts.size, m), dtype=np.int64)
    valid = np.zeros((counts.size, m), dtype=bool)
    idx[inverse[order], slot] = order
    valid[inverse[order], slot] = True
    return idx, valid


def _leave_group_out(U, d, sw, w_sum: float, resid, blocks) -> np.ndarray:
    """Leave-group-out residuals of a (weighted) ridge: ``(I - H_gg)^-1 r_g`` per group, unscaled.

    In the sqrt(w)-scaled rows the hat matrix is ``sw sw^T / sum w + U diag(d) U^T``; padded slots
    get zero rows, so their block is the identity and their residual 0.
    """
    idx, valid = blocks
    Ug = U[idx] * valid[..., None]                                    # (G, m, r)
    swg = sw[idx] * valid
    H = np.einsum("gir,r,gjr->gij", Ug, d, Ug) + swg[:, :, None] * swg[:, None, :] / w_sum
    A = np.eye(idx.shape[1])[None] - H
    # a block with no residual freedom left (leverage 1) gets the singleton case's 1e-6 floor
    A += 1e-6 * np.eye(idx.shape[1])[None]
    e = np.linalg.solve(A, (sw[idx] * resid[idx] * valid)[..., None])[..., 0]
    loo = np.zeros_like(resid)
    loo[idx[valid]] = e[valid] / sw[idx[valid]]
    return loo


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
        Seed of the k-means that places the experts' centres.
    n_experts : int
        Plasma-state experts per grade (0 or 1: the single ridge only).
    expert_width : float
        Standard deviation of each expert's Gaussian gate, in units of the grade's coordinate spread.
    min_expert_spectra : int
        Spectra a grade needs before it gets experts.
    expert_max_mse_ratio : float
        A grade and element keeps its experts only if their leave-one-out mean squared error is
        at most this share of the single ridge's: each kept pair costs serving time.

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
    state_map_, state_offset_ : ndarray, shapes (C, k, 2) and (C, 2)
        Each grade's standardised plasma coordinate ``Z @ state_map_[c] + state_offset_[c]``.
    centres_ : ndarray, shape (C, B, 2)
        The experts' centres in that coordinate.
    expert_pairs_ : ndarray, shape (P, 2)
        (grade, element) index pairs whose estimate is the experts' blend.
    expert_coef_, expert_intercept_ : ndarray, shapes (B, k, P) and (B, P)
    expert_mse_ratio_ : ndarray, shape (C, E)
        Experts' LOO mean squared error over the single ridge's, for every pair that had experts fitted.
    """

    def __init__(self, alphas=tuple(np.logspace(-3, 5, 17)), coverage: float = 0.9, random_state: int = 0,
                 n_experts: int = 6, expert_width: float = 0.45, min_expert_spectra: int = MIN_EXPERT_SPECTRA,
                 expert_max_mse_ratio: float = 1.0):
        self.alphas = alphas
        self.coverage = coverage
        self.random_state = random_state
        self.n_experts = n_experts
        self.expert_width = expert_width
        self.min_expert_spectra = min_expert_spectra
        self.expert_max_mse_ratio = expert_max_mse_ratio

    def fit(self, Z, labels, Y, classes, feature_masks=None, plasma_state=None, plasma_columns=None,
            expert_classes=None, groups=None, aluminium_classes=None, state_map=None):
        """Fit on standardised features Z (n, k), grade labels and wt% Y (n, E) (NaN = not analysed).

        ``feature_masks`` (E, k) bool, optional, names the features each element may use
        (:func:`composition_feature_masks`: its own lines, the aluminium references and the
        plasma indicators): fewer, physically relevant inputs keep a few hundred spectra per
        grade from being overfitted by the other elements' lines. A stack of candidates
        (M, E, k) lets each grade and element keep the candidate with the smallest
        leave-one-out error (``mask_choice_``): plasma indicators pay off where the line
        ratios are precise (spectra averaged over shots) and only add noise where single-shot
        detector noise dominates.

        ``plasma_state`` (n, 2), optional, is each training spectrum's (1e4 K / T_e, ln n_e [cm^-3])
        (simulated spectra know it); without it the experts' coordinate is ``state_map`` (k, 2),
        standardised on each grade's spectra (:func:`plasma_state_map`, learnt on reference spectra
        that know their state), or else the two leading principal components of the features in
        ``plasma_columns`` (bool (k,), default all), per grade.
        ``expert_classes`` names the grades that may get experts (default all): each expert costs
        serving time, and a contaminant's composition needs no better than the single ridge.

        ``groups`` (n,), optional: the piece each row is a spectrum of (a spectrum and its augmented
        copies, :mod:`sorter.training.augment`); every leave-one-out error then leaves a whole piece out.

        ``aluminium_classes``, optional: the classes that are aluminium grades. With both kinds among
        ``classes``, :meth:`predict_all` mixes only the classes of the more probable kind
        (:meth:`family_conditioned`); without, every class (all of one kind).
        """
        Z = np.asarray(Z, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        labels = np.asarray(labels)
        if Y.ndim != 2 or Y.shape[0] != Z.shape[0]:
            raise InputError(f"composition: {Y.shape[0] if Y.ndim else 0} rows for {Z.shape[0]} spectra",
                             field="composition")
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
        self._press = np.full((C, E), np.inf)
        self._loo: dict[tuple[int, int], np.ndarray] = {}   # each grade and element's LOO residuals
        if groups is not None:
            groups = np.asarray(groups)
            if groups.shape != (Z.shape[0],):
                raise InputError(f"groups: shape {groups.shape}, expected ({Z.shape[0]},)", field="groups")
            if np.unique(groups).size == groups.size:
                groups = None                                  # every piece one row: the plain LOO
        masks = np.ones((E, k), dtype=bool) if feature_masks is None else np.asarray(feature_masks, dtype=bool)
        if masks.ndim == 2:
            masks = masks[None]
        if masks.ndim != 3 or masks.shape[1:] != (E, k):
            raise InputError(f"feature_masks: shape {masks.shape}, expected ({E}, {k}) or (M, {E}, {k})",
                             field="feature_masks")
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
                    press, alpha, coef, icpt, half, loo = self._ridge_loo(
                        Z[ok][:, mask], Y[ok, e], return_loo=True, groups=None if groups is None else groups[ok])
                    if press < best:
                        self._loo[(c, e)] = loo
                        best = press
                        self.coef_[c, :, e] = 0.0
                        self.coef_[c, mask, e] = coef
                        self.intercept_[c, e], self.halfwidth_[c, e] = icpt, half
                        self.alpha_[c, e], self.mask_choice_[c, e] = alpha, m
                self._press[c, e] = best
        self.classes_ = np.asarray(classes)
        self.aluminium_ = np.isin(self.classes_, list(classes if aluminium_classes is None else aluminium_classes))
        self.n_features_in_ = k
        if state_map is not None and np.shape(state_map) != (k, 2):
            raise InputError(f"state_map: shape {np.shape(state_map)}, expected ({k}, 2)", field="state_map")
        self._fit_experts(Z, labels, Y, masks, plasma_state, plasma_columns,
                          set(self.classes_.tolist() if expert_classes is None else expert_classes), groups,
                          state_map)
        del self._press, self._loo
        return self

    def _fit_experts(self, Z, labels, Y, masks, plasma_state, plasma_columns, expert_classes, groups=None,
                     state_map=None) -> None:
        """Per grade: the plasma coordinate, the expert centres, and each element's local ridges."""
        C, k, E, B = len(self.classes_), Z.shape[1], Y.shape[1], int(self.n_experts)
        self.state_map_ = np.zeros((C, k, 2))
        self.state_offset_ = np.zeros((C, 2))
        self.centres_ = np.zeros((C, max(B, 1), 2))
        self.expert_mse_ratio_ = np.full((C, E), np.nan)
        pairs, coefs, icpts = [], [], []
        cols = np.ones(k, dtype=bool) if plasma_columns is None else np.asarray(plasma_columns, dtype=bool)
        state = None if plasma_state is None else np.asarray(plasma_state, dtype=np.float64)
        for c, name in enumerate(self.classes_):
            rows = np.flatnonzero(labels == name)
            if B < 2 or rows.size < self.min_expert_spectra or name not in expert_classes:
                continue
            A, a0 = self._coordinate(Z[rows], None if state is None else state[rows], cols, state_map)
            if not A.any():       # nothing to place the experts on
                continue
            self.state_map_[c], self.state_offset_[c] = A, a0
            S = Z[rows] @ A + a0
            self.centres_[c] = KMeans(B, random_state=self.random_state, n_init=4).fit(S).cluster_centers_
            W = self._gates(S, self.centres_[c])
            for e in range(E):
                ok = np.isfinite(Y[rows, e])
                if ok.sum() < self.min_expert_spectra or np.ptp(Y[rows[ok], e]) == 0:
                    continue
                mask = masks[self.mask_choice_[c, e], e]
                coef = np.zeros((B, k))
                icpt = np.zeros(B)
                loo_mix = np.zeros(int(ok.sum()))
                for b in range(B):
                    w = W[ok, b]
                    use = w > MIN_WEIGHT
                    if use.sum() < MIN_SPECTRA * 4:
                        coef[b], icpt[b] = self.coef_[c, :, e], self.intercept_[c, e]
                        loo_mix += w * self._loo[(c, e)]
                        continue
                    _, _, cb, ib, _, loo = self._ridge_loo(Z[rows[ok]][use][:, mask], Y[rows[ok][use], e],
                                                           weights=w[use], return_loo=True,
                                                           groups=None if groups is None else groups[rows[ok]][use])
                    coef[b, mask], icpt[b] = cb, ib
                    full = np.zeros(int(ok.sum()))
                    full[use] = loo
                    loo_mix += w * full
                press = float(np.mean(loo_mix ** 2))
                self.expert_mse_ratio_[c, e] = press / self._press[c, e]
                if press < self.expert_max_mse_ratio * self._press[c, e]:
                    pairs.append((c, e))
                    coefs.append(coef)
                    icpts.append(icpt)
                    self.halfwidth_[c, e] = float(np.quantile(np.abs(loo_mix), self.coverage))
        self.expert_pairs_ = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        self.expert_coef_ = np.stack(coefs, axis=2) if coefs else np.zeros((max(B, 1), k, 0))  # (B, k, P)
        self.expert_intercept_ = np.stack(icpts, axis=1) if icpts else np.zeros((max(B, 1), 0))  # (B, P)

    def _coordinate(self, Z: np.ndarray, state, cols, state_map=None) -> tuple[np.ndarray, np.ndarray]:
        """Linear map (k, 2) and offset (2,) from features to a standardised plasma coordinate."""
        k = Z.shape[1]
        A = np.zeros((k, 2))
        known = state is not None and np.all(np.isfinite(state))
        if known:
            for j in range(2):
                A[:, j] = self._ridge_loo(Z, state[:, j])[2]
        elif state_map is not None and np.any(state_map):
            A = np.array(state_map, dtype=np.float64)
        if known or A.any():        # the regressed or given map, standardised on these spectra
            A /= (Z @ A).std(axis=0) + 1e-12
            return A, -(Z.mean(axis=0) @ A)
        zc = Z[:, cols] - Z[:, cols].mean(axis=0)
        if zc.shape[1] == 0:      # no plasma indicator among the features: one place for every spectrum
            return A, np.zeros(2)
        _, sv, Vt = np.linalg.svd(zc, full_matrices=False)
        A[cols] = Vt[:2].T / (sv[:2, None].T / np.sqrt(max(len(Z) - 1, 1)) + 1e-12)
        return A, -(Z.mean(axis=0) @ A)

    def _gates(self, S: np.ndarray, centres: np.ndarray) -> np.ndarray:
        """Normalised Gaussian weight of each expert: S (..., 2) and centres (..., B, 2) give (..., B)."""
        d2 = ((S[..., None, :] - centres) ** 2).sum(axis=-1) / self.expert_width ** 2
        W = np.exp(-0.5 * (d2 - d2.min(axis=-1, keepdims=True)))
        return W / W.sum(axis=-1, keepdims=True)

    def _ridge_loo(self, Z: np.ndarray, y: np.ndarray, weights=None, return_loo: bool = False, groups=None):
        """Ridge from one SVD; alpha and interval from exact LOO residuals.

        Returns the mean squared LOO residual, alpha, coefficients, intercept and the
        ``coverage`` quantile of the absolute LOO residuals (and, with ``return_loo``, the LOO
        residuals themselves).

        With centred ``Z = U S V^T``, the ridge hat matrix is ``1/n + U diag(s^2/(s^2+a)) U^T`` and the
        leave-one-out residual is ``r_i / (1 - h_ii)`` (Hastie, Tibshirani, Friedman, ESL 2nd ed., 7.10).
        With ``weights`` w the same holds for the rows scaled by sqrt(w) after weighted centring (the
        hat matrix gains ``w_i / sum w`` for the intercept); the PRESS is then weighted too.

        ``groups`` (n,), optional: rows that share a label are one piece (a spectrum and its
        augmented copies) and are left out together: the residuals of group g are
        ``(I - H_gg)^-1 r_g`` (the block form of the same identity), so a piece's copies do not
        vouch for it and the alpha, the interval and the experts' test see pieces, not rows.
        """
        w = np.ones(Z.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
        sw = np.sqrt(w)
        zm, ym = (w @ Z) / w.sum(), float(w @ y / w.sum())
        U, s, Vt = np.linalg.svd(sw[:, None] * (Z - zm), full_matrices=False)
        Uy = U.T @ (sw * (y - ym))
        blocks = None if groups is None else _group_blocks(groups)
        out = (np.inf, np.nan, np.zeros(Z.shape[1]), ym, 0.0, np.zeros_like(y))
        for a in np.asarray(self.alphas, dtype=np.float64):
            d = s ** 2 / (s ** 2 + a)                                  # shrinkage per component
            fitted = (U @ (d * Uy)) / sw + ym
            if blocks is None:
                h = w / w.sum() + (U ** 2) @ d
                loo = (y - fitted) / np.maximum(1.0 - h, 1e-6)
            else:
                loo = _leave_group_out(U, d, sw, w.sum(), y - fitted, blocks)
            press = float(w @ loo ** 2 / w.sum())
            if press < out[0]:
                coef = Vt.T @ ((s / (s ** 2 + a)) * Uy)
                out = (press, float(a), coef, float(ym - zm @ coef), float(np.quantile(np.abs(loo), self.coverage)),
                       loo)
        return out if return_loo else out[:5]

    def fit_distance_scale(self, class_distance, labels):
        """Remember each grade's ``coverage`` quantile of its training spectra's distance to it.

        ``class_distance`` (n, C) is the Mahalanobis distance of each training spectrum to each
        grade (:class:`~sorter.training.ood.ClassMahalanobis`). A spectrum further from its grade
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

    def family_conditioned(self, P) -> np.ndarray:
        """Probabilities (n, C) renormalised over the more probable kind: aluminium grades or the rest.

        The estimate of a piece split between an aluminium grade and a contaminant is then that of
        the kind it more probably is: the probability-weighted mean over both kinds lies between two
        chemistries no piece has (an aluminium piece with a modest copper probability would read a
        copper content no aluminium grade has). The reject option
        reports the other kind ("possible contaminant"). Ties (exactly 0.5) count as aluminium.
        """
        P = np.asarray(P, dtype=np.float64)
        al = getattr(self, "aluminium_", None)
        if al is None or al.all() or not al.any():
            return P
        keep = np.where((P @ al >= 0.5)[:, None], al, ~al)
        kept = P * keep
        return kept / kept.sum(axis=1, keepdims=True)

    def predict_all(self, Z, P, class_distance=None) -> tuple[np.ndarray, np.ndarray]:
        """Estimate and interval half-width [wt%], each (n, E), for features Z and probabilities P.

        With ``class_distance`` (n, C) and a fitted :meth:`fit_distance_scale`, each grade's
        estimate is pulled towards its training mean and the half-width widened, both by
        :meth:`interval_inflation` r: ``mean + (estimate - mean) / r`` and ``r x half-width``. Off the
        training conditions (cool, thin plasmas, say) the interval otherwise covers too few of the true
        values, and the regressions there can do worse than the grade mean. ``P`` is first renormalised over
        the more probable kind of class (:meth:`family_conditioned`).
        """
        check_is_fitted(self, "coef_")
        Z = np.asarray(Z, dtype=np.float64)
        P = self.family_conditioned(P)
        per_class = np.einsum("nk,cke->nce", Z, self.coef_) + self.intercept_
        pairs = getattr(self, "expert_pairs_", np.zeros((0, 2), dtype=np.int64))
        if len(pairs):
            per_class[:, pairs[:, 0], pairs[:, 1]] = self.expert_estimates(Z)
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

    def expert_gates(self, Z) -> np.ndarray:
        """(n, C, B) weight of each grade's plasma-state experts for features Z."""
        check_is_fitted(self, "coef_")
        S = np.einsum("nk,ckd->ncd", np.asarray(Z, dtype=np.float64), self.state_map_) + self.state_offset_
        return self._gates(S, self.centres_)

    def expert_estimates(self, Z) -> np.ndarray:
        """(n, P) blended experts' estimate [wt%] for each (grade, element) of ``expert_pairs_``."""
        Z = np.asarray(Z, dtype=np.float64)
        local = np.einsum("nk,bkp->nbp", Z, self.expert_coef_) + self.expert_intercept_
        W = self.expert_gates(Z)[:, self.expert_pairs_[:, 0], :]          # (n, P, B)
        return np.einsum("npb,nbp->np", W, local)

    def predict(self, Z, P=None):
        if P is None:
            raise ValueError("GradeWiseComposition.predict needs the class probabilities P")
        return self.predict_all(Z, P)[0]
