"""The reject option: when a piece goes to "unknown" (recirculate) instead of a bin, and why.

Checked in this order, the first that applies is the reason:

1. empty shot: even the strongest line is within a few noise standard deviations of zero;
2. saturation: three or more pixels of the Al reference lines reached the detector's ADC
   maximum (a clipped flat top), so the area every ratio is normalised by is wrong;
3. too noisy: line signal-to-noise below what the model was trained on;
4. weak Al signal: an aluminium grade is on top but the Al reference lines are too weak
   a share of the emission (a contaminant, or a shot that hit a coating);
5. possible contaminant: an aluminium grade is on top but the contaminants together still
   hold a non-negligible probability, or the features lie about as near (Mahalanobis, within
   ``contaminant_distance_ratio``) a contaminant's class mean as the chosen grade's (a
   contaminant must never reach an aluminium bin);
6. out of distribution: the features are far (Mahalanobis) from every class seen in training;
7. low top probability: the two best grades are too close to call. The bar is the card's
   ``pair_min_top_probability`` for the piece's two best grades (calibrated on held-out pieces so
   that accepted pieces of that pair are right at least 99.5% of the time,
   ``sorter/training/accept.py``), else ``min_top_probability``.

numpy only: the serving runtime uses this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sorter.serving.card import Thresholds

ACCEPT, UNKNOWN = "accept", "unknown"
QUALITY_COLUMNS = ("snr", "al_fraction", "max_counts", "ood_distance")


@dataclass(frozen=True)
class Decision:
    grade: str
    family: str
    top_probability: float
    decision: str
    reason: str


@lru_cache(maxsize=16)
def _membership(classes: tuple[str, ...], families: tuple[tuple[str, str], ...]) -> tuple[np.ndarray, np.ndarray]:
    """(family x class membership matrix, non-aluminium indicator per class), cached per model."""
    fam = dict(families)
    names = sorted(set(fam[c] for c in classes))
    member = np.array([[fam[c] == f for c in classes] for f in names], dtype=float)
    return member, np.array([fam[c] == "non-Al" for c in classes], dtype=float)


def pair_key(a: str, b: str) -> str:
    """How a card names a grade pair in ``pair_min_top_probability``: the two names sorted, ``"5182|5754"``."""
    return "|".join(sorted((str(a), str(b))))


def runner_up(probabilities: np.ndarray, grade_idx: np.ndarray) -> np.ndarray:
    """Index of the most probable class other than the picked grade, per row."""
    masked = probabilities.copy()
    masked[np.arange(len(grade_idx)), grade_idx] = -np.inf
    return np.argmax(masked, axis=1)


def accept_bar(t: Thresholds, grade: str, second: str) -> float:
    """The top probability a piece whose two best grades are ``grade`` and ``second`` needs [-]."""
    return float(t.pair_min_top_probability.get(pair_key(grade, second), t.min_top_probability))


def _key(classes, families) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    return tuple(classes), tuple(sorted((c, families[c]) for c in classes))


def pick_grades(probabilities: np.ndarray, classes: list[str], families: dict[str, str]) -> tuple[np.ndarray,
                                                                                                     np.ndarray]:
    """Family first (largest summed probability), then the best grade inside it.

    Deciding the family on summed probabilities keeps it consistent with the grade and
    makes it at least as reliable as the grade. Returns (grade index, family probability).
    """
    member, _ = _membership(*_key(classes, families))  # (F, C)
    fam_p = probabilities @ member.T
    best_family = np.argmax(fam_p, axis=1)
    masked = np.where(member[best_family] > 0, probabilities, -1.0)
    return np.argmax(masked, axis=1), fam_p[np.arange(len(fam_p)), best_family]


def decide(probabilities: np.ndarray, quality: np.ndarray, classes: list[str], families: dict[str, str],
           thresholds: Thresholds, class_distance: np.ndarray | None = None) -> list[Decision]:
    """Grade, family and accept/unknown with the reason for each spectrum.

    Parameters
    ----------
    probabilities : ndarray, shape (n, C)
        Calibrated class probabilities [-].
    quality : ndarray, shape (n, 4)
        ``snr``, ``al_fraction``, ``max_counts``, ``ood_distance`` (see :data:`QUALITY_COLUMNS`).
    class_distance : ndarray, shape (n, C), optional
        Mahalanobis distance to each class; when given, the out-of-distribution check uses the
        distance to the chosen grade instead of to the nearest class.
    """
    if len(probabilities) == 1:
        return [_decide_one(probabilities[0].tolist(), quality[0].tolist(), classes, families, thresholds,
                            None if class_distance is None else class_distance[0].tolist())]
    grade_idx, _ = pick_grades(probabilities, classes, families)
    top = probabilities[np.arange(len(grade_idx)), grade_idx]
    non_al_class = _membership(*_key(classes, families))[1]
    nearer_contaminant = None
    if class_distance is not None:
        quality = quality.copy()
        quality[:, 3] = class_distance[np.arange(len(grade_idx)), grade_idx]
        if non_al_class.any():
            # argmin over the contaminant columns only: masking the others with inf picked an
            # aluminium class when every contaminant distance was itself inf
            contaminants = np.flatnonzero(non_al_class)
            nearest_non_al = contaminants[class_distance[:, contaminants].argmin(axis=1)]
            nearer = (class_distance[np.arange(len(grade_idx)), nearest_non_al]
                      < thresholds.contaminant_distance_ratio * quality[:, 3])
            nearer_contaminant = np.where(nearer, nearest_non_al, -1)
    bars = None
    if thresholds.pair_min_top_probability:
        second = runner_up(probabilities, grade_idx).tolist()
        bars = np.array([accept_bar(thresholds, classes[g], classes[s]) for g, s in zip(grade_idx.tolist(), second,
                                                                                        strict=True)])
    reasons = reject_reasons(top, quality, non_al_class[grade_idx] == 0.0, thresholds, probabilities @ non_al_class,
                             nearer_contaminant, classes, min_top_probability=bars)
    out = []
    for i, g in enumerate(grade_idx.tolist()):
        grade = classes[g]
        reason = reasons[i]
        out.append(Decision(grade, families[grade], float(top[i]), UNKNOWN if reason else ACCEPT,
                            reason or f"p={top[i]:.3f}"))
    return out


def _message(check: int, t: Thresholds, top: float, snr: float, al_frac: float, non_al: float, near: str,
             ood: float, bar: float | None = None) -> str:
    """The reason for failing check ``check`` (0-7, the order of the module docstring), for one spectrum."""
    if check == 0:
        return f"empty shot: strongest line {snr:.1f} sigma (< {t.min_snr_empty:g})"
    if check == 1:
        return f"saturation: Al reference line clipped at the ADC maximum ({t.saturation_counts:g} counts)"
    if check == 2:
        return f"too noisy: strongest line signal-to-noise {snr:.1f} (< {t.min_snr:.1f})"
    if check == 3:
        return f"weak Al signal: Al lines {al_frac:.4f} of the emission (< {t.min_al_fraction:.4f})"
    if check == 4:
        return f"possible contaminant: non-aluminium classes hold p={non_al:.3f} (> {t.max_non_al_probability:.3f})"
    if check == 5:
        return f"possible contaminant: features lie about as near the {near} class as the chosen grade"
    if check == 6:
        return f"out of distribution: feature distance {ood:.2f} (> {t.max_ood_distance:.2f})"
    bar = t.min_top_probability if bar is None else bar
    digits = 3   # as many as it takes to show the top below the bar (a bar of 0.9998 is not "1.000")
    while digits < 6 and f"{top:.{digits}f}" == f"{bar:.{digits}f}":
        digits += 1
    return f"low top probability {top:.{digits}f} (< {bar:.{digits}f})"


def _decide_one(p: list[float], quality: list[float], classes: list[str], families: dict[str, str],
                t: Thresholds, distance: list[float] | None) -> Decision:
    """:func:`decide` for one spectrum in plain Python: a sorting line classifies one piece at a time,
    and two dozen numpy calls on arrays of one row cost more than the decision (p99 latency).
    ``tests/sorter/serving/test_reject.py`` checks it against the batch path."""
    member, non_al_class = _membership(*_key(classes, families))
    fam_p = (np.asarray(p) @ member.T).tolist()                    # the batch path's sums, bit for bit
    best = max(range(len(fam_p)), key=fam_p.__getitem__)          # first of equal maxima, as argmax
    in_family = member[best].tolist()
    g = max((j for j in range(len(p)) if in_family[j]), key=p.__getitem__)
    top = p[g]
    is_al = not non_al_class[g]
    snr, al_frac, max_counts, ood = quality
    near = -1
    if distance is not None:
        ood = distance[g]
        non_al_idx = [j for j, n in enumerate(non_al_class.tolist()) if n]
        if non_al_idx:
            nearest = min(non_al_idx, key=distance.__getitem__)
            near = nearest if distance[nearest] < t.contaminant_distance_ratio * ood else -1
    non_al = float(np.dot(p, non_al_class))
    bar = t.min_top_probability
    if t.pair_min_top_probability and len(p) > 1:
        second = max((j for j in range(len(p)) if j != g), key=p.__getitem__)
        bar = accept_bar(t, classes[g], classes[second])
    failed = [snr < t.min_snr_empty, bool(t.saturation_counts) and max_counts >= t.saturation_counts,
              snr < t.min_snr, is_al and al_frac < t.min_al_fraction, is_al and non_al > t.max_non_al_probability,
              is_al and near >= 0, not ood <= t.max_ood_distance, top < bar]
    reason = ""
    if any(failed):
        reason = _message(failed.index(True), t, top, snr, al_frac, non_al, classes[near] if near >= 0 else "", ood,
                          bar)
    grade = classes[g]
    return Decision(grade, families[grade], float(top), UNKNOWN if reason else ACCEPT, reason or f"p={top:.3f}")


def reject_reasons(top_probability: np.ndarray, quality: np.ndarray, is_aluminium: list[bool] | np.ndarray,
                   t: Thresholds, non_al_probability: np.ndarray | None = None,
                   nearer_contaminant: np.ndarray | None = None, classes: list[str] | None = None, *,
                   min_top_probability: np.ndarray | None = None) -> list[str]:
    """The reason to reject each spectrum, or "" to accept it (vectorised checks, first reason wins).

    ``min_top_probability`` (n,): each spectrum's bar for its top probability (its grade pair's,
    :func:`accept_bar`); default ``t.min_top_probability`` for all.
    """
    bars = np.full(len(top_probability), t.min_top_probability) if min_top_probability is None \
        else np.asarray(min_top_probability, dtype=np.float64)
    snr, al_frac, max_counts, ood = (quality[:, i] for i in range(4))
    is_aluminium = np.asarray(is_aluminium, dtype=bool)
    non_al = np.zeros(len(snr)) if non_al_probability is None else np.asarray(non_al_probability)
    near = np.full(len(snr), -1) if nearer_contaminant is None else np.asarray(nearer_contaminant)
    masks = np.stack([
        snr < t.min_snr_empty,
        (max_counts >= t.saturation_counts) if t.saturation_counts else np.zeros(len(snr), bool),
        snr < t.min_snr,
        is_aluminium & (al_frac < t.min_al_fraction),
        is_aluminium & (non_al > t.max_non_al_probability),
        is_aluminium & (near >= 0),
        ~(ood <= t.max_ood_distance),
        top_probability < bars,
    ])
    # one pass over the stacked checks: the first that applies is the reason (a per-check loop of
    # flatnonzero calls cost a sorting line's single spectrum more than the checks themselves)
    first = masks.argmax(axis=0)
    out = [""] * len(snr)
    for i in np.flatnonzero(masks.any(axis=0)).tolist():
        out[i] = _message(int(first[i]), t, top_probability[i], snr[i], al_frac[i], non_al[i],
                          classes[near[i]] if near[i] >= 0 else "", ood[i], float(bars[i]))
    return out


def tune_thresholds(probabilities: np.ndarray, quality: np.ndarray, labels: np.ndarray, classes: list[str],
                    families: dict[str, str], *, saturation_counts: float | None = None,
                    target_unknown: float = 0.01, class_distance: np.ndarray | None = None) -> Thresholds:
    """Thresholds from validation spectra the model did not train on.

    Each data-driven limit sits well outside the validation distribution (a margin below the
    0.1% quantile or above the 99.9% quantile) so that, together, in-distribution pieces are
    rejected at no more than about ``target_unknown``; the probability threshold takes what is
    left of that budget, capped at 0.5 (a top grade below 0.5 is a coin toss).
    """
    labels = np.asarray(labels)
    snr, al_frac, _, ood = (quality[:, i] for i in range(4))
    is_al = np.array([families[c] != "non-Al" for c in labels])
    t = Thresholds(saturation_counts=saturation_counts)
    t.min_snr_empty = 8.0
    t.min_snr = float(max(t.min_snr_empty * 1.5, 0.3 * np.quantile(snr, 0.001)))
    if is_al.any():
        al = al_frac[is_al]
        t.min_al_fraction = float(0.4 * np.quantile(al, 0.001))
    if class_distance is not None:  # distance to the grade the model picks, as decide() uses it
        picked, _ = pick_grades(probabilities, classes, families)
        ood = class_distance[np.arange(len(picked)), picked]
    t.max_ood_distance = float(1.5 * np.quantile(ood, 0.999))
    non_al = probabilities @ np.array([families[c] == "non-Al" for c in classes], dtype=float)
    if is_al.any():
        # as strict as the aluminium pieces allow: at most 0.3% of them lose their bin to this check
        t.max_non_al_probability = float(min(0.05, max(1e-3, np.quantile(non_al[is_al], 0.997))))
    grade_idx, _ = pick_grades(probabilities, classes, families)
    top = probabilities[np.arange(len(grade_idx)), grade_idx]
    t.min_top_probability = float(min(0.5, max(0.2, np.quantile(top, target_unknown / 2))))
    return t
