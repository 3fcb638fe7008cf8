"""Training: fit, tune, export, verify and document one model.

``train`` fits :class:`~sorter.training.model.LibsModel` on a stratified 80% of the
spectra (:mod:`sorter.training.data`), tunes the reject thresholds on the other 20%, exports one
ONNX graph, checks the ONNX outputs against scikit-learn on those held-out spectra, and writes the
model card (classes, grid, data hash, metrics, library versions, sha256) and an evaluation report
(per-class precision and recall, confusion-matrix PNG, reliability PNG, composition errors).
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from blending.errors import InputError
from sorter.serving.card import ModelCard, card_path_for, sha256_bytes
from sorter.serving.families import family_of
from sorter.serving.reject import QUALITY_COLUMNS, decide, tune_thresholds
from sorter.serving.runtime import LibsRuntime
from sorter.training.augment import Augmentation, with_copies
from sorter.training.composition import MIN_EXPERT_SPECTRA
from sorter.training.data import Progress, TrainingData, grouped_split, no_progress, stratified_split
from sorter.training.evaluation import (
    classification_metrics,
    composition_errors,
    confusion_matrix,
    expected_calibration_error,
    plot_confusion,
    plot_reliability,
)
from sorter.training.state_reference import AUTO, check_choice, reference_spectra


def library_versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import scipy
    import skl2onnx
    import sklearn

    return {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__, "skl2onnx": skl2onnx.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__}


@dataclass
class TrainResult:
    model_path: Path
    card_path: Path
    report_dir: Path
    card: ModelCard
    metrics: dict
    model: object


def train(data: TrainingData, out: str | Path, *, seed: int = 0, held_out_fraction: float = 0.2,
          hidden_layer_sizes: tuple[int, ...] = (256, 128), max_iter: int = 300, reproduce: str = "",
          progress: Progress = no_progress, plasma_terms: bool = False, n_members: int = 5,
          max_shift_nm: float = 0.0, augmentation: Augmentation | None = None,
          state_reference: str = AUTO, classifier: str = "mlp", cv_folds: int = 5,
          guided: bool = False, family_guides: bool = False, line_set: str = "standard",
          composition_cv: bool = True) -> TrainResult:
    """Fit, tune, export, verify and document a model; write ``out`` (.onnx), its card and report.

    ``plasma_terms``, ``n_members``, ``max_shift_nm``: see :class:`~sorter.training.model.LibsModel` (the
    terms are used where ``data`` carry plasma states). ``augmentation``: the model also learns from
    noisy, shifted copies of the training split's spectra (:mod:`sorter.training.augment`; seeded by
    ``seed``); the held-out split stays as given.

    ``state_reference``: where the data carry no plasma states (a plant's spectra) and some grade has
    enough spectra for the composition's plasma-state experts, simulated reference spectra teach the
    map that places them (:mod:`sorter.training.state_reference`): ``"auto"`` picks the shipped
    instrument profile spanning the line windows on the data's grid, ``"none"`` keeps the principal components of the
    indicator features, a profile name uses that profile. The card records which.

    ``classifier``: the grade classifier's family (``"mlp"``, ``"logistic"``, ``"hgb"``), or ``"auto"``:
    where the data carry no plasma states (a plant's spectra), the family and the drift correction
    (``max_shift_nm`` 0 or :data:`~sorter.training.selection.DRIFT_SHIFT_NM`) with the best grouped
    ``cv_folds``-fold cross-validated grade accuracy on the training split
    (:func:`~sorter.training.selection.select_classifier`; every candidate's score goes in the report and
    the card's ``metrics.model_selection``; a ``max_shift_nm`` given is kept, and data with a grade of one
    training piece, which cannot be cross-validated, get ``"mlp"``); simulated data keep the project's recipe
    (``"mlp"``, the given ``max_shift_nm``). ``guided`` (the composition guide,
    :mod:`sorter.training.composition_guide`) is chosen with them under ``"auto"``, and so are, for the
    winner, the guide's ``family_guides`` and the ``line_set`` (``"standard"`` or ``"extended"``,
    :mod:`sorter.training.line_sets`).
    Where the data number their pieces (``data.pieces``) the held-out split keeps each piece's shots together.

    ``composition_cv``: where the classifier was chosen by cross-validation (a plant's data with
    compositions), also refit the model on ``cv_folds`` grouped folds of the training split and measure the
    composition's error and interval coverage on the pieces each fold leaves out
    (:mod:`sorter.training.composition_cv`); the card's ``composition_interval_coverage`` is then that
    figure, and ``composition_interval_coverage_measured_by`` says so.
    """
    # scikit-learn and skl2onnx load here, not when the CLI parses its options
    from sorter.training.model import LibsModel
    from sorter.training.onnx_export import export_onnx
    from sorter.training.selection import CLASSIFIERS

    if classifier not in (*CLASSIFIERS, "auto"):
        raise InputError(f"classifier: {classifier!r} is not one of {', '.join(CLASSIFIERS)} or auto",
                         field="classifier")

    out = Path(out)
    if out.suffix != ".onnx":
        raise InputError(f"{out}: the model file name must end in .onnx", field="out")
    check_choice(state_reference)
    labels = np.asarray(data.labels).astype(str)
    counts = {g: int(np.sum(labels == g)) for g in sorted(set(labels))}
    few = [g for g, n in counts.items() if n < 5]
    if few:
        raise InputError(f"training data: grade(s) {', '.join(few)} have fewer than 5 spectra; need at least 5 each")
    families = {g: family_of(g) for g in counts}
    if data.pieces is not None:
        tr, te = grouped_split(labels, data.pieces, held_out_fraction, seed)
    else:
        tr, te = stratified_split(labels, held_out_fraction, seed)
    if classifier == "auto" and data.plasma_state is not None:
        classifier = "mlp"  # the project's simulated data: its own recipe, measured on its held-out sets
    groups_tr = (data.pieces if data.pieces is not None else np.arange(labels.size))[tr]
    if classifier == "auto" and min(np.unique(groups_tr[labels[tr] == g]).size for g in counts) < 2:
        classifier = "mlp"  # a grade with one training piece cannot be cross-validated
    selection, guided = None, bool(guided)
    if classifier == "auto":
        # a drift correction the user asked for is kept; otherwise cross-validation decides it
        shifts = (float(max_shift_nm),) if max_shift_nm else None
        selection = _select(data, tr, labels, seed, cv_folds, max_iter, progress, shifts)
        classifier, max_shift_nm = selection.best.classifier, selection.best.max_shift_nm
        guided = selection.best.guided
        family_guides, line_set = selection.best.family_guides, selection.best.lines
    stages = ["line features", "classifier", *(["plasma state"] if plasma_terms else []), "composition",
              "out-of-distribution", "thresholds", "ONNX export", "evaluation"]

    def stage(name):
        progress(f"training: {name}", stages.index(name), len(stages))

    model = LibsModel(data.wavelength_nm, hidden_layer_sizes=hidden_layer_sizes, max_iter=max_iter,
                      random_state=seed, plasma_terms=plasma_terms, n_members=n_members, max_shift_nm=max_shift_nm,
                      classifier=classifier, guided=guided, family_guides=family_guides, line_set=line_set)
    X_tr, y_tr = data.intensity[tr], labels[tr]
    pieces = None if data.pieces is None else data.pieces[tr]
    comp_tr = None if data.composition is None else data.composition[tr]
    state_tr = None if data.plasma_state is None else data.plasma_state[tr]
    if augmentation is not None and augmentation.copies:
        X_tr, y_tr, comp_tr, state_tr, pieces = with_copies(data.wavelength_nm, X_tr, y_tr, comp_tr, state_tr,
                                                            augmentation, np.random.default_rng(seed),
                                                            data.saturation_counts)
    reference, reference_info = _state_reference(data, y_tr, comp_tr, state_reference, seed, progress)
    model.fit(X_tr, y_tr, comp_tr, data.elements if comp_tr is not None else (), progress=stage,
              plasma_state=state_tr, groups=pieces, reference=reference)
    classes = [str(c) for c in model.classes_]
    composition_cv_result = None
    if composition_cv and selection is not None and comp_tr is not None and model.composition_ is not None:
        from sklearn.base import clone

        from sorter.training.composition_cv import grouped_cv_composition
        from sorter.training.selection import grouped_folds

        cv_groups = pieces if pieces is not None else np.arange(y_tr.size)
        composition_cv_result = grouped_cv_composition(
            lambda: clone(model), X_tr, y_tr, comp_tr, data.elements, cv_groups,
            grouped_folds(y_tr, cv_groups, cv_folds, seed), coverage=model.coverage, reference=reference,
            progress=progress)
    stage("thresholds")
    sk = model.outputs(data.intensity[te])
    thresholds = tune_thresholds(sk["probabilities"], sk["quality"], labels[te], classes, families,
                                 saturation_counts=data.saturation_counts, class_distance=sk["class_distance"])
    stage("ONNX export")
    model_bytes = export_onnx(model, data.wavelength_nm.size, name=out.stem)
    card = ModelCard(
        name=out.stem, classes=classes, families=families, elements=list(model.elements_),
        instrument=data.instrument, wavelength_grid_nm=[float(w) for w in data.wavelength_nm],
        thresholds=thresholds,
        onnx_outputs={"probabilities": "(n, classes) calibrated grade probabilities",
                      "composition_wt_pct": "(n, elements) estimate [wt%]",
                      "interval_halfwidth_wt_pct": f"(n, elements) {model.coverage:.0%} interval half-width [wt%]",
                      "quality": "(n, 4) " + ", ".join(QUALITY_COLUMNS),
                      "class_distance": "(n, classes) Mahalanobis distance to each class (RMS per feature)"},
        model_sha256=sha256_bytes(model_bytes),
        training_data={"source": data.source, "sha256": data.sha256(), "n_spectra": int(labels.size),
                       "per_grade": counts, "n_train": int(tr.size), "n_held_out": int(te.size), "seed": seed,
                       "augmentation": None if augmentation is None else augmentation.as_dict(),
                       "state_reference": reference_info},
        libraries=library_versions(), feature_names=[str(f) for f in model.get_feature_names_out()],
        line_windows=[{"name": w.line.name, "lo_nm": w.lo_nm, "hi_nm": w.hi_nm, "role": w.line.role,
                       "footprint_lo_nm": float(f[0]), "footprint_hi_nm": float(f[1])}
                      for w, f in zip(model.lines_.windows_, model.lines_.footprints_nm(), strict=True)],
        reproduce=reproduce, interval_coverage=model.coverage,
        created_utc=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    stage("evaluation")
    runtime = LibsRuntime(model_bytes, card, name=out.name)
    onnx_out = runtime.run(data.intensity[te])
    decisions = decide(onnx_out["probabilities"].astype(np.float64), onnx_out["quality"].astype(np.float64),
                       classes, families, thresholds, onnx_out["class_distance"].astype(np.float64))
    metrics = classification_metrics(labels[te], decisions, families, classes)
    ece, table = expected_calibration_error(onnx_out["probabilities"].astype(np.float64), labels[te], classes)
    metrics["expected_calibration_error"] = ece
    if data.composition is not None and card.elements:
        metrics["composition"] = composition_errors(labels[te], data.composition[te],
                                                    onnx_out["composition_wt_pct"].astype(np.float64),
                                                    card.elements, onnx_out["interval_halfwidth_wt_pct"])
    metrics["onnx_vs_sklearn_max_abs_probability"] = float(np.max(np.abs(
        onnx_out["probabilities"] - sk["probabilities"])))
    split = "pieces" if data.pieces is not None else "spectra"
    metrics["evaluated_on"] = (f"{te.size} held-out spectra (stratified {held_out_fraction:.0%} of the training data's "
                               f"{split})")
    metrics["classifier"] = {"family": classifier, "max_shift_nm": float(max_shift_nm),
                             "composition_guide": model.guide_ is not None,
                             "family_guides": bool(model.guide_ is not None and family_guides),
                             "line_set": line_set}
    if selection is not None:
        metrics["model_selection"] = selection.as_dict()
    if composition_cv_result is not None:
        metrics["composition_cv"] = composition_cv_result
    card.metrics = _summary(metrics)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(model_bytes)
    card_path = card_path_for(out)
    card.write(card_path)
    report_dir = out.with_name(out.stem + ".report")
    report_dir.mkdir(exist_ok=True)
    cm = confusion_matrix(labels[te], np.array([d.grade for d in decisions]), classes)
    plot_confusion(cm, classes, report_dir / "confusion.png", f"{out.stem}: held-out confusion matrix")
    plot_reliability(table, report_dir / "reliability.png", ece)
    (report_dir / "report.json").write_text(json.dumps(metrics, indent=1, default=float) + "\n")
    progress("training: done", len(stages), len(stages))
    return TrainResult(out, card_path, report_dir, card, metrics, model)


def _select(data: TrainingData, rows, labels, seed: int, cv_folds: int, max_iter: int, progress: Progress,
            shifts_nm=None):
    """Grouped cross-validation over the candidate classifiers on the training rows ``rows``."""
    from sorter.training.composition_guide import row_families
    from sorter.training.model import LibsModel
    from sorter.training.selection import DRIFT_SHIFT_NM, select_classifier

    X = data.intensity[rows]

    def features(shift_nm: float, lines: str = "standard"):
        model = LibsModel(data.wavelength_nm, max_shift_nm=shift_nm, line_set=lines)
        return model.line_features().fit(X).transform(X)

    groups = None if data.pieces is None else data.pieces[rows]
    comp = None if data.composition is None else data.composition[rows]
    return select_classifier(features, labels[rows], groups, composition=comp, elements=data.elements,
                             n_folds=cv_folds, seed=seed, max_iter=max_iter, progress=progress,
                             shifts_nm=shifts_nm or (0.0, DRIFT_SHIFT_NM),
                             extended_features=lambda shift_nm: features(shift_nm, "extended"),
                             families=row_families(labels[rows]))


def _state_reference(data: TrainingData, labels, composition, choice: str, seed: int, progress: Progress):
    """Reference spectra for the experts' plasma coordinate, or None, and what the card says about it."""
    if composition is None:
        return None, None
    if data.plasma_state is not None:
        return None, {"profile": None, "reason": "the training data carry their plasma states"}
    if np.unique(np.asarray(labels), return_counts=True)[1].max() < MIN_EXPERT_SPECTRA:
        return None, {"profile": None, "reason": f"no grade has the {MIN_EXPERT_SPECTRA} training spectra "
                                                 f"plasma-state experts need"}
    return reference_spectra(data.wavelength_nm, choice=choice, seed=seed, progress=progress)


def _summary(metrics: dict) -> dict:
    """The card's copy of the metrics: headline figures and per-class precision/recall."""
    keep = ("n", "grade_accuracy", "family_accuracy", "accepted_grade_accuracy", "unknown_rate",
            "contaminants_accepted_as_aluminium", "expected_calibration_error", "onnx_vs_sklearn_max_abs_probability",
            "evaluated_on", "per_class", "classifier", "model_selection", "composition_cv")
    out = {k: metrics[k] for k in keep if k in metrics}
    if "composition" in metrics:
        comp = metrics["composition"]
        out["composition_worst_share_of_range"] = comp["worst_share_of_range"]
        out["composition_worst"] = comp["worst"]
        out["composition_interval_coverage"] = comp.get("interval_coverage")
        out["composition_interval_coverage_measured_by"] = f"{metrics.get('evaluated_on')}, every value"
    if metrics.get("composition_cv", {}).get("interval_coverage_major") is not None:
        cv = metrics["composition_cv"]
        out["composition_interval_coverage"] = cv["interval_coverage_major"]
        out["composition_interval_coverage_measured_by"] = cv["measured_by"]
    return out

