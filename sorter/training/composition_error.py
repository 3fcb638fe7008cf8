"""A model's composition error split into a random part and a shared (bias) part, per grade and element.

A lot's mean chemistry averages the per-piece estimates, so the random error of each piece
shrinks with the piece count and the model's bias does not (:mod:`blending.lot_chemistry`). The
bias is not one number either: it moves with the plasma conditions of the sorting line (plasma
temperature, gate timing, detector noise), which hold for a shift and then drift. So the error
is measured on simulated 16-shot pieces in **condition cells**: the training ranges cut into
thirds of the plasma temperature range, times the training gate spreads, times the training noise
levels (:data:`CONDITIONS`, 27 cells). For pieces the model reads as grade ``g`` and element ``e``,
with residual ``r = estimate - truth``:

- ``bias``: the mean of the cell means of ``r`` [wt%], subtracted from every estimate of a lot;
- ``random_sd``: the pooled within-cell sd of ``r`` [wt%], independent from piece to piece;
- ``shared_sd``: the spread of the cell means around ``bias``, ``sqrt(var_c(b_c) (1 + 1/C))`` over
  ``C`` cells: the conditions' spread, the standard error of ``bias`` itself, and (not subtracted,
  so an upper figure) the cell means' own sampling noise [wt%]: what remains uncertain about the
  bias of a lot sorted under conditions that are not known beyond "inside the training ranges".
  Subtracting the sampling noise (the unbiased variance-component estimate) gave figures near 0
  for 3104 Mn with 16 pieces per cell, while shifts of one condition each showed a spread of about
  0.006 wt%: too few pieces per cell to tell the two apart, so the safe side is taken.

``unknown`` gives, per element, the mean and sd of the true composition over every aluminium grade
the model knows: the prior for a piece the sorter could not read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from sorter.shots import SHOTS_PER_PIECE, ShotPlan
from sorter.simulate import PlasmaRanges, simulate_batch
from sorter.training.data import (
    TRAIN_GATE_SPREADS,
    TRAIN_N_E_PER_CM3,
    TRAIN_NOISE_SCALES,
    TRAIN_OFFSET_NM,
    TRAIN_T_E_K,
    TRAIN_T_SAMPLING,
)

__all__ = ["CONDITIONS", "Condition", "composition_error", "simulate_condition", "unknown_prior"]


@dataclass(frozen=True)
class Condition:
    """Sorting-line conditions held for a while (a shift): a plasma temperature range [K], the
    gate spread [-] and the detector noise scale [-]."""

    T_e_K: tuple[float, float]
    gate_spread: float
    noise_scale: float

    @property
    def name(self) -> str:
        return f"T {self.T_e_K[0]:.0f}-{self.T_e_K[1]:.0f} K, gate {self.gate_spread:g}, noise {self.noise_scale:g}"

    def plasma(self) -> PlasmaRanges:
        base = PlasmaRanges(T_e_K=TRAIN_T_E_K, n_e_per_cm3=TRAIN_N_E_PER_CM3, T_sampling=TRAIN_T_SAMPLING)
        return replace(base, T_e_K=self.T_e_K, gate_spread=self.gate_spread)


def _thirds(lo: float, hi: float) -> list[tuple[float, float]]:
    edges = np.linspace(lo, hi, 4)
    return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


CONDITIONS: tuple[Condition, ...] = tuple(Condition(t, g, s) for t in _thirds(*TRAIN_T_E_K)
                                          for g in TRAIN_GATE_SPREADS for s in TRAIN_NOISE_SCALES)


def simulate_condition(instrument: str, grades: Sequence[str], n_per_grade: int, seed: int, condition: Condition,
                       *, shots_per_piece: int = SHOTS_PER_PIECE, progress=None):
    """Simulated piece spectra (the mean of ``shots_per_piece`` shots each) under one condition,
    as training simulates them otherwise (wavelength offset drawn per piece in the training range).

    Returns the :class:`~sorter.batch.SpectrumBatch` of :func:`sorter.simulate.simulate_batch`.
    """
    return simulate_batch(list(grades), n_per_grade, instrument, seed, plasma=condition.plasma(),
                          noise_scale=condition.noise_scale, wavelength_offset_nm=TRAIN_OFFSET_NM,
                          shot_plan=ShotPlan(n_shots=shots_per_piece), progress=progress)


def composition_error(predicted: Sequence[str], cells: Sequence[int], true_wt_pct: np.ndarray,
                      estimate_wt_pct: np.ndarray, elements: Sequence[str], *,
                      min_pieces_per_cell: int = 2) -> dict[str, dict[str, dict[str, float]]]:
    """Bias, random sd and shared sd per predicted grade and element (see the module notes).

    Parameters
    ----------
    predicted : sequence of str
        Grade the model read for each piece ("" or None: unknown, left out).
    cells : sequence of int
        Condition cell of each piece.
    true_wt_pct, estimate_wt_pct : ndarray, shape (n, k)
        True and estimated composition [wt%]; NaN estimates are left out.
    elements : sequence of str
        The k column symbols.
    min_pieces_per_cell : int
        Cells with fewer pieces of a grade do not count for that grade.

    Returns
    -------
    dict
        ``{grade: {element: {"bias", "random_sd", "shared_sd", "n_pieces", "n_cells"}}}`` [wt%].
    """
    predicted = np.asarray([p or "" for p in predicted], dtype=str)
    cells = np.asarray(cells)
    residual = np.asarray(estimate_wt_pct, dtype=np.float64) - np.asarray(true_wt_pct, dtype=np.float64)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for grade in sorted(set(predicted) - {""}):
        rows = predicted == grade
        table = {}
        for k, element in enumerate(elements):
            means, variances, counts = [], [], []
            for cell in np.unique(cells[rows]):
                r = residual[rows & (cells == cell), k]
                r = r[np.isfinite(r)]
                if r.size >= min_pieces_per_cell:
                    means.append(r.mean())
                    variances.append(r.var(ddof=1))
                    counts.append(r.size)
            if len(means) < 2:
                continue
            means, variances, counts = map(np.asarray, (means, variances, counts))
            within = float(np.sum((counts - 1) * variances) / np.sum(counts - 1))
            between = float(means.var(ddof=1))
            # the spread of the cell means is not reduced by their sampling noise: with tens of pieces per
            # cell that noise is as large as the conditions' own spread, and subtracting it leaves a
            # figure near 0 that a real shift then exceeds (bench/lot_uncertainty.py showed it); this
            # upper figure, plus the standard error of the bias itself, is the shared sd
            table[element] = {"bias": round(float(means.mean()), 6),
                              "random_sd": round(float(np.sqrt(within)), 6),
                              "shared_sd": round(float(np.sqrt(between * (1 + 1 / means.size))), 6),
                              "n_pieces": int(counts.sum()), "n_cells": int(means.size)}
        if table:
            out[str(grade)] = table
    return out


def unknown_prior(true_wt_pct: np.ndarray, elements: Sequence[str]) -> dict[str, dict[str, float]]:
    """Mean and sd of each element's true content [wt%] over the pieces given (every aluminium grade):
    what an unknown piece may hold."""
    true = np.asarray(true_wt_pct, dtype=np.float64)
    return {e: {"mean": round(float(np.nanmean(true[:, k])), 6), "sd": round(float(np.nanstd(true[:, k])), 6)}
            for k, e in enumerate(elements)}
