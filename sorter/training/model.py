"""The fitted LIBS piece model: line features -> grade probabilities, composition, quality.

:class:`LibsModel` composes the preprocessing transformers and three learners on the same
standardised features:

* an ensemble of MLP classifiers over the grades, differing only in their random
  initialisation, whose softmax outputs are averaged (Lakshminarayanan et al. 2017, NeurIPS 30,
  "deep ensembles": averaging cuts the variance a single network's start leaves in the
  decision boundaries, which matters most with a plant's few hundred spectra per grade; its
  calibration is checked with a reliability curve in the training report),
* :class:`~sorter.training.composition.GradeWiseComposition` for wt% and intervals,
* :class:`~sorter.training.ood.ClassMahalanobis` for the out-of-distribution score,

plus the shot-quality figures (signal-to-noise, Al share, peak counts) the reject option
needs. ``onnx_export`` turns the whole fitted model into one ONNX graph.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from blending.errors import InputError
from sorter.preprocess.features import LineWindowFeatures, NoiseLevel
from sorter.preprocess.grid import resample
from sorter.serving.card import SATURATED_PIXELS
from sorter.serving.families import is_aluminium
from sorter.training.composition import (
    GradeWiseComposition,
    composition_feature_masks,
    plasma_indicator_columns,
    plasma_state_map,
)
from sorter.training.composition_guide import fit_guide, row_families
from sorter.training.line_sets import line_set
from sorter.training.ood import ClassMahalanobis
from sorter.training.plasma_terms import SahaBoltzmannTerms
from sorter.training.selection import make_classifier

OUTPUTS = ("probabilities", "composition_wt_pct", "interval_halfwidth_wt_pct", "quality", "class_distance")


def _aluminium(grade: str) -> bool:
    """An aluminium grade (a plant's own grade without a family row counts as one)."""
    try:
        return is_aluminium(grade)
    except KeyError:
        return True


def fit_composition(Z, labels, composition, elements, classes, lines: LineWindowFeatures, *, coverage: float,
                    random_state: int, plasma_state=None, shared=None, groups=None,
                    state_map=None) -> GradeWiseComposition:
    """The model's composition estimate, fitted on standardised line features Z of labelled spectra.

    Each element may use its own lines and the Al references, or those plus the plasma
    indicators, whichever has the smaller leave-one-out error per grade; the aluminium grades
    get plasma-state experts (placed on ``plasma_state`` (n, 2) when given). ``composition``
    (n, E) [wt%] for ``elements``, NaN where not analysed.

    ``shared`` (n, m), optional: further standardised inputs every element's regression may use
    and the experts' coordinate may draw on, appended after Z (predict on ``[Z, shared]``); e.g.
    plasma-state terms from another estimate (``research/composition_accuracy.py --plasma-state``).

    Features of "indicator" lines are left out of every regression and of the experts'
    coordinate: they reach the composition only through the plasma-state estimate.

    ``groups`` (n,), optional: the piece each row is a spectrum of (augmented copies share it);
    leave-one-out errors then leave whole pieces out.

    ``state_map`` (k, 2), optional: where ``plasma_state`` is not known, the linear map from Z to the
    plasma state that places the experts (:func:`state_map_from_reference`).
    """
    masks, columns = composition_masks(elements, lines)
    if shared is not None:
        shared = np.asarray(shared, dtype=np.float64)
        if shared.ndim != 2 or shared.shape[0] != np.shape(Z)[0]:
            raise InputError(f"shared: shape {shared.shape}, expected ({np.shape(Z)[0]}, m)", field="shared")
        Z = np.concatenate([Z, shared], axis=1)
        masks = np.concatenate([masks, np.ones(masks.shape[:2] + (shared.shape[1],), dtype=bool)], axis=2)
        columns = np.concatenate([columns, np.ones(shared.shape[1], dtype=bool)])
        if state_map is not None:
            state_map = np.concatenate([state_map, np.zeros((shared.shape[1], 2))])
    aluminium = [g for g in classes if _aluminium(g)]
    with threadpool_limits(1):  # hundreds of small SVDs: BLAS threads only contend
        return GradeWiseComposition(coverage=coverage, random_state=random_state).fit(
            Z, labels, np.asarray(composition, dtype=np.float64), list(classes), masks,
            plasma_state=plasma_state, plasma_columns=columns,
            expert_classes=aluminium, aluminium_classes=aluminium, groups=groups, state_map=state_map)


def composition_masks(elements, lines: LineWindowFeatures) -> tuple[np.ndarray, np.ndarray]:
    """The candidate feature masks (2, E, k) of each element's regression and the plasma columns (k,).

    Features of "indicator" lines are left out of both: they reach the composition only through
    the plasma-state estimate.
    """
    fe, st = lines.feature_elements(), lines.feature_ion_stages()
    masks = np.stack([composition_feature_masks(elements, fe, st, plasma=False),
                      composition_feature_masks(elements, fe, st)])
    state_only = lines.indicator_features()
    masks[:, :, state_only] = False
    return masks, plasma_indicator_columns(fe, st) & ~state_only


def state_map_from_reference(reference, grid_nm, lines: LineWindowFeatures, scaler: StandardScaler) -> np.ndarray:
    """The plasma-state map (k, 2) learnt on ``reference`` spectra seen through this model's windows.

    ``reference`` carries ``wavelength_nm``, ``intensity``, ``labels`` and ``plasma_state`` (simulated
    spectra of an instrument profile that spans ``grid_nm``: :mod:`sorter.training.state_reference`);
    its spectra are resampled onto ``grid_nm`` and featurised with the fitted ``lines`` and ``scaler``.
    """
    X = resample(np.asarray(reference.wavelength_nm), np.asarray(reference.intensity), np.asarray(grid_nm))
    Z = scaler.transform(lines.transform(X))
    return plasma_state_map(Z, reference.labels, reference.plasma_state, composition_masks((), lines)[1])


class LibsModel(ClassifierMixin, BaseEstimator):
    """Grade, composition and quality from spectra on the model's wavelength grid.

    Parameters
    ----------
    grid_nm : array_like, shape (p,)
        The model's pixel grid [nm].
    lines : sequence of FeatureLine, optional
        Feature lines; default ``sorter/data/feature_lines.csv``.
    half_width_nm, background_nm, floor, soft, band_search_nm, max_shift_nm
        Passed to :class:`~sorter.preprocess.features.LineWindowFeatures`.
    hidden_layer_sizes : tuple of int
        MLP hidden layers.
    n_members : int
        MLPs in the ensemble, seeded ``random_state``, ``random_state + 1``, ...
    alpha : float
        MLP L2 penalty.
    max_iter : int
        MLP epochs.
    coverage : float
        Composition interval coverage.
    random_state : int
    plasma_terms : bool
        Estimate each spectrum's plasma state (1e4 K / T_e, ln n_e) with an MLP regressor on the
        standardised features and give every element's composition regression the Saha-Boltzmann
        terms at it (:class:`~sorter.training.plasma_terms.SahaBoltzmannTerms`). Needs the training
        spectra's ``plasma_state`` (simulated data); without it the option is ignored.
    state_hidden_layer_sizes : tuple of int
        Hidden layers of that state regressor.
    classifier : str
        The grade classifier's estimator family (:func:`~sorter.training.selection.make_classifier`):
        ``"mlp"`` (the ensemble above, the default), ``"logistic"`` or ``"hgb"``; a plant's training
        chooses it by grouped cross-validation (:mod:`sorter.training.selection`).
    guided : bool
        Give the classifier ridge estimates of each element's log wt% beside the line features
        (:mod:`sorter.training.composition_guide`); needs the training composition.
    family_guides : bool
        With ``guided``: also per-family ridge estimates (the guide's family guides), fitted on each
        family's spectra only.
    line_set : str
        Where ``lines`` is not given: ``"standard"`` (``feature_lines.csv``) or ``"extended"`` (plus the
        weaker Mn and Cr lines of :mod:`sorter.training.line_sets`).

    Examples
    --------
    See ``tests/sorter/training/test_onnx_parity.py``; training is normally run through
    :func:`sorter.training.train.train`.
    """

    def __init__(self, grid_nm=None, lines=None, half_width_nm: float | None = None,
                 background_nm: float | None = None, floor: float = 1e-2, soft: float = 1e-3,
                 hidden_layer_sizes: tuple[int, ...] = (256, 128), n_members: int = 5, alpha: float = 1e-4,
                 max_iter: int = 300, coverage: float = 0.9, random_state: int = 0, band_search_nm: float = 2.0,
                 plasma_terms: bool = False, state_hidden_layer_sizes: tuple[int, ...] = (256, 128),
                 max_shift_nm: float = 0.0, classifier: str = "mlp",
                 guided: bool = False, family_guides: bool = False, line_set: str = "standard"):
        self.grid_nm = grid_nm
        self.lines = lines
        self.half_width_nm = half_width_nm
        self.background_nm = background_nm
        self.floor = floor
        self.soft = soft
        self.hidden_layer_sizes = hidden_layer_sizes
        self.n_members = n_members
        self.alpha = alpha
        self.max_iter = max_iter
        self.coverage = coverage
        self.random_state = random_state
        self.band_search_nm = band_search_nm
        self.plasma_terms = plasma_terms
        self.state_hidden_layer_sizes = state_hidden_layer_sizes
        self.max_shift_nm = max_shift_nm
        self.classifier = classifier
        self.guided = guided
        self.family_guides = family_guides
        self.line_set = line_set

    def fit(self, X, y, composition=None, elements=(), progress=None, plasma_state=None, groups=None,
            reference=None):
        """Fit on spectra ``X`` (n, p) on ``grid_nm`` with grade labels ``y``.

        ``composition`` (n, E) [wt%] for ``elements`` (NaN where unknown) trains the
        composition estimate; without it the model predicts no composition.
        ``progress``, if given, is called with a short stage name as each stage starts.
        ``plasma_state`` (n, 2), optional: each spectrum's (1e4 K / T_e, ln n_e [cm^-3]), which
        simulated spectra know; the composition's plasma-state experts are then placed on a
        coordinate regressed on it (without it, on the plasma indicators' principal components).
        ``groups`` (n,), optional: the piece each spectrum is of, where several are (augmented copies,
        :mod:`sorter.training.augment`): the composition's leave-one-out errors leave pieces out.
        ``reference``, optional, used only without ``plasma_state``: simulated spectra that know their
        plasma state (:func:`sorter.training.state_reference.reference_spectra`); the experts of the
        composition are then placed on the plasma-state map they teach (``state_map_``,
        :func:`state_map_from_reference`) instead of the principal components of the indicator features.
        """
        step = progress or (lambda stage: None)
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y).astype(str)
        if X.ndim != 2 or X.shape[0] != y.size:
            raise InputError(f"training data: {y.size} labels for spectra of shape {X.shape}")
        if np.unique(y).size < 2:
            raise InputError("training data: need at least two grades to train a classifier")
        if int(self.n_members) < 1:
            raise InputError(f"n_members: {self.n_members} must be at least 1", field="n_members")
        step("line features")
        self.lines_ = self.line_features().fit(X)
        self.noise_ = NoiseLevel().fit(X)
        F = self.lines_.transform(X)
        self.scaler_ = StandardScaler().fit(F)
        Z = self.scaler_.transform(F)
        step("classifier")
        self.classifier_ = make_classifier(self.classifier, random_state=self.random_state,
                                           n_members=int(self.n_members), hidden_layer_sizes=self.hidden_layer_sizes,
                                           alpha=self.alpha, max_iter=self.max_iter)
        self.guide_, Zc = None, Z
        if self.guided and composition is not None:
            fams = row_families(y) if self.family_guides else None
            self.guide_, oof = fit_guide(Z, composition, elements, groups, seed=self.random_state, labels=y,
                                         families=fams)
            if self.guide_ is not None:
                Zc = np.concatenate([Z, oof], axis=1)
        with threadpool_limits(1):  # small matrices: BLAS threads only contend
            self.classifier_.fit(Zc, y)
        self.classes_ = self.classifier_.classes_
        self.elements_ = tuple(elements) if composition is not None else ()
        self.state_ = None
        if composition is not None and self.plasma_terms and plasma_state is not None:
            step("plasma state")
            self.fit_plasma_state(Z, plasma_state)
        step("composition")
        self.state_map_ = None
        if composition is not None and plasma_state is None and reference is not None:
            self.state_map_ = state_map_from_reference(reference, self.grid_nm, self.lines_, self.scaler_)
        if composition is not None:
            # train each grade's regression on its own spectra: labels, not predictions
            self.composition_ = fit_composition(Z, y, composition, self.elements_, self.classes_, self.lines_,
                                                coverage=self.coverage, random_state=self.random_state,
                                                plasma_state=plasma_state, shared=self._shared_terms(Z),
                                                groups=groups, state_map=self.state_map_)
        else:
            self.composition_ = None
        step("out-of-distribution")
        self.ood_ = ClassMahalanobis().fit(Z, y)
        if self.composition_ is not None:
            self.composition_.fit_distance_scale(self.ood_.distances(Z), y)
        self.n_features_in_ = X.shape[1]
        return self

    def fit_plasma_state(self, Z, plasma_state) -> LibsModel:
        """Fit the plasma-state regressor on standardised features Z and the scaler of the terms at its estimates.

        Called by :meth:`fit` when ``plasma_terms``; ``plasma_state`` (n, 2) is (1e4 K / T_e, ln n_e [cm^-3]).
        """
        state = np.asarray(plasma_state, dtype=np.float64)
        if state.shape != (Z.shape[0], 2) or not np.all(np.isfinite(state)):
            raise InputError(f"plasma_state: shape {state.shape} with finite values expected ({Z.shape[0]}, 2)",
                             field="plasma_state")
        self.state_scaler_ = StandardScaler().fit(state)
        self.state_ = MLPRegressor(hidden_layer_sizes=self.state_hidden_layer_sizes, alpha=1e-3,
                                   learning_rate_init=1e-3, batch_size=128, max_iter=300, early_stopping=True,
                                   n_iter_no_change=20, random_state=self.random_state)
        with threadpool_limits(1):
            self.state_.fit(Z, self.state_scaler_.transform(state))
        self.terms_ = SahaBoltzmannTerms.for_elements()
        self.terms_scaler_ = StandardScaler().fit(self.terms_(self.plasma_state(Z)))
        return self

    def plasma_state(self, Z) -> np.ndarray:
        """(n, 2) estimated (1e4 K / T_e, ln n_e [cm^-3]) for standardised features Z (``plasma_terms`` only)."""
        if getattr(self, "state_", None) is None:
            raise ValueError("this model has no plasma-state estimate (trained without plasma_terms or states)")
        return self.state_scaler_.inverse_transform(self.state_.predict(Z).reshape(-1, 2))

    def _shared_terms(self, Z) -> np.ndarray | None:
        if getattr(self, "state_", None) is None:
            return None
        return self.terms_scaler_.transform(self.terms_(self.plasma_state(Z)))

    def composition_inputs(self, Z) -> np.ndarray:
        """What the composition estimate reads: Z, then the scaled Saha-Boltzmann terms when the model has them."""
        shared = self._shared_terms(Z)
        return Z if shared is None else np.concatenate([Z, shared], axis=1)

    def line_features(self) -> LineWindowFeatures:
        """The unfitted line-feature transformer with this model's windows and settings."""
        lines = self.lines if self.lines is not None else line_set(self.line_set)
        return LineWindowFeatures(self.grid_nm, lines, self.half_width_nm, self.background_nm, self.floor,
                                  self.soft, self.band_search_nm, self.max_shift_nm)

    def features(self, X) -> np.ndarray:
        check_is_fitted(self, "classifier_")
        return self.lines_.transform(X)

    def quality(self, X) -> np.ndarray:
        """``snr``, ``al_fraction``, ``max_counts`` and ``ood_distance`` per spectrum, (n, 4).

        ``snr`` is the strongest line's window area in units of its own noise (pixel noise
        sigma times the norm of the window's weights): an empty shot has no line above the
        noise, whatever the alloy; a sum over every window would drown a lean alloy's few
        strong lines in the noise of a hundred empty windows.

        ``max_counts`` is the ``SATURATED_PIXELS``-th highest pixel in the Al reference windows:
        when it reaches the ADC maximum the reference line has a clipped flat top and every
        ratio feature is off. One or two clipped pixels at a line peak are tolerated: the
        model trains on such shots.
        """
        check_is_fitted(self, "classifier_")
        X = np.asarray(X, dtype=np.float64)
        A = self.lines_.areas(X)
        return self._quality(X, A, self.scaler_.transform(self.lines_.features_from_areas(A)))

    def _quality(self, X, A, Z) -> np.ndarray:
        total = A.sum(axis=1)
        sigma = self.noise_.transform(X)[:, 0]
        snr = (A / self.lines_.area_noise_per_sigma_).max(axis=1) / (sigma + 1e-12)
        al = A[:, self.lines_.references_].sum(axis=1) / np.sqrt(total ** 2 + 1e-24)
        ref = X[:, self.lines_.reference_pixels_]
        k = min(SATURATED_PIXELS, ref.shape[1])
        peak = np.partition(ref, ref.shape[1] - k, axis=1)[:, ref.shape[1] - k]
        return np.stack([snr, al, peak, self.ood_.score(Z)], axis=1)

    def outputs(self, X) -> dict[str, np.ndarray]:
        """Everything the ONNX graph returns, computed with scikit-learn in float64."""
        check_is_fitted(self, "classifier_")
        X = np.asarray(X, dtype=np.float64)
        A = self.lines_.areas(X)
        Z = self.scaler_.transform(self.lines_.features_from_areas(A))
        P = self.classifier_.predict_proba(self.classifier_inputs(Z))
        if self.composition_ is not None:
            comp, half = self.composition_.predict_all(self.composition_inputs(Z), P, self.ood_.distances(Z))
        else:
            comp = half = np.zeros((X.shape[0], 0))
        return {"probabilities": P, "composition_wt_pct": comp, "interval_halfwidth_wt_pct": half,
                "quality": self._quality(X, A, Z), "class_distance": self.ood_.distances(Z)}

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "classifier_")
        return self.classifier_.predict_proba(self.classifier_inputs(self.scaler_.transform(self.features(X))))

    def classifier_inputs(self, Z) -> np.ndarray:
        """What the grade classifier reads: standardised features Z, and the guide's estimates where it has one."""
        if getattr(self, "guide_", None) is None:
            return Z
        return np.concatenate([Z, self.guide_(Z)], axis=1)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def get_feature_names_out(self, input_features=None):
        return self.lines_.get_feature_names_out()
