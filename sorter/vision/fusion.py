"""One decision per piece from what the laser read and what the camera saw.

The two classifiers see independent evidence (a plasma's lines, a surface's look), so their
posteriors combine as a calibrated product (naive-Bayes fusion of two posteriors, e.g. Kittler et
al. 1998, "On combining classifiers"):

    p(g | libs, camera)  ~  p_libs(g) * sum_v p_cam(v) P(v | g) / P(v)

with ``P(v | g)`` the chance that a piece of grade ``g`` looks like visual class ``v``
(``visual_given_grade.csv``, estimates with their reasons) and ``P(v) = mean_g P(v | g)`` (both
models were trained on balanced classes). Then two explicit rules, in this order:

1. **A non-metal never goes to an aluminium bin.** LIBS has no non-metal class (a shot on plastic
   or wood gives a weak, odd spectrum that the reject option usually catches, but not always). If
   the camera's non-metal probability reaches ``non_metal_reject`` the piece is rejected as a
   non-metal; above ``non_metal_doubt`` it may not go to an aluminium grade (recirculated).
2. **A painted can whose first shots read the coating leans on can grades.** The first shots on a
   lacquered or printed can ablate the coat (TiO2, CaCO3, binder) and the LIBS grade probabilities
   are then about the paint, not the alloy. When the camera says painted can and the LIBS side
   says its shots read coating, the LIBS posterior is tempered (raised to ``coating_temper``) and
   the grades are restricted to the can grades of the table (3104 bodies, 5182 ends).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from blending.errors import InputError
from sorter.vision.synthesis import VISUAL_CLASSES

NON_METAL = "non_metal"
PAINTED = "painted_can"


@lru_cache(maxsize=1)
def visual_given_grade() -> tuple[dict[str, np.ndarray], frozenset[str]]:
    """grade -> P(visual class | grade) over :data:`VISUAL_CLASSES` (rows normalised), and the can grades."""
    text = resources.files("sorter.vision").joinpath("visual_given_grade.csv").read_text(encoding="utf-8")
    table, cans = {}, set()
    for row in csv.DictReader(text.splitlines()):
        p = np.array([float(row[v]) for v in VISUAL_CLASSES])
        table[row["grade"]] = p / p.sum()
        if row["can_grade"] == "1":
            cans.add(row["grade"])
    return table, frozenset(cans)


@dataclass(frozen=True)
class FusionRules:
    """Thresholds of the rules (probabilities [-]) and the coating temper (exponent [-])."""

    non_metal_reject: float = 0.5
    non_metal_doubt: float = 0.2
    painted: float = 0.5
    coating_temper: float = 0.3


@dataclass(frozen=True)
class FusedDecision:
    """destination: ``"grade"`` (to ``grade``'s bin), ``"non_metal"`` (reject) or ``"recirculate"``."""

    destination: str
    grade: str | None
    probability: float
    probabilities: dict[str, float]
    rule: str


def fuse(libs_probabilities: Mapping[str, float], camera_probabilities: Mapping[str, float], *,
         reads_coating: bool = False, aluminium: frozenset[str] | None = None,
         rules: FusionRules | None = None) -> FusedDecision:
    """One decision for one piece.

    Parameters
    ----------
    libs_probabilities : mapping of grade to float
        The LIBS model's grade posterior [-] (its card's classes).
    camera_probabilities : mapping of visual class to float
        The camera model's posterior [-].
    reads_coating : bool
        The piece's first shots read a coating (the LIBS side's surface check).
    aluminium : set of str, optional
        Grades that are aluminium bins; default: every grade of the table except the contaminants.
    rules : FusionRules, optional
    """
    rules = rules or FusionRules()
    table, cans = visual_given_grade()
    grades = list(libs_probabilities)
    unknown = [g for g in grades if g not in table]
    if unknown:
        raise InputError(f"libs_probabilities: no visual likelihoods for {', '.join(unknown)} "
                         f"(sorter/vision/visual_given_grade.csv)", field="libs_probabilities")
    cam = np.array([float(camera_probabilities.get(v, 0.0)) for v in VISUAL_CLASSES])
    if not np.isfinite(cam).all() or cam.sum() <= 0:
        raise InputError("camera_probabilities: need finite, non-negative probabilities", field="camera_probabilities")
    cam = cam / cam.sum()
    al = aluminium if aluminium is not None else frozenset(
        g for g in table if g not in ("copper", "brass", "steel", "stainless", "lead", "zinc_diecast"))
    # a hair of tolerance: renormalising 0.2 can give 0.19999999999999998, and the rule must still hold
    p_non_metal = cam[VISUAL_CLASSES.index(NON_METAL)] + 1e-9
    if p_non_metal >= rules.non_metal_reject:
        return FusedDecision(NON_METAL, None, min(float(p_non_metal), 1.0), {}, "camera: non-metal")
    lik = np.stack([table[g] for g in grades])                 # (G, V)
    prior_v = np.stack(list(table.values())).mean(0)
    libs = np.array([max(float(libs_probabilities[g]), 0.0) for g in grades])
    rule = "calibrated product"
    if reads_coating and cam[VISUAL_CLASSES.index(PAINTED)] >= rules.painted:
        libs = np.power(libs + 1e-12, rules.coating_temper) * np.array([g in cans for g in grades], float)
        rule = "painted can, coating read: can grades"
    post = libs * (lik @ (cam / prior_v))
    if post.sum() <= 0:
        post = libs + 1e-12
    post = post / post.sum()
    k = int(np.argmax(post))
    probs = {g: float(p) for g, p in zip(grades, post, strict=True)}
    if grades[k] in al and p_non_metal >= rules.non_metal_doubt:
        return FusedDecision("recirculate", None, float(post[k]), probs, "camera: possibly non-metal")
    return FusedDecision("grade", grades[k], float(post[k]), probs, rule)
