"""Choosing the classifier on a plant's own spectra: grouped cross-validation over candidates.

A recipe tuned on the project's simulator is not the best recipe for another instrument and
plasma (issue 30: the simulator-tuned MLP ensemble scored 0.881 on foreign spectra where a
random forest on the same line areas scored 0.91). :func:`select_classifier` scores every
candidate (an estimator family on the model's line features, with or without the wavelength-drift
correction) by cross-validation on the training spectra alone, folds grouped by piece so that no
piece's shots sit on both sides of a fold, and returns the table the training report and the
model card print.

Only labels, pieces and spectra enter the choice: never a plasma state, which a plant's data
do not have. Every candidate converts to ONNX inside the model's one graph (skl2onnx converts
each estimator family here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from blending.errors import InputError
from sorter.training.composition_guide import fit_guide

CLASSIFIERS = ("mlp", "logistic", "hgb")
# the drift correction's search range on a candidate: peer-c drifts by up to 0.05 nm piece to piece
DRIFT_SHIFT_NM = 0.08


def make_classifier(family: str, *, random_state: int = 0, n_members: int = 5,
                    hidden_layer_sizes: tuple[int, ...] = (256, 128), alpha: float = 1e-4,
                    max_iter: int = 300):
    """The unfitted grade classifier of one estimator family, on standardised features.

    ``mlp``: soft-voting ensemble of ``n_members`` MLPs seeded ``random_state``, ``random_state + 1``, ...
    (the project's recipe); ``logistic``: multinomial L2 logistic regression; ``hgb``: scikit-learn's
    histogram gradient boosting (Ke et al. 2017, LightGBM's algorithm) with early stopping off so
    that the number of trees, and with it the ONNX graph's cost, is fixed.
    """
    if family == "mlp":
        members = [(f"mlp{k}", MLPClassifier(hidden_layer_sizes=hidden_layer_sizes, alpha=alpha, max_iter=max_iter,
                                             random_state=random_state + k, learning_rate_init=2e-3,
                                             batch_size=128, tol=1e-5, n_iter_no_change=30))
                   for k in range(int(n_members))]
        return VotingClassifier(members, voting="soft", flatten_transform=False)
    if family == "logistic":
        return LogisticRegression(C=1.0, max_iter=3000)
    if family == "hgb":
        return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, max_leaf_nodes=15,
                                              l2_regularization=1.0, early_stopping=False,
                                              random_state=random_state)
    raise InputError(f"classifier: {family!r} is not one of {', '.join(CLASSIFIERS)} (or auto)", field="classifier")


@dataclass(frozen=True)
class CandidateScore:
    """One candidate's grouped cross-validated grade accuracy (single spectra, as they are given)."""

    classifier: str
    max_shift_nm: float
    guided: bool
    cv_accuracy: float
    cv_accuracy_sd: float          # spread over the folds
    fold_accuracy: tuple[float, ...] = field(default_factory=tuple)
    lines: str = "standard"        # the line set (sorter.training.line_sets)
    family_guides: bool = False    # the guide also has per-family ridges (sorter.training.composition_guide)

    @property
    def name(self) -> str:
        drift = "off" if not self.max_shift_nm else f"{self.max_shift_nm:g} nm"
        guide = " + composition guide" if self.guided else ""
        guide += " with family guides" if self.family_guides else ""
        lines = "extended line features" if self.lines == "extended" else "line features"
        return f"{self.classifier} on {lines}{guide}, drift correction {drift}"

    def as_dict(self) -> dict:
        return {**asdict(self), "name": self.name}


@dataclass(frozen=True)
class Selection:
    """The candidates' scores (best first) and the chosen one."""

    scores: tuple[CandidateScore, ...]
    n_folds: int
    grouped_by: str

    @property
    def best(self) -> CandidateScore:
        return self.scores[0]

    def as_dict(self) -> dict:
        return {"chosen": self.best.name, "classifier": self.best.classifier, "max_shift_nm": self.best.max_shift_nm,
                "guided": self.best.guided, "lines": self.best.lines, "family_guides": self.best.family_guides,
                "n_folds": self.n_folds, "grouped_by": self.grouped_by,
                "candidates": [s.as_dict() for s in self.scores]}


def grouped_folds(labels, groups, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds that keep each group (piece) whole; ``n_folds`` shrinks to the smallest grade's pieces."""
    labels = np.asarray(labels).astype(str)
    groups = np.asarray(groups)
    fewest = min(np.unique(groups[labels == g]).size for g in np.unique(labels))
    k = min(int(n_folds), fewest)
    if k < 2:
        raise InputError(f"cross-validation: some grade has {fewest} piece(s); need at least 2 per grade")
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(labels.size), labels, groups))


def cross_validated_accuracy(estimator, Z: np.ndarray, labels, folds, *, composition=None, elements=(),
                             groups=None, seed: int = 0, families=None) -> tuple[float, ...]:
    """Grade accuracy of ``estimator`` (cloned, refitted per fold) on each fold's held-out rows.

    With ``composition`` the classifier also reads the composition guide, fitted inside each fold
    (out-of-fold estimates on its training rows, as :class:`~sorter.training.model.LibsModel` does);
    with ``families`` (n,) too, the guide's family guides.
    """
    labels = np.asarray(labels).astype(str)
    out = []
    for tr, te in folds:
        scaler = StandardScaler().fit(Z[tr])
        Ztr, Zte = scaler.transform(Z[tr]), scaler.transform(Z[te])
        if composition is not None:
            guide, oof = fit_guide(Ztr, np.asarray(composition)[tr], elements,
                                   None if groups is None else np.asarray(groups)[tr], seed=seed, labels=labels[tr],
                                   families=None if families is None else np.asarray(families)[tr])
            if guide is not None:
                Ztr, Zte = np.concatenate([Ztr, oof], axis=1), np.concatenate([Zte, guide(Zte)], axis=1)
        model = clone(estimator).fit(Ztr, labels[tr])
        out.append(float(np.mean(model.predict(Zte) == labels[te])))
    return tuple(out)


def select_classifier(features: Callable[[float], np.ndarray], labels, groups, *,
                      composition=None, elements=(), classifiers=CLASSIFIERS, shifts_nm=(0.0, DRIFT_SHIFT_NM),
                      n_folds: int = 5, seed: int = 0, n_members: int = 1, max_iter: int = 300,
                      progress: Callable[[str, int, int], None] | None = None,
                      extended_features: Callable[[float], np.ndarray] | None = None,
                      families=None) -> Selection:
    """Score every (classifier family, composition guide, drift correction) by grouped cross-validation; best first.

    ``features(max_shift_nm)`` returns the (n, k) line features of the training spectra with that
    drift correction (fitted on all of them: the windows' background bands are placed from the
    spectra's line emission without their labels). ``groups`` (n,): the piece of each spectrum.
    ``composition`` (n, E) [wt%] of ``elements``, optional: also score each family with the composition
    guide (:mod:`sorter.training.composition_guide`). The MLP family is scored with ``n_members``
    networks (one by default: a cheaper estimate of the ensemble, which averages members of about the
    same accuracy). Ties go to the earlier candidate (``classifiers`` order, unguided, no correction),
    so the project's recipe stays unless another wins.

    Refinements, with ``composition``: the best (family, drift correction) of that grid is scored again,
    guided, with the guide's family guides (``families`` (n,): each spectrum's grade family) and on the
    extended line set (``extended_features(max_shift_nm)``, :mod:`sorter.training.line_sets`), each and
    both. They are scored with the family and correction that won the grid only: the whole product would
    cost four times the grid's time on a plant's two cores.
    """
    labels = np.asarray(labels).astype(str)
    grouped_by = "piece" if groups is not None else "spectrum"
    if groups is None:
        groups = np.arange(labels.size)
    folds = grouped_folds(labels, groups, n_folds, seed)
    guides = (False, True) if composition is not None else (False,)
    scores = []
    total = len(classifiers) * len(shifts_nm) * len(guides)
    with threadpool_limits(1):  # small matrices; the machine is shared
        for shift in shifts_nm:
            Z = np.asarray(features(float(shift)), dtype=np.float64)
            for guided in guides:
                for family in classifiers:
                    if progress is not None:
                        progress("model selection", len(scores), total)
                    est = make_classifier(family, random_state=seed, n_members=n_members, max_iter=max_iter)
                    acc = cross_validated_accuracy(est, Z, labels, folds, composition=composition if guided else None,
                                                   elements=elements, groups=groups, seed=seed)
                    scores.append(CandidateScore(family, float(shift), guided, float(np.mean(acc)),
                                                 float(np.std(acc)), acc))
    refinements = []
    if composition is not None:
        if families is not None:
            refinements.append(("standard", True))
        if extended_features is not None:
            refinements += [("extended", False)] + ([("extended", True)] if families is not None else [])
    if refinements:
        grid_best = min(range(len(scores)), key=lambda k: (-round(scores[k].cv_accuracy, 6), k))
        family, shift = scores[grid_best].classifier, scores[grid_best].max_shift_nm
        total += len(refinements)
        with threadpool_limits(1):
            for lines, fam_guides in refinements:
                if progress is not None:
                    progress("model selection", len(scores), total)
                Z = np.asarray((extended_features if lines == "extended" else features)(shift), dtype=np.float64)
                est = make_classifier(family, random_state=seed, n_members=n_members, max_iter=max_iter)
                acc = cross_validated_accuracy(est, Z, labels, folds, composition=composition, elements=elements,
                                               groups=groups, seed=seed,
                                               families=families if fam_guides else None)
                scores.append(CandidateScore(family, shift, True, float(np.mean(acc)), float(np.std(acc)), acc,
                                             lines, fam_guides))
    if progress is not None:
        progress("model selection", total, total)
    order = sorted(range(len(scores)), key=lambda k: (-round(scores[k].cv_accuracy, 6), k))
    return Selection(tuple(scores[k] for k in order), len(folds), grouped_by)
