"""How well a model sorts: the figures the issue's targets are stated in, and the report plots.

numpy and matplotlib only, so the same code scores scikit-learn and onnxruntime outputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sorter.serving.reject import ACCEPT, Decision

MAJOR_ELEMENTS = ("Si", "Fe", "Cu", "Mn", "Mg", "Cr", "Ni", "Zn", "Ti", "Pb", "Sn", "Li")
COMPOSITION_TARGET_SHARE = 0.10   # the ceiling on MAE / spec range per grade and major element [-]


def spec_ranges(grade: str) -> dict[str, tuple[float, float]]:
    """Major elements of a catalogue grade: those with both a minimum and a maximum [wt%].

    Empty for contaminants and for grades outside the alloy catalogue.
    """
    from blending.catalogue.spec import get_alloy

    try:
        spec = get_alloy(grade)
    except (KeyError, ValueError):
        return {}
    out = {}
    for name, (lo, hi) in spec.bounds().items():
        if lo is not None and hi is not None and "+" not in name and hi > lo:
            out[name] = (lo, hi)
    return out


def classification_metrics(labels: np.ndarray, decisions: list[Decision], families: dict[str, str],
                           classes: list[str]) -> dict:
    """Grade and family accuracy, unknown rate, contaminants accepted as Al, per-class precision/recall.

    Accuracies count every piece by its top grade, accepted or not; ``accepted_grade_accuracy``
    counts the accepted ones only.
    """
    labels = np.asarray(labels).astype(str)
    pred = np.array([d.grade for d in decisions])
    fam_pred = np.array([d.family for d in decisions])
    fam_true = np.array([families[g] for g in labels])
    accepted = np.array([d.decision == ACCEPT for d in decisions])
    is_contaminant = fam_true == "non-Al"
    al_accepted = accepted & (fam_pred != "non-Al")
    in_distribution_al = ~is_contaminant
    per_class = {}
    for c in classes:
        tp = int(np.sum((pred == c) & (labels == c)))
        n_pred, n_true = int(np.sum(pred == c)), int(np.sum(labels == c))
        per_class[c] = {"precision": tp / n_pred if n_pred else float("nan"),
                        "recall": tp / n_true if n_true else float("nan"), "support": n_true}
    reasons: dict[str, int] = {}
    for d in decisions:
        if d.decision != ACCEPT:
            key = d.reason.split(":")[0].split(" ")[0] if d.reason.startswith("low") else d.reason.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
    return {
        "n": int(labels.size),
        "grade_accuracy": float(np.mean(pred == labels)),
        "family_accuracy": float(np.mean(fam_pred == fam_true)),
        "accepted_grade_accuracy": float(np.mean(pred[accepted] == labels[accepted])) if accepted.any() else 0.0,
        "unknown_rate": float(np.mean(~accepted)),
        "unknown_rate_aluminium": float(np.mean(~accepted[in_distribution_al])) if in_distribution_al.any() else 0.0,
        "contaminants_accepted_as_aluminium": int(np.sum(is_contaminant & al_accepted)),
        "n_contaminants": int(is_contaminant.sum()),
        "unknown_reasons": reasons,
        "per_class": per_class,
    }


def composition_errors(labels: np.ndarray, true_wt_pct: np.ndarray, pred_wt_pct: np.ndarray,
                       elements: list[str] | tuple[str, ...], halfwidth_wt_pct: np.ndarray | None = None) -> dict:
    """Mean absolute error per grade and element [wt%], and as a share of the grade's spec range.

    ``worst_share_of_range`` is the largest MAE / (max - min) over the major elements of all
    catalogue grades: the issue asks for at most 0.10; ``mean_share_of_range`` is their mean and
    ``pairs_above_target`` how many grade-element pairs exceed ``COMPOSITION_TARGET_SHARE``. With
    ``halfwidth_wt_pct`` also the interval coverage (share of true values inside estimate +-
    half-width): over every value (``interval_coverage``; elements a grade does not contain are easy
    to cover), per grade and element, and over the major elements' pairs (``interval_coverage_major``, the mean of the
    pairs' coverages, and ``interval_coverage_worst``, the lowest, with ``interval_coverage_worst_pair``).
    """
    labels = np.asarray(labels).astype(str)
    out: dict = {"per_grade": {}, "worst_share_of_range": 0.0, "worst": ""}
    covered, major_coverage, shares = [], {}, []
    for grade in sorted(set(labels)):
        rows = labels == grade
        ranges = spec_ranges(grade)
        entry = {}
        for k, e in enumerate(elements):
            t = true_wt_pct[rows, k]
            ok = np.isfinite(t)
            if not ok.any():
                continue
            mae = float(np.mean(np.abs(pred_wt_pct[rows, k][ok] - t[ok])))
            item = {"mae_wt_pct": mae}
            if e in ranges:
                lo, hi = ranges[e]
                share = mae / (hi - lo)
                item["share_of_range"] = share
                shares.append(share)
                if share > out["worst_share_of_range"]:
                    out["worst_share_of_range"], out["worst"] = share, f"{grade} {e}"
            if halfwidth_wt_pct is not None:
                inside = np.abs(pred_wt_pct[rows, k][ok] - t[ok]) <= halfwidth_wt_pct[rows, k][ok] + 1e-9
                covered.append(inside)
                item["interval_coverage"] = float(inside.mean())
                if e in ranges:
                    major_coverage[f"{grade} {e}"] = item["interval_coverage"]
            entry[e] = item
        out["per_grade"][grade] = entry
    if shares:
        out["mean_share_of_range"] = float(np.mean(shares))
        out["pairs_above_target"] = int(np.sum(np.array(shares) > COMPOSITION_TARGET_SHARE))
    if covered:
        out["interval_coverage"] = float(np.mean(np.concatenate(covered)))
    if major_coverage:
        worst = min(major_coverage, key=major_coverage.get)
        out["interval_coverage_major"] = float(np.mean(list(major_coverage.values())))
        out["interval_coverage_worst"], out["interval_coverage_worst_pair"] = major_coverage[worst], worst
    return out


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, classes: list[str],
                               n_bins: int = 10) -> tuple[float, np.ndarray]:
    """Top-label ECE (Guo et al. 2017) and the reliability table (bin, mean confidence, accuracy, count)."""
    labels = np.asarray(labels).astype(str)
    top = probabilities.max(axis=1)
    correct = np.asarray(classes)[probabilities.argmax(axis=1)] == labels
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    table = []
    ece = 0.0
    for b in range(n_bins):
        sel = (top > edges[b]) & (top <= edges[b + 1])
        if sel.any():
            conf, acc = float(top[sel].mean()), float(correct[sel].mean())
            ece += sel.mean() * abs(conf - acc)
            table.append((b, conf, acc, int(sel.sum())))
    return float(ece), np.array(table)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    cm = np.zeros((len(classes), len(classes)), dtype=int)
    for t, p in zip(labels, predicted, strict=True):
        if t in index and p in index:
            cm[index[t], index[p]] += 1
    return cm


def plot_confusion(cm: np.ndarray, classes: list[str], path: str | Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(0.45 * len(classes) + 3, 0.45 * len(classes) + 2.5))
    row_sum = np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(cm / row_sum, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=90)
    ax.set_yticks(range(len(classes)), classes)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] / row_sum[i, 0] > 0.5 else "black")
    ax.set_xlabel("predicted grade")
    ax.set_ylabel("true grade")
    ax.set_title(title or "confusion matrix (held-out spectra)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_reliability(table: np.ndarray, path: str | Path, ece: float) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
    if len(table):
        ax.plot(table[:, 1], table[:, 2], "o-")
    ax.set_xlabel("top probability (mean in bin)")
    ax.set_ylabel("accuracy in bin")
    ax.set_title(f"reliability, ECE = {ece:.4f}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
